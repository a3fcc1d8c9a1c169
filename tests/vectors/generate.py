"""Write ``tests/vectors/v1.json``: frozen test vectors for protocol v1's wire format.

Run once, commit the result, never regenerate casually::

    .venv/bin/python -m tests.vectors.generate            # refuses if v1.json exists
    .venv/bin/python -m tests.vectors.generate --force    # a deliberate protocol change

Everything is deterministic (fixed TEST-ONLY keys, fixed ids and times, Ed25519 is
deterministic, Argon2id is deterministic) EXCEPT the HPKE ciphertexts: base mode draws a
fresh ephemeral key per seal, so the sealed display data and document blobs - and with
them the manifests that sign their SHA-256 - differ on every run. That is why the file is
generated once and committed; ``tests/unit/test_vectors.py`` then checks the committed
bytes against the real verifier.

The expected outcome of every case is written here *by design* (from the inputs the case
was built from), never by running the verifier: the vectors pin the verifier, not the
other way round.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.claim import (
    ClaimParams,
    claim_salt,
    damm_check_digit,
    format_claim_code,
    make_verifier,
)
from kiosk.doctypes import DOCUMENT_NAMES
from kiosk.ids import new_id
from kiosk.issue import (
    DocumentSpec,
    IssuedJob,
    JobSpec,
    Recipient,
    Signer,
    issue_job,
    mask_name,
    sign_head,
    sign_keyring,
    sign_manifest,
)
from kiosk.jose import sign_compact
from kiosk.keys import fingerprint_code, public_jwk, thumbprint
from kiosk.limits import (
    JWS_ALG,
    MAX_MANIFEST_BYTES,
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
    KeyEntry,
    Keyring,
    PrintTicket,
    ReleaseMode,
    Sides,
)
from kiosk.seal import display_info, document_info, seal
from kiosk.strictjson import canonical_dumps
from kiosk.wire import display_plaintext, head_claims, keyring_claims, manifest_claims
from tests.sim.district import make_pdf

OUT = Path(__file__).with_name("v1.json")

# --- fixed inputs -------------------------------------------------------------------------

NOW_S = 1_790_000_000  # 2026-09-21T...Z, the same fixed "now" as tests/sim/district.py
DAY_S = 24 * 3600
DISTRICT_CODE = "74.08"
OFFICE_CODE = "74.08.01.2002"
JOB_KID = "job-2026a"
RETIRED_KID = "job-2025z"  # listed in the keyring, but its window ended before NOW_S
CHEAPEST_CLAIM = ClaimParams(m_kib=19456, t=1, p=1)  # the cheapest Argon2id v1 allows
RESIDENT = "SITI NURHALIZA"  # a fake name; only its masked form is in the vectors
LANDSCAPE = {"width_pt": 841.89, "height_pt": 595.28}
KEYRING_VERSION = 2
JOB_IAT_S = NOW_S - 3600
JOB_LIFETIME_S = 3 * DAY_S
HEAD_IAT_S = NOW_S - 120
HEAD_LIFETIME_S = 600


def seed(label: str) -> bytes:
    """The 32-byte TEST-ONLY secret for ``label`` (same rule as tests/sim/district.py)."""
    return hashlib.sha256(b"TEST-ONLY " + label.encode("ascii")).digest()


def ed25519(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed(label))


def x25519(label: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(seed(label))


def fixed_id(prefix: str, label: str, *, at_s: int) -> str:
    """A ULID-shaped id whose 80 "random" bits come from ``label`` (deterministic)."""
    digest = hashlib.sha256(b"TEST-ONLY id " + label.encode("ascii")).digest()
    return new_id(prefix, now_ms=at_s * 1000, random_bytes=lambda n: digest[:n])


ROOT = ed25519("root")
JOB_SIGNER = Signer(JOB_KID, ed25519(JOB_KID))
RETIRED_SIGNER = Signer(RETIRED_KID, ed25519(RETIRED_KID))
DEVICE_SEAL = x25519("device-seal")
DEVICE_AUTH = ed25519("device-auth")
ATTACKER = ed25519("attacker")
OTHER_DEVICE_SEAL = x25519("other-device-seal")

DEVICE_ID = fixed_id("dev", "device", at_s=NOW_S - 90 * DAY_S)
OTHER_DEVICE_ID = fixed_id("dev", "other-device", at_s=NOW_S - 90 * DAY_S)
CANCELLED_JOB_ID = fixed_id("job", "cancelled", at_s=JOB_IAT_S - 600)
RECIPIENT = Recipient(DEVICE_ID, DEVICE_SEAL.public_key())


def claim_code() -> str:
    data = "20260921740"
    return data + damm_check_digit(data)


def hexs(data: bytes) -> str:
    return data.hex()


def raw_pub(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# --- JWS helpers --------------------------------------------------------------------------


def split(token: bytes) -> tuple[dict[str, object], dict[str, object]]:
    header_b64, payload_b64, _ = token.decode("ascii").split(".")
    return json.loads(b64u_decode(header_b64)), json.loads(b64u_decode(payload_b64))


def forge(header: Mapping[str, object] | bytes, payload: bytes, key: Ed25519PrivateKey) -> bytes:
    """A compact JWS with any header and payload bytes, really signed with ``key``."""
    header_bytes = header if isinstance(header, bytes) else canonical_dumps(header)
    signing_input = f"{b64u_encode(header_bytes)}.{b64u_encode(payload)}".encode("ascii")
    return signing_input + b"." + b64u_encode(key.sign(signing_input)).encode("ascii")


def header(typ: str = TYP_MANIFEST, **changes: object) -> dict[str, object]:
    """The v1 header, with members changed (a value of None removes the member)."""
    result: dict[str, object] = {"alg": JWS_ALG, "kid": JOB_KID, "typ": typ}
    result.update(changes)
    return {name: value for name, value in result.items() if value is not None}


def jws_entry(token: bytes, *, typ: str) -> dict[str, object]:
    head, claims = split(token)
    assert head["typ"] == typ
    return {
        "typ": typ,
        "kid": head["kid"],
        "header": head,
        "token": token.decode(),
        "claims": claims,
    }


# --- valid messages -----------------------------------------------------------------------


def make_keyring(version: int = KEYRING_VERSION, **changes: object) -> Keyring:
    keyring = Keyring(
        issuer=DISTRICT_CODE,
        version=version,
        issued_at_s=NOW_S - 2 * DAY_S,
        keys=(
            KeyEntry(JOB_KID, JOB_SIGNER.key.public_key(), NOW_S - 30 * DAY_S, NOW_S + 335 * DAY_S),
            KeyEntry(
                RETIRED_KID,
                RETIRED_SIGNER.key.public_key(),
                NOW_S - 400 * DAY_S,
                NOW_S - 35 * DAY_S,
            ),
        ),
    )
    return replace(keyring, **changes)  # type: ignore[arg-type]


def make_head(**changes: object) -> FeedHead:
    head = FeedHead(
        device_id=DEVICE_ID,
        issuer=DISTRICT_CODE,
        seq=6,  # jobs 1-3 are the valid jobs, 4-6 carry document negative cases
        issued_at_s=HEAD_IAT_S,
        expires_at_s=HEAD_IAT_S + HEAD_LIFETIME_S,
        cancelled=frozenset({CANCELLED_JOB_ID}),
        keyring_version=KEYRING_VERSION,
    )
    return replace(head, **changes)  # type: ignore[arg-type]


def title(doc_type: str) -> str:
    return DOCUMENT_NAMES[doc_type].id


# name, release, sides, claim code?, documents: (label, type, copies, pages, landscape?, title)
JOB_DEFS: tuple[dict[str, object], ...] = (
    {
        "name": "claim_one_akta_lahir",
        "release": ReleaseMode.CLAIM,
        "sides": Sides.ONE_SIDED,
        "claim_code": claim_code(),
        "docs": (("claim-akta", "AKTA_LAHIR", 1, 1, False, title("AKTA_LAHIR")),),
    },
    {
        "name": "staff_one_biodata_two_sided",
        "release": ReleaseMode.STAFF,
        "sides": Sides.TWO_SIDED_LONG_EDGE,
        "claim_code": None,
        # a non-ASCII title freezes UTF-8 (not \u-escaped) in canonical JSON
        "docs": (("staff-bio", "BIODATA", 2, 1, False, "Biodata Penduduk \u2014 salinan"),),
    },
    {
        "name": "auto_bundle_kk_landscape_and_akta_lahir",
        "release": ReleaseMode.AUTO,
        "sides": Sides.ONE_SIDED,
        "claim_code": None,
        "docs": (
            ("auto-kk", "KK", 1, 1, True, title("KK")),
            ("auto-akta", "AKTA_LAHIR", 3, 2, False, title("AKTA_LAHIR")),
        ),
    },
)


def pdf_for(pages: int, landscape: bool) -> bytes:
    return make_pdf(pages, **LANDSCAPE) if landscape else make_pdf(pages)


def issue(defn: Mapping[str, object], seq: int) -> tuple[IssuedJob, JobSpec]:
    name = str(defn["name"])
    docs = defn["docs"]
    assert isinstance(docs, tuple)
    spec = JobSpec(
        job_id=fixed_id("job", name, at_s=JOB_IAT_S),
        seq=seq,
        office_code=OFFICE_CODE,
        release=defn["release"],  # type: ignore[arg-type]
        resident_name=RESIDENT,
        documents=tuple(
            DocumentSpec(
                doc_id=fixed_id("doc", label, at_s=JOB_IAT_S),
                doc_type=doc_type,
                pdf=pdf_for(pages, landscape),
                title=doc_title,
                copies=copies,
            )
            for label, doc_type, copies, pages, landscape, doc_title in docs
        ),
        issued_at_s=JOB_IAT_S,
        lifetime_s=JOB_LIFETIME_S,
        claim_code=defn["claim_code"],  # type: ignore[arg-type]
        claim_params=CHEAPEST_CLAIM,
        sides=defn["sides"],  # type: ignore[arg-type]
    )
    return issue_job(
        spec, district_code=DISTRICT_CODE, recipient=RECIPIENT, signer=JOB_SIGNER
    ), spec


def display_of(spec: JobSpec) -> DisplayData:
    claim = None
    if spec.claim_code is not None:
        claim = make_verifier(spec.claim_code, device_id=DEVICE_ID, params=spec.claim_params)
    return DisplayData(
        resident_masked=mask_name(spec.resident_name),
        titles=tuple(DocumentTitle(d.doc_id, d.title) for d in spec.documents),
        claim=claim,
    )


def job_entry(defn: Mapping[str, object], job: IssuedJob, spec: JobSpec) -> dict[str, object]:
    plain = display_plaintext(display_of(spec))
    entry = {"name": defn["name"], **jws_entry(job.token, typ=TYP_MANIFEST)}
    if spec.claim_code is not None:
        entry["claim"] = {
            "code": spec.claim_code,
            "code_display": format_claim_code(spec.claim_code),
            "salt_hex": hexs(claim_salt(DEVICE_ID)),
            "m_kib": spec.claim_params.m_kib,
            "t": spec.claim_params.t,
            "p": spec.claim_params.p,
        }
    entry["display_info"] = display_info(DEVICE_ID, spec.job_id).decode("ascii")
    entry["display_plaintext"] = plain.decode("utf-8")
    entry["display_sealed_b64u"] = b64u_encode(job.manifest.display_sealed)
    entry["documents"] = []
    for doc, ref in zip(spec.documents, job.manifest.documents, strict=True):
        sealed = job.blobs[doc.doc_id]
        entry["documents"].append(
            {
                "doc_id": doc.doc_id,
                "info": document_info(DEVICE_ID, spec.job_id, doc.doc_id).decode("ascii"),
                "pdf_b64u": b64u_encode(doc.pdf),
                "sealed_b64u": b64u_encode(sealed),
                "size": len(sealed),
                "sha256_hex": hexs(ref.sealed_sha256),
                "sha256_b64u": b64u_encode(ref.sealed_sha256),
            }
        )
    return entry


def expected_outcome(
    defn: Mapping[str, object], job: IssuedJob, spec: JobSpec
) -> dict[str, object]:
    docs = defn["docs"]
    assert isinstance(docs, tuple)
    return {
        "job_id": spec.job_id,
        "device_id": DEVICE_ID,
        "issuer": DISTRICT_CODE,
        "office_code": OFFICE_CODE,
        "seq": spec.seq,
        "issued_at_s": JOB_IAT_S,
        "expires_at_s": JOB_IAT_S + JOB_LIFETIME_S,
        "release": spec.release.value,
        "ticket": {"sides": spec.sides.value, "media": "iso_a4_210x297mm", "scaling": "none"},
        "signer_kid": JOB_KID,
        "seal_kid": thumbprint(DEVICE_SEAL.public_key()),
        "resident_masked": mask_name(RESIDENT),
        "has_claim_verifier": spec.claim_code is not None,
        "documents": [
            {
                "doc_id": doc.doc_id,
                "doc_type": doc.doc_type,
                "copies": doc.copies,
                "size": len(job.blobs[doc.doc_id]),
                "title": doc.title,
                "page_count": pages,
                "all_pages_a4": True,
            }
            for doc, (_, _, _, pages, _, _) in zip(spec.documents, docs, strict=True)
        ],
    }


# --- negative cases -----------------------------------------------------------------------


def payload_of(claims: Mapping[str, object]) -> bytes:
    return canonical_dumps(claims)


def signed(claims: Mapping[str, object], **header_changes: object) -> bytes:
    return forge(header(**header_changes), payload_of(claims), JOB_SIGNER.key)


def with_claims(base: Mapping[str, object], **changes: object) -> dict[str, object]:
    claims = json.loads(canonical_dumps(base))  # a deep copy
    claims.update(changes)
    return claims


def swap_bytes(payload: bytes, old: bytes, new: bytes) -> bytes:
    assert payload.count(old) == 1, old
    return payload.replace(old, new)


def manifest_cases(
    jobs: list[IssuedJob], head_token: bytes, keyring_token: bytes
) -> list[tuple[str, bytes, str]]:
    claim_job, staff_job, auto_job = jobs
    base = manifest_claims(staff_job.manifest)  # seq 2, release staff, one document
    base_bytes = payload_of(base)
    b64_header, _, b64_sig = staff_job.token.decode().split(".")

    tampered = with_claims(base)
    tampered["docs"][0]["copies"] = 5  # type: ignore[index]
    tampered_token = f"{b64_header}.{b64u_encode(payload_of(tampered))}.{b64_sig}".encode()

    other_sig = claim_job.token.decode().split(".")[2]
    spliced = f"{b64_header}.{b64u_encode(base_bytes)}.{other_sig}".encode()

    hs_input = f"{b64u_encode(canonical_dumps(header(alg='HS256')))}.{b64u_encode(base_bytes)}"
    hs_mac = hmac.new(raw_pub(JOB_SIGNER.key), hs_input.encode(), hashlib.sha256).digest()
    hs256 = f"{hs_input}.{b64u_encode(hs_mac)}".encode()

    none_input = f"{b64u_encode(canonical_dumps(header(alg='none')))}.{b64u_encode(base_bytes)}"
    alg_none = f"{none_input}.".encode()

    good = staff_job.token.decode()
    sig = good.split(".")[2]
    # 64 bytes = 86 characters whose last one carries 4 unused bits: set one of them
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    assert last & 0b1111 == 0
    non_canonical = good[:-1] + alphabet[last | 0b0001]
    assert base64.urlsafe_b64decode(non_canonical.split(".")[2] + "==") == b64u_decode(sig)

    docs_ktp = with_claims(base)
    docs_ktp["docs"][0]["type"] = "KTP_EL"  # type: ignore[index]
    docs_passport = with_claims(base)
    docs_passport["docs"][0]["type"] = "PASSPORT"  # type: ignore[index]
    docs_copies = with_claims(base)
    docs_copies["docs"][0]["copies"] = 6  # type: ignore[index]
    auto_one_doc = manifest_claims(auto_job.manifest)
    auto_one_doc["docs"] = auto_one_doc["docs"][:1]  # type: ignore[index]

    pad = with_claims(base, pad="x" * MAX_MANIFEST_BYTES)
    deep: object = 1
    for _ in range(8):
        deep = [deep]

    return [
        # signature and header rules
        ("tampered_payload", tampered_token, "bad_signature"),
        ("signature_from_another_token", spliced, "bad_signature"),
        ("wrong_key_same_kid", forge(header(), base_bytes, ATTACKER), "bad_signature"),
        ("alg_none", alg_none, "bad_alg"),
        ("alg_eddsa", signed(base, alg="EdDSA"), "bad_alg"),
        ("alg_hs256_public_key_as_secret", hs256, "bad_alg"),
        ("missing_kid", signed(base, kid=None), "missing_kid"),
        ("kid_not_a_string", signed(base, kid=7), "missing_kid"),
        (
            "unknown_kid",
            forge(header(kid="job-1999z"), base_bytes, ed25519("job-1999z")),
            "unknown_kid",
        ),
        ("root_signed_token_as_manifest", keyring_token, "unknown_kid"),
        (
            "signing_key_past_validity",
            forge(header(kid=RETIRED_KID), base_bytes, RETIRED_SIGNER.key),
            "key_not_valid",
        ),
        ("unknown_crit", signed(base, crit=["exp"]), "bad_crit"),
        ("jku_header", signed(base, jku="https://attacker.invalid/keys"), "forbidden_header"),
        (
            "embedded_jwk_header",
            signed(base, jwk=public_jwk(ATTACKER.public_key())),
            "forbidden_header",
        ),
        ("b64_false_header", signed(base, b64=False), "forbidden_header"),
        ("other_typ", signed(base, typ=TYP_HEAD), "bad_typ"),
        ("head_token_as_manifest", head_token, "bad_typ"),
        ("missing_typ", signed(base, typ=None), "bad_typ"),
        # structure, base64 and strict JSON
        ("two_segments", ".".join(good.split(".")[:2]).encode(), "malformed"),
        ("four_segments", (good + ".AAAA").encode(), "malformed"),
        ("padded_base64_signature", (good + "==").encode(), "malformed"),
        ("non_canonical_base64_signature", non_canonical.encode(), "malformed"),
        ("non_ascii_token", good.replace(".", "\u2024", 1).encode(), "malformed"),
        (
            "duplicate_key_header",
            forge(
                canonical_dumps(header())[:-1] + b',"kid":"job-2026a"}', base_bytes, JOB_SIGNER.key
            ),
            "duplicate_key",
        ),
        (
            "duplicate_key_payload",
            forge(header(), base_bytes[:-1] + b',"seq":1}', JOB_SIGNER.key),
            "duplicate_key",
        ),
        (
            "float",
            forge(header(), swap_bytes(base_bytes, b'"seq":2', b'"seq":2.0'), JOB_SIGNER.key),
            "bad_type",
        ),
        (
            "exponent",
            forge(header(), swap_bytes(base_bytes, b'"seq":2', b'"seq":2e0'), JOB_SIGNER.key),
            "bad_type",
        ),
        (
            "integer_above_2_53_minus_1",
            forge(
                header(),
                swap_bytes(base_bytes, b'"seq":2', b'"seq":9007199254740992'),
                JOB_SIGNER.key,
            ),
            "bad_type",
        ),
        (
            "nan",
            forge(header(), swap_bytes(base_bytes, b'"seq":2', b'"seq":NaN'), JOB_SIGNER.key),
            "bad_type",
        ),
        ("json_array_payload", forge(header(), b"[1,2,3]", JOB_SIGNER.key), "bad_type"),
        (
            "lone_surrogate",
            forge(header(), base_bytes[:-1] + b',"zz":"\\ud800"}', JOB_SIGNER.key),
            "malformed",
        ),
        (
            "utf8_bom_payload",
            forge(header(), b"\xef\xbb\xbf" + base_bytes, JOB_SIGNER.key),
            "malformed",
        ),
        (
            "invalid_utf8_payload",
            forge(header(), base_bytes[:-1] + b',"zz":"\xff"}', JOB_SIGNER.key),
            "malformed",
        ),
        ("nested_too_deep", signed(with_claims(base, zz=deep)), "malformed"),
        ("oversized", signed(pad), "too_large"),
        # claims
        ("unsupported_version", signed(with_claims(base, v=2)), "unsupported_version"),
        (
            "missing_version",
            signed({k: v for k, v in base.items() if k != "v"}),
            "unsupported_version",
        ),
        ("bool_as_integer", signed(with_claims(base, seq=True)), "bad_claim"),
        ("string_as_integer", signed(with_claims(base, seq="2")), "bad_claim"),
        ("exp_not_after_iat", signed(with_claims(base, exp=JOB_IAT_S)), "bad_claim"),
        ("card_type_ktp_el", signed(docs_ktp), "not_printable_at_village"),
        ("unknown_document_type", signed(docs_passport), "bad_claim"),
        ("too_many_copies", signed(docs_copies), "bad_claim"),
        (
            "scaling_fit",
            signed(
                with_claims(
                    base,
                    ticket={"media": "iso_a4_210x297mm", "scaling": "fit", "sides": "one-sided"},
                )
            ),
            "bad_claim",
        ),
        ("wrong_issuer", signed(with_claims(base, iss="16.12")), "wrong_issuer"),
        ("wrong_audience", signed(with_claims(base, aud=OTHER_DEVICE_ID)), "wrong_audience"),
        (
            "expired",
            signed(with_claims(base, iat=NOW_S - 4 * DAY_S, exp=NOW_S - DAY_S)),
            "expired",
        ),
        (
            "issued_in_future",
            signed(with_claims(base, iat=NOW_S + 3600, exp=NOW_S + 3 * DAY_S)),
            "issued_in_future",
        ),
        (
            "lifetime_too_long",
            signed(with_claims(base, exp=JOB_IAT_S + 15 * DAY_S)),
            "lifetime_too_long",
        ),
        ("cancelled", signed(with_claims(base, jti=CANCELLED_JOB_ID)), "cancelled"),
        ("seq_beyond_head", signed(with_claims(base, seq=7)), "seq_beyond_head"),
        # sealed display data
        (
            "sealed_to_another_device_key",
            signed(with_claims(base, seal_kid=thumbprint(OTHER_DEVICE_SEAL.public_key()))),
            "open_failed",
        ),
        (
            "display_of_another_job",
            signed(with_claims(base, display=b64u_encode(claim_job.manifest.display_sealed))),
            "open_failed",
        ),
        ("claim_release_without_verifier", signed(with_claims(base, release="claim")), "bad_claim"),
        (
            "verifier_without_claim_release",
            signed(with_claims(manifest_claims(claim_job.manifest), release="staff")),
            "bad_claim",
        ),
        ("display_documents_differ", signed(auto_one_doc), "bad_claim"),
    ]


def head_cases(head_token: bytes, manifest_token: bytes) -> list[tuple[str, bytes, str, bool]]:
    def h(**changes: object) -> bytes:
        return sign_head(make_head(**changes), JOB_SIGNER)

    b64_header, payload, sig = head_token.decode().split(".")
    claims = json.loads(b64u_decode(payload))
    claims["seq"] = 60
    tampered = f"{b64_header}.{b64u_encode(canonical_dumps(claims))}.{sig}".encode()
    none_input = f"{b64u_encode(canonical_dumps(header(TYP_HEAD, alg='none')))}.{payload}"
    bad_cancelled = head_claims(make_head())
    bad_cancelled["cancelled"] = ["doc_" + CANCELLED_JOB_ID[4:]]
    return [
        ("head_tampered", tampered, "bad_signature", False),
        ("head_alg_none", f"{none_input}.".encode(), "bad_alg", False),
        (
            "head_signed_by_root",
            sign_head(make_head(), Signer(thumbprint(ROOT.public_key()), ROOT)),
            "unknown_kid",
            False,
        ),
        ("manifest_as_head", manifest_token, "bad_typ", False),
        (
            "head_cancelled_not_a_job_id",
            sign_compact(bad_cancelled, typ=TYP_HEAD, kid=JOB_KID, key=JOB_SIGNER.key),
            "bad_claim",
            False,
        ),
        ("head_wrong_issuer", h(issuer="16.12"), "wrong_issuer", False),
        ("head_wrong_audience", h(device_id=OTHER_DEVICE_ID), "wrong_audience", False),
        (
            "head_lifetime_too_long",
            h(expires_at_s=HEAD_IAT_S + 7200),
            "lifetime_too_long",
            False,
        ),
        (
            "head_expired",
            h(issued_at_s=NOW_S - 1200, expires_at_s=NOW_S - 600),
            "head_expired",
            False,
        ),
        ("head_names_older_keyring", h(keyring_version=1), "keyring_rollback", False),
        # these two are checked with the vector's head already stored
        (
            "head_rollback",
            h(seq=5, issued_at_s=HEAD_IAT_S + 60, expires_at_s=HEAD_IAT_S + 660),
            "head_rollback",
            True,
        ),
        (
            "head_replayed",
            h(issued_at_s=HEAD_IAT_S - 60, expires_at_s=HEAD_IAT_S + 540),
            "head_replayed",
            True,
        ),
    ]


def keyring_cases() -> list[tuple[str, bytes, str]]:
    root_kid = thumbprint(ROOT.public_key())
    current = keyring_claims(make_keyring())
    other_keys = make_keyring(
        keys=(KeyEntry(JOB_KID, ATTACKER.public_key(), NOW_S - DAY_S, NOW_S + DAY_S),)
    )
    duplicate = with_claims(current)
    duplicate["keys"] = [current["keys"][0], current["keys"][0]]  # type: ignore[index]
    private_member = with_claims(current)
    private_member["keys"][0]["jwk"]["d"] = b64u_encode(seed(JOB_KID))  # type: ignore[index]
    x25519_key = with_claims(current)
    x25519_key["keys"][0]["jwk"] = public_jwk(DEVICE_SEAL.public_key())  # type: ignore[index]

    def by_root(claims: Mapping[str, object]) -> bytes:
        return sign_compact(claims, typ=TYP_KEYRING, kid=root_kid, key=ROOT)

    return [
        ("keyring_rollback", sign_keyring(make_keyring(version=1), ROOT), "keyring_rollback"),
        ("keyring_same_version_other_keys", sign_keyring(other_keys, ROOT), "keyring_rollback"),
        (
            "keyring_signed_by_job_key",
            sign_keyring(make_keyring(version=3), JOB_SIGNER.key),
            "unknown_kid",
        ),
        (
            "keyring_root_kid_wrong_key",
            forge(
                header(TYP_KEYRING, kid=root_kid), payload_of(with_claims(current, ver=3)), ATTACKER
            ),
            "bad_signature",
        ),
        ("keyring_wrong_issuer", by_root(with_claims(current, iss="16.12", ver=3)), "wrong_issuer"),
        ("keyring_duplicate_kid", by_root(with_claims(duplicate, ver=3)), "bad_claim"),
        ("keyring_private_key_member", by_root(with_claims(private_member, ver=3)), "bad_claim"),
        ("keyring_x25519_key", by_root(with_claims(x25519_key, ver=3)), "bad_claim"),
    ]


def support_job(
    label: str, seq: int, build: Callable[[str], tuple[DocumentRef, bytes]]
) -> tuple[bytes, str, bytes]:
    """A manifest that verifies, whose one document ref is built by ``build(job_id)``."""
    job_id = fixed_id("job", label, at_s=JOB_IAT_S)
    ref, blob = build(job_id)
    display = DisplayData(
        mask_name(RESIDENT), (DocumentTitle(ref.doc_id, title(ref.doc_type)),), None
    )
    manifest = JobManifest(
        job_id=job_id,
        device_id=DEVICE_ID,
        issuer=DISTRICT_CODE,
        office_code=OFFICE_CODE,
        seq=seq,
        issued_at_s=JOB_IAT_S,
        expires_at_s=JOB_IAT_S + JOB_LIFETIME_S,
        release=ReleaseMode.STAFF,
        ticket=PrintTicket(),
        documents=(ref,),
        seal_kid=thumbprint(DEVICE_SEAL.public_key()),
        display_sealed=seal(
            display_plaintext(display),
            DEVICE_SEAL.public_key(),
            info=display_info(DEVICE_ID, job_id),
        ),
    )
    return sign_manifest(manifest, JOB_SIGNER), ref.doc_id, blob


def sealed_ref(doc_id: str, doc_type: str, blob: bytes) -> DocumentRef:
    return DocumentRef(doc_id, doc_type, 1, len(blob), hashlib.sha256(blob).digest())


def document_cases(jobs: list[IssuedJob]) -> list[dict[str, object]]:
    claim_job, staff_job, _ = jobs
    a_doc = claim_job.manifest.documents[0]
    b_doc = staff_job.manifest.documents[0]
    a_blob = claim_job.blobs[a_doc.doc_id]
    b_blob = staff_job.blobs[b_doc.doc_id]
    assert len(a_blob) == len(b_blob), "job A's blob must fit job B's signed size"
    flipped = bytearray(b_blob)
    flipped[len(flipped) // 2] ^= 0x01

    def moved(job_id: str) -> tuple[DocumentRef, bytes]:
        del job_id  # job A's blob, signed under another job: only the HPKE info can tell
        return sealed_ref(a_doc.doc_id, a_doc.doc_type, a_blob), a_blob

    def sealed_plain(plain: bytes, label: str) -> Callable[[str], tuple[DocumentRef, bytes]]:
        def build(job_id: str) -> tuple[DocumentRef, bytes]:
            doc_id = fixed_id("doc", label, at_s=JOB_IAT_S)
            blob = seal(
                plain, DEVICE_SEAL.public_key(), info=document_info(DEVICE_ID, job_id, doc_id)
            )
            return sealed_ref(doc_id, "SKET", blob), blob

        return build

    def on(job: IssuedJob, doc: DocumentRef, blob: bytes) -> dict[str, object]:
        return {"job_id": job.manifest.job_id, "doc_id": doc.doc_id, "blob_b64u": b64u_encode(blob)}

    cases: list[dict[str, object]] = [
        {
            "name": "blob_longer_than_signed",
            **on(staff_job, b_doc, b_blob + b"\x00"),
            "expected_reason": "size_mismatch",
        },
        {
            "name": "blob_truncated",
            **on(staff_job, b_doc, b_blob[:-1]),
            "expected_reason": "size_mismatch",
        },
        {
            "name": "blob_bit_flipped",
            **on(staff_job, b_doc, bytes(flipped)),
            "expected_reason": "hash_mismatch",
        },
        {
            "name": "blob_of_job_a_for_job_b",
            **on(staff_job, b_doc, a_blob),
            "expected_reason": "hash_mismatch",
        },
        {
            "name": "blob_for_a_document_not_in_the_job",
            "job_id": staff_job.manifest.job_id,
            "doc_id": a_doc.doc_id,
            "blob_b64u": b64u_encode(a_blob),
            "expected_reason": "bad_claim",
        },
    ]
    for name, label, seq, build, reason in (
        ("blob_of_job_a_signed_under_job_c", "moved-blob", 4, moved, "open_failed"),
        (
            "sealed_plaintext_not_pdf",
            "not-pdf",
            5,
            sealed_plain(b"GIF89a not a pdf", "not-pdf"),
            "not_pdf",
        ),
        (
            "sealed_pdf_does_not_parse",
            "bad-pdf",
            6,
            sealed_plain(b"%PDF-1.7\nno objects here\n", "bad-pdf"),
            "pdf_invalid",
        ),
    ):
        token, doc_id, blob = support_job(label, seq, build)
        cases.append(
            {
                "name": name,
                "token": token.decode(),
                "job_id": fixed_id("job", label, at_s=JOB_IAT_S),
                "doc_id": doc_id,
                "blob_b64u": b64u_encode(blob),
                "expected_reason": reason,
            }
        )
    return cases


# --- the file -----------------------------------------------------------------------------


def key_section() -> dict[str, object]:
    def ed(label: str, key: Ed25519PrivateKey) -> dict[str, object]:
        return {
            "label": label,
            "private_seed_hex": hexs(seed(label)),
            "public_hex": hexs(raw_pub(key)),
            "public_jwk": public_jwk(key.public_key()),
            "thumbprint": thumbprint(key.public_key()),
        }

    root = ed("root", ROOT)
    root["kid"] = root["thumbprint"]
    root["fingerprint_code"] = fingerprint_code(ROOT.public_key())
    seal_key = {
        "label": "device-seal",
        "private_hex": hexs(seed("device-seal")),
        "public_hex": hexs(raw_pub(DEVICE_SEAL)),
        "public_jwk": public_jwk(DEVICE_SEAL.public_key()),
        "thumbprint": thumbprint(DEVICE_SEAL.public_key()),
        "seal_kid": thumbprint(DEVICE_SEAL.public_key()),
    }
    return {
        "WARNING": (
            "TEST-ONLY keys, derived in public as sha256(b'TEST-ONLY ' + label). "
            "Never enrol, pin or trust them anywhere but in tests."
        ),
        "district_root": root,
        "job_signer": {"kid": JOB_KID, **ed(JOB_KID, JOB_SIGNER.key)},
        "retired_job_signer": {"kid": RETIRED_KID, **ed(RETIRED_KID, RETIRED_SIGNER.key)},
        "device_seal": seal_key,
        "device_auth": ed("device-auth", DEVICE_AUTH),
    }


def build() -> dict[str, object]:
    keyring_token = sign_keyring(make_keyring(), ROOT)
    head_token = sign_head(make_head(), JOB_SIGNER)
    issued = [issue(defn, seq) for seq, defn in enumerate(JOB_DEFS, start=1)]
    jobs = [job for job, _ in issued]

    negative: list[dict[str, object]] = []
    for name, token, reason in keyring_cases():
        negative.append(
            {"name": name, "kind": "keyring", "token": token.decode(), "expected_reason": reason}
        )
    for name, token, reason, stored in head_cases(head_token, jobs[1].token):
        case: dict[str, object] = {"name": name, "kind": "head", "token": token.decode("utf-8")}
        if stored:
            case["with_stored_head"] = True
        negative.append({**case, "expected_reason": reason})
    for name, token, reason in manifest_cases(jobs, head_token, keyring_token):
        negative.append(
            {
                "name": name,
                "kind": "manifest",
                "token": token.decode("utf-8"),
                "expected_reason": reason,
            }
        )
    for case in document_cases(jobs):
        negative.append({"name": case.pop("name"), "kind": "document", **case})
    names = [str(case["name"]) for case in negative]
    assert len(names) == len(set(names)), "negative case names must be unique"

    return {
        "title": "Cedoka protocol v1 wire test vectors",
        "protocol_version": PROTOCOL_VERSION,
        "generator": "tests/vectors/generate.py, run once: the committed file is the reference",
        "TEST_ONLY_keys": key_section(),
        "device_id": DEVICE_ID,
        "district_code": DISTRICT_CODE,
        "office_code": OFFICE_CODE,
        "now_s": NOW_S,
        "keyring": jws_entry(keyring_token, typ=TYP_KEYRING),
        "head": jws_entry(head_token, typ=TYP_HEAD),
        "jobs": [
            job_entry(defn, job, spec) for defn, (job, spec) in zip(JOB_DEFS, issued, strict=True)
        ],
        "expected": [
            expected_outcome(defn, job, spec)
            for defn, (job, spec) in zip(JOB_DEFS, issued, strict=True)
        ],
        "negative": negative,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite an existing v1.json")
    parser.add_argument("--out", type=Path, default=OUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force:
        print(
            f"{args.out} exists and is frozen: HPKE output differs per run, so regenerating "
            "changes every sealed byte. Pass --force only for a deliberate protocol change.",
            file=sys.stderr,
        )
        return 1
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode('utf-8'))} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
