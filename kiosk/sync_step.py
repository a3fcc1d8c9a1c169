"""The order of one sync step, decided without I/O: (root chain →) keyring → head → manifests →
cancellations.

:func:`apply_feed` takes one parsed feed answer (:class:`~kiosk.feed.FeedResponse`) and the
trust state, runs the recipe of :mod:`kiosk.verify` in the order protocol §6.2 gives (as
python-tuf's trusted metadata set does), and returns a :class:`FeedOutcome`: what to store
and what to report. The agent (``agent/sync.py``) only fetches the answer and persists the
outcome, in the order given; the time-based re-asking of sequence gaps (§9.9) stays there.

Within one answer, a job id decided earlier counts as known (the agent tombstones it before
the next token), and a document id of a job accepted earlier counts as taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.clock import raise_floor
from kiosk.errors import Reason, RejectedError
from kiosk.feed import FeedResponse
from kiosk.keys import public_jwk
from kiosk.limits import MAX_JOBS_PER_FEED
from kiosk.model import FeedHead, VerifiedJob
from kiosk.rootchain import verify_keyring_with_chain
from kiosk.strictjson import canonical_dumps
from kiosk.verify import (
    CURABLE_REASONS,
    TrustState,
    VerifyPolicy,
    verify_head,
    verify_manifest,
)

DEFAULT_POLICY = VerifyPolicy()


@dataclass(frozen=True, slots=True)
class Accepted:
    """A manifest that passed the whole recipe: record the job as ``received``."""

    job: VerifiedJob
    signer_jwk: bytes  # the signing key as canonical JWK, kept with the job


@dataclass(frozen=True, slots=True)
class Refused:
    """A signed manifest refused for good: tombstone the job id and report ``reason``
    (``cancelled``: a cancel event; any other: ``verify_fail``), then purge it."""

    job_id: str
    seq: int | None  # None: the signed seq is unreadable (tombstoned with seq 0, §9.9)
    reason: Reason
    manifest_sha256: bytes
    docs_of_another_job: int = 0  # BAD_CLAIM: how many document ids another job uses


@dataclass(frozen=True, slots=True)
class Deferred:
    """Signed, refused for a curable reason (``CURABLE_REASONS``): no tombstone."""

    job_id: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Ignored:
    """Not reportable as a job (unsigned, forged, or no readable job id): noted only."""

    reason: Reason


@dataclass(frozen=True, slots=True)
class Known:
    """A manifest for a job id already recorded: a re-delivery, or (``conflict``) a second
    signed version of the job, which is noted; the first stays the job (§9.5)."""

    job_id: str
    seq: int | None
    conflict: bool


TokenOutcome = Accepted | Refused | Deferred | Ignored | Known


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What one feed answer decides, in the order to persist it.

    ``trust`` is the trust state after the answer. With ``head_refused`` set nothing after
    the head is decided: ``tokens`` and ``cancelled`` are empty and the feed position stays.
    """

    trust: TrustState
    keyring_token: bytes | None  # a verified new keyring, to store
    keyring_refused: Reason | None
    head: FeedHead | None  # the verified head, to store (None when refused)
    head_refused: Reason | None
    envelope_refused: tuple[Reason, ...] = ()  # items of ``jobs`` that were not strings
    tokens: tuple[TokenOutcome, ...] = ()  # one per token of ``jobs``, in order
    cancelled: tuple[str, ...] = ()  # the head's cancellations, sorted: apply if cancellable
    after: int = 0  # the feed position before gap handling (§6.1, §9.9)
    # a root the chain led to (§9.10) and its version: pin it together with ``keyring_token``
    new_root: tuple[Ed25519PublicKey, int] | None = None


def apply_feed(
    trust: TrustState,
    feed: FeedResponse,
    *,
    local_now_s: int,
    is_known: Callable[[str], bool],
    manifest_digest: Callable[[str], bytes | None],
    docs_taken: Callable[[Iterable[str]], set[str]],
    seal_keys: Mapping[str, X25519PrivateKey],
    max_document_bytes: int,
    policy: VerifyPolicy = DEFAULT_POLICY,
) -> FeedOutcome:
    """Decide one feed answer: the keyring (if any), then the head, then each manifest in
    order, then the head's cancellations and the next feed position.

    ``is_known`` / ``manifest_digest`` / ``docs_taken`` answer from the recorded jobs (the
    tombstones, the SHA-256 of a job's manifest token, the document ids in use).

    Raises nothing for refused data: every refusal is an outcome.
    """
    keyring_token, keyring_refused, new_root = None, None, None
    if feed.keyring is not None:
        try:
            keyring, new_root = verify_keyring_with_chain(
                feed.keyring, feed.root, district_code=trust.district_code,
                root_key=trust.root_key, current=trust.keyring,
            )  # fmt: skip
            trust, keyring_token = replace(trust, keyring=keyring), feed.keyring
            if new_root is not None:  # a rotated root, pinned with the keyring it signed
                trust = replace(trust, root_key=new_root[0])
        except RejectedError as error:
            keyring_refused = error.reason
    try:
        head = verify_head(feed.head, trust=trust, local_now_s=local_now_s, policy=policy)
    except RejectedError as error:
        return FeedOutcome(trust, keyring_token, keyring_refused, None, error.reason,
                           new_root=new_root)  # fmt: skip
    trust = replace(
        trust, head=head, time_floor_s=raise_floor(trust.time_floor_s, head.issued_at_s)
    )
    step = _Manifests(trust=trust, local_now_s=local_now_s, is_known=is_known,
                      manifest_digest=manifest_digest, docs_taken=docs_taken,
                      seal_keys=seal_keys, max_document_bytes=max_document_bytes,
                      policy=policy)  # fmt: skip
    tokens = tuple(step.take(token) for token in feed.jobs)
    seqs = [seq for outcome in tokens if (seq := _seq(outcome)) is not None]
    full = len(feed.jobs) >= MAX_JOBS_PER_FEED and bool(seqs)
    return FeedOutcome(
        trust, keyring_token, keyring_refused, head, None, envelope_refused=feed.refused,
        tokens=tokens, cancelled=tuple(sorted(head.cancelled)),
        after=max(seqs) if full else head.seq, new_root=new_root,
    )  # fmt: skip


def seq_gaps(head_seq: int, known: Iterable[int]) -> list[int]:
    """The seqs 1 … ``head_seq`` never received (§9.9), ascending."""
    have = set(known)
    return [s for s in range(1, head_seq + 1) if s not in have]


def _seq(outcome: TokenOutcome) -> int | None:
    """The seq a token covers in the feed position: a signature-verified, decided one's."""
    if isinstance(outcome, Accepted):
        return outcome.job.manifest.seq
    if isinstance(outcome, Refused | Known):
        return outcome.seq
    return None


class _Manifests:
    """Each manifest of one answer in turn, remembering what the earlier ones decided."""

    def __init__(
        self, *, trust: TrustState, local_now_s: int, is_known: Callable[[str], bool],
        manifest_digest: Callable[[str], bytes | None],
        docs_taken: Callable[[Iterable[str]], set[str]],
        seal_keys: Mapping[str, X25519PrivateKey], max_document_bytes: int,
        policy: VerifyPolicy,
    ) -> None:  # fmt: skip
        self._trust, self._now, self._policy = trust, local_now_s, policy
        self._is_known, self._digest, self._docs_taken = is_known, manifest_digest, docs_taken
        self._seal_keys, self._max_doc = seal_keys, max_document_bytes
        self._decided: dict[str, bytes] = {}  # job id -> manifest SHA-256, this answer
        self._docs: set[str] = set()  # document ids of the jobs accepted in this answer

    def _known(self, job_id: str) -> bool:
        return job_id in self._decided or self._is_known(job_id)

    def take(self, token: bytes) -> TokenOutcome:
        digest = hashlib.sha256(token).digest()
        try:
            job = verify_manifest(
                token, trust=self._trust, local_now_s=self._now, is_known=self._known,
                seal_keys=self._seal_keys, policy=self._policy,
            )  # fmt: skip
        except RejectedError as error:
            return self._refused(error, digest)
        m = job.manifest
        doc_ids = [d.doc_id for d in m.documents]
        if any(d.sealed_size > self._max_doc for d in m.documents):
            outcome: TokenOutcome = Refused(m.job_id, m.seq, Reason.TOO_LARGE, digest)
        elif taken := (self._docs_taken(doc_ids) | self._docs.intersection(doc_ids)):
            # A document id another job already uses: signed, but it would break the spool
            # on every delivery (and hold back every later job). Refused, with a reason.
            outcome = Refused(m.job_id, m.seq, Reason.BAD_CLAIM, digest, len(taken))
        else:
            entry = self._trust.keyring.key_for(job.signer_kid)
            assert entry is not None  # verify_manifest found it
            outcome = Accepted(job, canonical_dumps(public_jwk(entry.public_key)))
            self._docs.update(doc_ids)
        self._decided[m.job_id] = digest
        return outcome

    def _refused(self, error: RejectedError, digest: bytes) -> TokenOutcome:
        """After the signature verified, the job id is the district's own (also when other
        claims are bad): refused for good unless the reason is curable. A manifest whose
        ``jti`` is unreadable cannot be reported as a job: it is ignored like a forged one."""
        job_id = error.job_id
        if job_id is None:  # before the signature, or no job id: not reportable
            return Ignored(error.reason)
        if self._known(job_id):  # delivered again, or re-signed (§9.5)
            stored = self._decided.get(job_id) or self._digest(job_id)
            return Known(job_id, error.seq, conflict=stored is not None and stored != digest)
        if error.reason in CURABLE_REASONS:  # a later head / keyring / clock may cure it
            return Deferred(job_id, error.reason)
        self._decided[job_id] = digest
        return Refused(job_id, error.seq, error.reason, digest)
