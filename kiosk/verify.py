"""The verification recipe: every check on data from the district, in one fixed order.

Each ``verify_*`` function returns a model value or raises one
:class:`~kiosk.errors.RejectedError` with a machine-readable ``Reason``; a rejected job is
reported to the district and never printed. Order for a job manifest (security notes):

 1. size cap on the raw bytes, before parsing;
 2. JWS structure and header rules (alg pinned to Ed25519, ``kid`` required, no ``crit``,
    no key-carrying headers);
 3. the key by ``kid`` from the *trusted keyring only*;
 4. the signature over the exact bytes received;
 5. ``typ``;
 6. the signing key's validity window at trusted now (for a head: at the later of trusted
    now and its signed ``iat``, since a head is itself a time source);
 7. claim types and values: version, issuer, audience = this device, ``iat`` not in the
    future and ``exp`` not passed against *trusted now* (max of the local clock and the
    last verified signed time), lifetime cap, small explicit leeway on ``iat`` only;
 8. replay: the job id was never seen (tombstones survive restarts) and is not cancelled;
    ``seq`` is covered by the verified feed head;
 9. the sealed display data opens with this device's key and matches the manifest.

Documents (:func:`verify_document`) then go: exact signed size -> SHA-256 (constant time)
-> HPKE open with the bound ``info`` -> ``%PDF-`` magic -> PDF parse. The caller persists a
tombstone of the job id before printing and prints with an opaque title.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.clock import trusted_now
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.fields import Fields
from kiosk.ids import check_id
from kiosk.jose import verify_compact
from kiosk.keys import thumbprint
from kiosk.limits import (
    DEFAULT_LEEWAY_S,
    MAX_HEAD_BYTES,
    MAX_HEAD_LIFETIME_S,
    MAX_JOB_LIFETIME_S,
    MAX_KEYRING_BYTES,
    MAX_MANIFEST_BYTES,
    TYP_HEAD,
    TYP_KEYRING,
    TYP_MANIFEST,
)
from kiosk.model import (
    FeedHead,
    JobManifest,
    Keyring,
    OpenedDocument,
    ReleaseMode,
    VerifiedJob,
)
from kiosk.pdfcheck import PdfFacts, inspect_pdf
from kiosk.seal import display_info, document_info, open_sealed
from kiosk.wire import keyring_claims, parse_display, parse_head, parse_keyring, parse_manifest

# Rejections that a later feed head, keyring or clock correction can cure: the agent keeps
# no tombstone for these and verifies the manifest again when it is delivered again.
CURABLE_REASONS = frozenset(
    {
        Reason.SEQ_BEYOND_HEAD,
        Reason.KEY_NOT_VALID,
        Reason.UNKNOWN_KID,
        Reason.ISSUED_IN_FUTURE,
    }
)


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """Time rules of the recipe (units in names)."""

    leeway_s: int = DEFAULT_LEEWAY_S  # tolerated clock skew for "issued in the future"
    max_job_lifetime_s: int = MAX_JOB_LIFETIME_S  # exp - iat of a job manifest
    max_head_lifetime_s: int = MAX_HEAD_LIFETIME_S  # exp - iat of a feed head


@dataclass(frozen=True, slots=True)
class TrustState:
    """What the kiosk trusts: pinned at enrolment, then advanced by verified messages."""

    district_code: str  # e.g. "74.08"
    device_id: str
    root_key: Ed25519PublicKey  # district root, pinned at enrolment
    keyring: Keyring  # current job-signing keys (signed by the root)
    head: FeedHead | None  # last verified feed head, None before the first
    time_floor_s: int  # highest verified signed time (see kiosk.clock)


def verify_keyring(
    token: bytes, *, district_code: str, root_key: Ed25519PublicKey, current: Keyring | None
) -> Keyring:
    """Verify a keyring update signed by the pinned district root.

    Raises:
        RejectedError: any JWS or claim failure; WRONG_ISSUER; KEYRING_ROLLBACK for a lower
            version, or for the same version with other content (equivocation).
    """
    root_kid = thumbprint(root_key)
    verified = verify_compact(
        token,
        typ=TYP_KEYRING,
        keys=lambda kid: root_key if kid == root_kid else None,
        max_bytes=MAX_KEYRING_BYTES,
    )
    keyring = parse_keyring(verified.claims)
    if keyring.issuer != district_code:
        raise RejectedError(Reason.WRONG_ISSUER, "keyring of another district")
    if current is not None:
        if keyring.version < current.version:
            raise RejectedError(
                Reason.KEYRING_ROLLBACK, f"version {keyring.version} < {current.version}"
            )
        if keyring.version == current.version and keyring_claims(keyring) != keyring_claims(
            current
        ):
            raise RejectedError(Reason.KEYRING_ROLLBACK, "same version, other keys")
    return keyring


def _signer_lookup(trust: TrustState) -> Callable[[str], Ed25519PublicKey | None]:
    def lookup(kid: str) -> Ed25519PublicKey | None:
        entry = trust.keyring.key_for(kid)
        return None if entry is None else entry.public_key

    return lookup


def _check_key_window(trust: TrustState, kid: str, at_s: int) -> None:
    entry = trust.keyring.key_for(kid)
    if entry is None or not entry.not_before_s <= at_s < entry.not_after_s:
        raise RejectedError(Reason.KEY_NOT_VALID, f"key {kid!r} not valid at {at_s}")


def verify_head(
    token: bytes, *, trust: TrustState, local_now_s: int, policy: VerifyPolicy = VerifyPolicy()
) -> FeedHead:
    """Verify a feed head. The caller stores it and raises its time floor to its ``iat``.

    A head's ``iat`` may lie ahead of the local clock: it is a signed time source.

    Raises:
        RejectedError: any JWS or claim failure; WRONG_ISSUER, WRONG_AUDIENCE,
            LIFETIME_TOO_LONG; HEAD_ROLLBACK (lower seq than stored), HEAD_REPLAYED (older
            than stored), HEAD_EXPIRED (freeze: keep printing verified jobs, show "no
            confirmation from the district since ..."), KEYRING_ROLLBACK.
    """
    now_s = trusted_now(local_now_s=local_now_s, floor_s=trust.time_floor_s)
    verified = verify_compact(
        token, typ=TYP_HEAD, keys=_signer_lookup(trust), max_bytes=MAX_HEAD_BYTES
    )
    head = parse_head(verified.claims)
    _check_key_window(trust, verified.kid, max(now_s, head.issued_at_s))
    if head.issuer != trust.district_code:
        raise RejectedError(Reason.WRONG_ISSUER, "head of another district")
    if head.device_id != trust.device_id:
        raise RejectedError(Reason.WRONG_AUDIENCE, "head for another device")
    if head.expires_at_s - head.issued_at_s > policy.max_head_lifetime_s:
        raise RejectedError(Reason.LIFETIME_TOO_LONG, "head lifetime above the cap")
    if trust.head is not None:
        if head.seq < trust.head.seq:
            raise RejectedError(Reason.HEAD_ROLLBACK, f"seq {head.seq} < {trust.head.seq}")
        if head.issued_at_s < trust.head.issued_at_s:
            raise RejectedError(Reason.HEAD_REPLAYED, "older than the stored head")
    if head.expires_at_s <= now_s:
        raise RejectedError(Reason.HEAD_EXPIRED, "head expired")
    if head.keyring_version < trust.keyring.version:
        raise RejectedError(Reason.KEYRING_ROLLBACK, "head names an older keyring")
    return head


def verify_manifest(
    token: bytes,
    *,
    trust: TrustState,
    local_now_s: int,
    is_known: Callable[[str], bool],
    seal_keys: Mapping[str, X25519PrivateKey],
    policy: VerifyPolicy = VerifyPolicy(),
) -> VerifiedJob:
    """Run the whole recipe on a job manifest (see the module docstring for the order).

    ``is_known(job_id)`` answers from durable tombstones. The agent tombstones a job id
    when its manifest is accepted, or rejected after the signature check for a reason not
    in ``CURABLE_REASONS`` (a forged manifest must never block a real job, and a job that a
    later head or keyring makes valid must not be lost).
    ``seal_keys`` maps a sealing-key thumbprint to the device's private key.

    A rejection after the signature verified (M2 onwards) carries the manifest's signed
    ``job_id`` and ``seq`` (:func:`signed_job_ids`), also when another claim failed to
    parse, so the district can be told which of its jobs failed and why.

    Raises:
        RejectedError: the first failed check, with its Reason.
    """
    now_s = trusted_now(local_now_s=local_now_s, floor_s=trust.time_floor_s)
    verified = verify_compact(
        token, typ=TYP_MANIFEST, keys=_signer_lookup(trust), max_bytes=MAX_MANIFEST_BYTES
    )
    job_id, seq = signed_job_ids(verified.claims)
    try:
        manifest = parse_manifest(verified.claims)
        _check_key_window(trust, verified.kid, now_s)
        _check_manifest_claims(manifest, trust=trust, now_s=now_s, policy=policy)
        if is_known(manifest.job_id):
            raise RejectedError(Reason.REPLAYED, f"{manifest.job_id} seen before")
        head = trust.head
        if head is not None and manifest.job_id in head.cancelled:
            raise RejectedError(Reason.CANCELLED, f"{manifest.job_id} cancelled")
        if head is None or manifest.seq > head.seq:
            raise RejectedError(
                Reason.SEQ_BEYOND_HEAD, f"seq {manifest.seq} not in a verified head"
            )
        key = seal_keys.get(manifest.seal_kid)
        if key is None:
            raise RejectedError(Reason.OPEN_FAILED, "sealed to a key this device does not hold")
        plaintext = open_sealed(
            manifest.display_sealed, key, info=display_info(trust.device_id, manifest.job_id)
        )
        display = parse_display(plaintext)
        if sorted(t.doc_id for t in display.titles) != sorted(d.doc_id for d in manifest.documents):
            raise WireError(Reason.BAD_CLAIM, "display documents differ from the manifest")
        if (display.claim is not None) != (manifest.release is ReleaseMode.CLAIM):
            raise WireError(Reason.BAD_CLAIM, "a claim verifier exactly for release=claim")
    except RejectedError as error:
        error.job_id, error.seq = job_id, seq  # signed: safe to name (None if unreadable)
        raise
    return VerifiedJob(manifest=manifest, display=display, signer_kid=verified.kid, token=token)


def signed_job_ids(claims: dict[str, object]) -> tuple[str | None, int | None]:
    """The ``jti`` and ``seq`` of a signature-verified manifest, each None when it is not
    readable as §7.1 says (a job id; an integer ≥ 1), whatever the other claims hold."""
    f = Fields(claims, "manifest")
    job_id: str | None = None
    seq: int | None = None
    with contextlib.suppress(WireError):
        job_id = check_id(f.text("jti", max_len=30), "job")
    with contextlib.suppress(WireError):
        seq = f.integer("seq", low=1)
    return job_id, seq


def reopen_job(
    token: bytes,
    *,
    signer_key: Ed25519PublicKey,
    device_id: str,
    seal_keys: Mapping[str, X25519PrivateKey],
) -> VerifiedJob:
    """Rebuild a job that passed :func:`verify_manifest` earlier, from the kiosk's spool.

    The signature is checked again against ``signer_key``, the key that was trusted when
    the job was accepted (the keyring may have dropped it since), and the display data is
    opened again. Time, cancellation and replay are not re-checked here: before a print the
    caller runs :func:`check_printable_now`.

    Raises:
        RejectedError: the stored token does not verify or open (a damaged spool).
    """
    verified = verify_compact(
        token, typ=TYP_MANIFEST, keys=lambda _: signer_key, max_bytes=MAX_MANIFEST_BYTES
    )
    manifest = parse_manifest(verified.claims)
    if manifest.device_id != device_id:
        raise RejectedError(Reason.WRONG_AUDIENCE, "job for another device")
    key = seal_keys.get(manifest.seal_kid)
    if key is None:
        raise RejectedError(Reason.OPEN_FAILED, "sealed to a key this device does not hold")
    display = parse_display(
        open_sealed(manifest.display_sealed, key, info=display_info(device_id, manifest.job_id))
    )
    return VerifiedJob(manifest=manifest, display=display, signer_kid=verified.kid, token=token)


def _check_manifest_claims(
    manifest: JobManifest, *, trust: TrustState, now_s: int, policy: VerifyPolicy
) -> None:
    if manifest.issuer != trust.district_code:
        raise RejectedError(Reason.WRONG_ISSUER, "job of another district")
    if not manifest.office_code.startswith(manifest.issuer + "."):
        raise RejectedError(Reason.BAD_CLAIM, "office outside the issuing district")
    if manifest.device_id != trust.device_id:
        raise RejectedError(Reason.WRONG_AUDIENCE, "job for another device")
    if manifest.issued_at_s > now_s + policy.leeway_s:
        raise RejectedError(Reason.ISSUED_IN_FUTURE, "iat after trusted now")
    if manifest.expires_at_s - manifest.issued_at_s > policy.max_job_lifetime_s:
        raise RejectedError(Reason.LIFETIME_TOO_LONG, "job lifetime above the cap")
    if manifest.expires_at_s <= now_s:
        raise RejectedError(Reason.EXPIRED, "job expired")


def check_printable_now(job: VerifiedJob, *, trust: TrustState, local_now_s: int) -> None:
    """The last check before a (re)print: not expired and not cancelled since verification.

    Raises:
        RejectedError: EXPIRED or CANCELLED.
    """
    now_s = trusted_now(local_now_s=local_now_s, floor_s=trust.time_floor_s)
    if job.manifest.expires_at_s <= now_s:
        raise RejectedError(Reason.EXPIRED, "job expired")
    if trust.head is not None and job.manifest.job_id in trust.head.cancelled:
        raise RejectedError(Reason.CANCELLED, "job cancelled")


def verify_document(
    job: VerifiedJob,
    doc_id: str,
    sealed: bytes,
    *,
    seal_keys: Mapping[str, X25519PrivateKey],
    inspect: Callable[[bytes], PdfFacts] = inspect_pdf,
) -> OpenedDocument:
    """Check a downloaded sealed blob against the signed manifest and open it in memory.

    Raises:
        RejectedError: BAD_CLAIM (no such document), SIZE_MISMATCH (longer than signed:
            endless data; shorter: truncated), HASH_MISMATCH, OPEN_FAILED (wrong key, moved
            between jobs/documents/devices, bit flip), NOT_PDF, PDF_INVALID.
    """
    ref = next((d for d in job.manifest.documents if d.doc_id == doc_id), None)
    if ref is None:
        raise RejectedError(Reason.BAD_CLAIM, f"{doc_id} is not in {job.manifest.job_id}")
    if len(sealed) != ref.sealed_size:
        what = "longer than signed" if len(sealed) > ref.sealed_size else "truncated"
        raise RejectedError(Reason.SIZE_MISMATCH, f"{doc_id}: {what}")
    if not hmac.compare_digest(hashlib.sha256(sealed).digest(), ref.sealed_sha256):
        raise RejectedError(Reason.HASH_MISMATCH, f"{doc_id}: SHA-256 differs")
    key = seal_keys.get(job.manifest.seal_kid)
    if key is None:
        raise RejectedError(Reason.OPEN_FAILED, "sealed to a key this device does not hold")
    pdf = open_sealed(
        sealed, key, info=document_info(job.manifest.device_id, job.manifest.job_id, doc_id)
    )
    facts = inspect(pdf)
    return OpenedDocument(
        doc_id=doc_id,
        doc_type=ref.doc_type,
        pdf=pdf,
        page_count=facts.page_count,
        all_pages_a4=facts.all_pages_a4,
    )
