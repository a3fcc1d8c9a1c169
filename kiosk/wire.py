"""Protocol v1 messages <-> model values (docs/protocol.md has the field tables).

``parse_*`` take the claims of an already signature-checked token (or opened plaintext)
and return model values, raising :class:`~kiosk.errors.WireError` (``BAD_CLAIM``,
``UNSUPPORTED_VERSION`` …) for anything off. ``*_claims`` build the exact claims a
district signs; ``parse_*(… *_claims(x) …) == x`` for every valid value. Semantic checks
that need trusted state (audience, time, replay) live in ``kiosk.verify``.
"""

from __future__ import annotations

import re

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_encode
from kiosk.claim import ClaimParams, ClaimVerifier, validate_params
from kiosk.doctypes import DOCUMENT_TYPES_CARD, DOCUMENT_TYPES_PRINTABLE
from kiosk.errors import Reason, WireError
from kiosk.fields import Fields
from kiosk.ids import DISTRICT_CODE, KID, OFFICE_CODE, check_id
from kiosk.keys import parse_ed25519_jwk, public_jwk
from kiosk.limits import (
    MAX_CANCELLED_IN_HEAD,
    MAX_COPIES,
    MAX_DISPLAY_SEALED_BYTES,
    MAX_DOCUMENT_SEALED_BYTES,
    MAX_DOCUMENTS_PER_JOB,
    MAX_KEYS_IN_KEYRING,
)
from kiosk.model import (
    MEDIA_A4,
    SCALING_NONE,
    DisplayData,
    DocumentRef,
    DocumentTitle,
    FeedHead,
    JobManifest,
    KeyEntry,
    Keyring,
    PrintTicket,
    ReleaseMode,
    Sides,
)
from kiosk.strictjson import canonical_dumps, loads_object

_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
_DOC_TYPE = re.compile(r"[A-Z][A-Z_]{1,19}")
MAX_DISPLAY_PLAIN_BYTES = 3 * 1024
MAX_TITLE_CHARS = 120
MAX_MASKED_NAME_CHARS = 80


# --- job manifest -----------------------------------------------------------------------


def parse_manifest(claims: dict[str, object]) -> JobManifest:
    """Parse job manifest claims (typ ``cedoka-job+jwt``).

    Raises:
        WireError: UNSUPPORTED_VERSION, BAD_CLAIM, or NOT_PRINTABLE_AT_VILLAGE for a card.
    """
    f = Fields(claims, "manifest")
    f.version()
    job_id = check_id(f.text("jti", max_len=30), "job")
    docs = tuple(
        _parse_document(item)
        for item in f.array("docs", min_items=1, max_items=MAX_DOCUMENTS_PER_JOB)
    )
    if len({doc.doc_id for doc in docs}) != len(docs):
        raise WireError(Reason.BAD_CLAIM, "manifest.docs: duplicate document id")
    ticket = f.nested("ticket")
    issued_at_s = f.integer("iat")
    expires_at_s = f.integer("exp")
    if expires_at_s <= issued_at_s:
        raise WireError(Reason.BAD_CLAIM, "manifest.exp: not after iat")
    return JobManifest(
        job_id=job_id,
        device_id=check_id(f.text("aud", max_len=30), "dev"),
        issuer=f.text("iss", pattern=DISTRICT_CODE, max_len=5),
        office_code=f.text("office", pattern=OFFICE_CODE, max_len=13),
        seq=f.integer("seq", low=1),
        issued_at_s=issued_at_s,
        expires_at_s=expires_at_s,
        release=ReleaseMode(f.choice("release", frozenset(ReleaseMode))),
        ticket=PrintTicket(
            sides=Sides(ticket.choice("sides", frozenset(Sides))),
            media=ticket.choice("media", frozenset({MEDIA_A4})),
            scaling=ticket.choice("scaling", frozenset({SCALING_NONE})),
        ),
        documents=docs,
        seal_kid=f.text("seal_kid", pattern=_THUMBPRINT, max_len=43),
        display_sealed=f.binary("display", max_len=MAX_DISPLAY_SEALED_BYTES),
    )


def _parse_document(item: object) -> DocumentRef:
    f = Fields(item, "manifest.docs[]")
    doc_type = f.text("type", pattern=_DOC_TYPE, max_len=20)
    if doc_type in DOCUMENT_TYPES_CARD:
        raise WireError(Reason.NOT_PRINTABLE_AT_VILLAGE, f"{doc_type} is a card")
    if doc_type not in DOCUMENT_TYPES_PRINTABLE:
        raise WireError(Reason.BAD_CLAIM, "manifest.docs[].type: unknown document type")
    return DocumentRef(
        doc_id=check_id(f.text("id", max_len=30), "doc"),
        doc_type=doc_type,
        copies=f.integer("copies", low=1, high=MAX_COPIES),
        sealed_size=f.integer("size", low=1, high=MAX_DOCUMENT_SEALED_BYTES),
        sealed_sha256=f.binary("sha256", exact=32),
    )


def manifest_claims(manifest: JobManifest) -> dict[str, object]:
    """The claims a district signs for ``manifest``."""
    return {
        "v": PROTOCOL_VERSION,
        "iss": manifest.issuer,
        "aud": manifest.device_id,
        "jti": manifest.job_id,
        "seq": manifest.seq,
        "iat": manifest.issued_at_s,
        "exp": manifest.expires_at_s,
        "office": manifest.office_code,
        "release": manifest.release.value,
        "ticket": {
            "sides": manifest.ticket.sides.value,
            "media": manifest.ticket.media,
            "scaling": manifest.ticket.scaling,
        },
        "docs": [
            {
                "id": doc.doc_id,
                "type": doc.doc_type,
                "copies": doc.copies,
                "size": doc.sealed_size,
                "sha256": b64u_encode(doc.sealed_sha256),
            }
            for doc in manifest.documents
        ],
        "seal_kid": manifest.seal_kid,
        "display": b64u_encode(manifest.display_sealed),
    }


# --- display data (sealed) --------------------------------------------------------------


def parse_display(plaintext: bytes) -> DisplayData:
    """Parse opened display data.

    Raises:
        WireError: not strict JSON, UNSUPPORTED_VERSION, BAD_CLAIM.
    """
    f = Fields(loads_object(plaintext, max_bytes=MAX_DISPLAY_PLAIN_BYTES), "display")
    f.version()
    titles = []
    for item in f.array("docs", min_items=1, max_items=MAX_DOCUMENTS_PER_JOB):
        t = Fields(item, "display.docs[]")
        titles.append(
            DocumentTitle(
                doc_id=check_id(t.text("id", max_len=30), "doc"),
                title=t.display_text("title", max_len=MAX_TITLE_CHARS),
            )
        )
    claim = None
    if f.has("claim"):
        c = f.nested("claim")
        c.constant("alg", "argon2id")
        params = ClaimParams(m_kib=c.integer("m_kib"), t=c.integer("t"), p=c.integer("p"))
        validate_params(params)
        claim = ClaimVerifier(params=params, digest=c.binary("hash", exact=32))
    return DisplayData(
        resident_masked=f.display_text("resident", max_len=MAX_MASKED_NAME_CHARS),
        titles=tuple(titles),
        claim=claim,
    )


def display_plaintext(display: DisplayData) -> bytes:
    """The canonical JSON that a district seals as a job's display data."""
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "resident": display.resident_masked,
        "docs": [{"id": t.doc_id, "title": t.title} for t in display.titles],
    }
    if display.claim is not None:
        body["claim"] = {
            "alg": "argon2id",
            "m_kib": display.claim.params.m_kib,
            "t": display.claim.params.t,
            "p": display.claim.params.p,
            "hash": b64u_encode(display.claim.digest),
        }
    return canonical_dumps(body)


# --- feed head --------------------------------------------------------------------------


def parse_head(claims: dict[str, object]) -> FeedHead:
    """Parse feed head claims (typ ``cedoka-head+jwt``).

    Raises:
        WireError: UNSUPPORTED_VERSION, BAD_CLAIM.
    """
    f = Fields(claims, "head")
    f.version()
    cancelled = f.array("cancelled", max_items=MAX_CANCELLED_IN_HEAD)
    issued_at_s = f.integer("iat")
    expires_at_s = f.integer("exp")
    if expires_at_s <= issued_at_s:
        raise WireError(Reason.BAD_CLAIM, "head.exp: not after iat")
    return FeedHead(
        device_id=check_id(f.text("aud", max_len=30), "dev"),
        issuer=f.text("iss", pattern=DISTRICT_CODE, max_len=5),
        seq=f.integer("seq"),
        issued_at_s=issued_at_s,
        expires_at_s=expires_at_s,
        cancelled=frozenset(_cancelled_id(item) for item in cancelled),
        keyring_version=f.integer("kr", low=1),
        seal_rotate_s=f.integer("seal_rotate") if f.has("seal_rotate") else None,
        operators_version=f.integer("ov", low=1) if f.has("ov") else 0,
    )


def _cancelled_id(item: object) -> str:
    if not isinstance(item, str):
        raise WireError(Reason.BAD_CLAIM, "head.cancelled[]: expected a job id")
    return check_id(item, "job")


def head_claims(head: FeedHead) -> dict[str, object]:
    """The claims a district signs for ``head`` (``ov`` only when known)."""
    claims: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "iss": head.issuer,
        "aud": head.device_id,
        "iat": head.issued_at_s,
        "exp": head.expires_at_s,
        "seq": head.seq,
        "cancelled": sorted(head.cancelled),
        "kr": head.keyring_version,
    }
    if head.seal_rotate_s is not None:
        claims["seal_rotate"] = head.seal_rotate_s
    if head.operators_version:
        claims["ov"] = head.operators_version
    return claims


# --- keyring ----------------------------------------------------------------------------


def parse_keyring(claims: dict[str, object]) -> Keyring:
    """Parse keyring claims (typ ``cedoka-keyring+jwt``, signed by the district root).

    Raises:
        WireError: UNSUPPORTED_VERSION, BAD_CLAIM.
    """
    f = Fields(claims, "keyring")
    f.version()
    entries = []
    for item in f.array("keys", min_items=1, max_items=MAX_KEYS_IN_KEYRING):
        k = Fields(item, "keyring.keys[]")
        not_before_s = k.integer("nbf")
        not_after_s = k.integer("exp")
        if not_after_s <= not_before_s:
            raise WireError(Reason.BAD_CLAIM, "keyring.keys[].exp: not after nbf")
        entries.append(
            KeyEntry(
                kid=k.text("kid", pattern=KID, max_len=64),
                public_key=parse_ed25519_jwk(k.raw("jwk")),
                not_before_s=not_before_s,
                not_after_s=not_after_s,
            )
        )
    if len({entry.kid for entry in entries}) != len(entries):
        raise WireError(Reason.BAD_CLAIM, "keyring.keys: duplicate kid")
    return Keyring(
        issuer=f.text("iss", pattern=DISTRICT_CODE, max_len=5),
        version=f.integer("ver", low=1),
        issued_at_s=f.integer("iat"),
        keys=tuple(entries),
    )


def keyring_claims(keyring: Keyring) -> dict[str, object]:
    """The claims the district root signs for ``keyring``."""
    return {
        "v": PROTOCOL_VERSION,
        "iss": keyring.issuer,
        "ver": keyring.version,
        "iat": keyring.issued_at_s,
        "keys": [
            {
                "kid": entry.kid,
                "jwk": public_jwk(entry.public_key),
                "nbf": entry.not_before_s,
                "exp": entry.not_after_s,
            }
            for entry in keyring.keys
        ],
    }
