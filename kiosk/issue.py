"""The district side of protocol v1: build, seal and sign what a kiosk verifies.

Pure functions shared by the reference district server and the test simulator, so that the
producer and the consumer (``kiosk.verify``) are written against the same wire module.
Randomness enters only through HPKE's ephemeral keys (inside ``cryptography``) and the
caller-supplied ids and claim codes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from kiosk.claim import DEFAULT as DEFAULT_CLAIM_PARAMS
from kiosk.claim import ClaimParams, make_verifier
from kiosk.doctypes import is_printable_at_village
from kiosk.errors import Reason, WireError
from kiosk.jose import sign_compact
from kiosk.keys import thumbprint
from kiosk.limits import (
    MAX_COPIES,
    MAX_DOCUMENTS_PER_JOB,
    MAX_JOB_LIFETIME_S,
    TYP_HEAD,
    TYP_KEYRING,
    TYP_MANIFEST,
)
from kiosk.model import (
    DisplayData,
    DocumentRef,
    DocumentTitle,
    FeedHead,
    JobManifest,
    Keyring,
    PrintTicket,
    ReleaseMode,
    Sides,
)
from kiosk.seal import display_info, document_info, seal
from kiosk.wire import (
    MAX_DISPLAY_PLAIN_BYTES,
    display_plaintext,
    head_claims,
    keyring_claims,
    manifest_claims,
)


@dataclass(frozen=True, slots=True)
class Signer:
    """A job-signing key and its ``kid`` in the keyring."""

    kid: str
    key: Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class Recipient:
    """The device a job is sealed to."""

    device_id: str
    seal_key: X25519PublicKey


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    """One document to send: its signed PDF exactly as Disdukcapil produced it."""

    doc_id: str
    doc_type: str
    pdf: bytes
    title: str
    copies: int = 1


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a district decides about one job (a bundle of documents)."""

    job_id: str
    seq: int
    office_code: str
    release: ReleaseMode
    resident_name: str  # plaintext; only its masked form leaves the district, sealed
    documents: tuple[DocumentSpec, ...]
    issued_at_s: int
    lifetime_s: int
    claim_code: str | None = None  # required exactly for ReleaseMode.CLAIM
    claim_params: ClaimParams = DEFAULT_CLAIM_PARAMS
    sides: Sides = Sides.ONE_SIDED


@dataclass(frozen=True, slots=True)
class IssuedJob:
    """A signed manifest and the sealed blobs the feed serves for it."""

    manifest: JobManifest
    token: bytes
    blobs: Mapping[str, bytes] = field(default_factory=dict)


def mask_name(name: str) -> str:
    """Mask a resident's name for display: the first letter of each word, then stars.

    "SITI NURHALIZA" -> "S*** N********". Enough for staff to match a face to a bundle,
    not enough to identify a person from a screen or a log.
    """
    words = name.split()
    if not words:
        raise ValueError("empty name")
    return " ".join(word[0] + "*" * (len(word) - 1) for word in words)[:80]


def issue_job(
    spec: JobSpec, *, district_code: str, recipient: Recipient, signer: Signer
) -> IssuedJob:
    """Seal every document and the display data to ``recipient`` and sign the manifest.

    Raises:
        WireError: NOT_PRINTABLE_AT_VILLAGE for a card type; BAD_CLAIM for a bundle that
            breaks a v1 limit or a claim code that does not match the release mode.
    """
    _check_spec(spec)
    blobs: dict[str, bytes] = {}
    refs = []
    for doc in spec.documents:
        sealed = seal(
            doc.pdf,
            recipient.seal_key,
            info=document_info(recipient.device_id, spec.job_id, doc.doc_id),
        )
        blobs[doc.doc_id] = sealed
        refs.append(
            DocumentRef(
                doc_id=doc.doc_id,
                doc_type=doc.doc_type,
                copies=doc.copies,
                sealed_size=len(sealed),
                sealed_sha256=hashlib.sha256(sealed).digest(),
            )
        )
    claim = None
    if spec.claim_code is not None:
        claim = make_verifier(
            spec.claim_code, device_id=recipient.device_id, params=spec.claim_params
        )
    display = DisplayData(
        resident_masked=mask_name(spec.resident_name),
        titles=tuple(DocumentTitle(doc.doc_id, doc.title) for doc in spec.documents),
        claim=claim,
    )
    plaintext = display_plaintext(display)
    if len(plaintext) > MAX_DISPLAY_PLAIN_BYTES:
        raise WireError(Reason.BAD_CLAIM, "display data above the cap: shorten the titles")
    manifest = JobManifest(
        job_id=spec.job_id,
        device_id=recipient.device_id,
        issuer=district_code,
        office_code=spec.office_code,
        seq=spec.seq,
        issued_at_s=spec.issued_at_s,
        expires_at_s=spec.issued_at_s + spec.lifetime_s,
        release=spec.release,
        ticket=PrintTicket(sides=spec.sides),
        documents=tuple(refs),
        seal_kid=thumbprint(recipient.seal_key),
        display_sealed=seal(
            plaintext,
            recipient.seal_key,
            info=display_info(recipient.device_id, spec.job_id),
        ),
    )
    return IssuedJob(manifest=manifest, token=sign_manifest(manifest, signer), blobs=blobs)


def _check_spec(spec: JobSpec) -> None:
    if not 1 <= len(spec.documents) <= MAX_DOCUMENTS_PER_JOB:
        raise WireError(Reason.BAD_CLAIM, f"1..{MAX_DOCUMENTS_PER_JOB} documents per job")
    for doc in spec.documents:
        if not is_printable_at_village(doc.doc_type):
            raise WireError(Reason.NOT_PRINTABLE_AT_VILLAGE, doc.doc_type)
        if not 1 <= doc.copies <= MAX_COPIES:
            raise WireError(Reason.BAD_CLAIM, f"copies must be 1..{MAX_COPIES}")
    if not 0 < spec.lifetime_s <= MAX_JOB_LIFETIME_S:
        raise WireError(Reason.LIFETIME_TOO_LONG, "job lifetime outside the cap")
    if (spec.claim_code is not None) != (spec.release is ReleaseMode.CLAIM):
        raise WireError(Reason.BAD_CLAIM, "a claim code exactly for release=claim")


def sign_manifest(manifest: JobManifest, signer: Signer) -> bytes:
    """Sign a manifest as ``cedoka-job+jwt``."""
    return sign_compact(manifest_claims(manifest), typ=TYP_MANIFEST, kid=signer.kid, key=signer.key)


def sign_head(head: FeedHead, signer: Signer) -> bytes:
    """Sign a feed head as ``cedoka-head+jwt``."""
    return sign_compact(head_claims(head), typ=TYP_HEAD, kid=signer.kid, key=signer.key)


def sign_keyring(keyring: Keyring, root: Ed25519PrivateKey) -> bytes:
    """Sign a keyring with the district root key (``kid`` = the root's thumbprint)."""
    return sign_compact(
        keyring_claims(keyring), typ=TYP_KEYRING, kid=thumbprint(root.public_key()), key=root
    )
