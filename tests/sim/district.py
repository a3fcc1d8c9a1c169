"""A simulated district that signs on demand, and a kiosk harness around the real recipe.

After python-tuf's RepositorySimulator: the simulator uses the production issuing code
(``kiosk.issue``) and lets a test change versions, expiry, signers, audiences and blobs,
or forge tokens byte by byte. ``DistrictSim`` is also the in-memory ``agent.link.DistrictLink``
(the agent's district link, without HTTP): it answers the feed with the jobs ``publish``-ed,
a fresh head and, for an older keyring version, the current keyring; serves their blobs
(a 410 ``job_cancelled`` for a cancelled job, a 404 for an unknown blob); verifies and records
the events (``events``, a re-sent one answered as a duplicate) and heartbeats it receives.
``KioskHarness`` drives the real recipe with durable-style tombstones: a feed answer (a
head, or a head and its jobs) goes through the agent's own order
(``kiosk.sync_step.apply_feed``); ``take_keyring`` / ``take_job`` run one check of
``kiosk.verify`` alone. Keys are derived from fixed seeds: TEST ONLY.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pypdf import PdfWriter

from agent.client import LinkDownError, LinkKind
from kiosk.b64 import b64u_encode
from kiosk.claim import ClaimParams
from kiosk.errors import GoneError, Reason, RejectedError
from kiosk.feed import FeedResponse, feed_body
from kiosk.issue import (
    DocumentSpec,
    IssuedJob,
    JobSpec,
    Recipient,
    Signer,
    issue_job,
    sign_head,
    sign_keyring,
    sign_manifest,
)
from kiosk.keys import thumbprint
from kiosk.limits import MAX_EVENTS_PER_BATCH, MAX_JOBS_PER_FEED
from kiosk.model import FeedHead, KeyEntry, Keyring, OpenedDocument, ReleaseMode, VerifiedJob
from kiosk.report import Heartbeat, JobReport, parse_heartbeat, verify_report
from kiosk.sync_step import Accepted, FeedOutcome, Known, Refused, apply_feed
from kiosk.verify import (
    TrustState,
    verify_document,
    verify_keyring,
    verify_manifest,
)

T0 = 1_790_000_000  # a fixed "now" (2026-09-21): tests never read the real clock
DAY_S = 24 * 3600
FAST_CLAIM = ClaimParams(m_kib=19456, t=1, p=1)  # the cheapest params v1 allows
RESIDENT = "SITI NURHALIZA"  # fake resident name
MAX_DOCUMENT_BYTES = 20 * 2**20  # the agent's default cap (kiosk.config.AgentConfig)
FAKE_NIK = "7408014507990000"  # structure-valid, serial 0000: never issued to anyone


def fixed_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key for tests (TEST ONLY, never for production)."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"TEST-ONLY " + label.encode()).digest()
    )


def fixed_seal_key(label: str) -> X25519PrivateKey:
    """A deterministic X25519 key for tests (TEST ONLY, never for production)."""
    return X25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"TEST-ONLY " + label.encode()).digest()
    )


def make_pdf(pages: int = 1, *, width_pt: float = 595.28, height_pt: float = 841.89) -> bytes:
    """A real, minimal PDF with blank pages (A4 by default), built in memory."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width_pt, height=height_pt)
    writer.add_metadata({"/Title": "TEST DOCUMENT"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def forge_compact(
    header: Mapping[str, object] | bytes, payload: bytes, key: Ed25519PrivateKey
) -> bytes:
    """Build a compact JWS byte by byte (any header, any payload), signed with ``key``."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    signing_input = f"{b64u_encode(header_bytes)}.{b64u_encode(payload)}".encode()
    return signing_input + b"." + b64u_encode(key.sign(signing_input)).encode()


def _id(prefix: str, n: int) -> str:
    return f"{prefix}_01JD{n:022d}"


@dataclass
class DistrictSim:
    """A district that signs on demand. Every knob is a plain attribute or argument."""

    district_code: str = "74.08"
    office_code: str = "74.08.01.2002"
    now_s: int = T0
    root: Ed25519PrivateKey = field(default_factory=lambda: fixed_key("root"))
    signers: dict[str, Ed25519PrivateKey] = field(
        default_factory=lambda: {"job-2026a": fixed_key("job-2026a")}
    )
    active_kid: str = "job-2026a"
    keyring_version: int = 1
    device_id: str = "dev_01JD0000000000000000000001"
    seal_key: X25519PrivateKey = field(default_factory=lambda: fixed_seal_key("device-seal"))
    seal_rotate_s: int | None = None  # the heads' seal_rotate claim (protocol 6.3)
    seq: int = 0
    cancelled: set[str] = field(default_factory=set)
    _serial: int = 0
    # The district link side (agent.link.DistrictLink, in memory): what it publishes and
    # what it receives. ``device_key`` verifies the kiosk's events (the fixed test key).
    device_key: Ed25519PublicKey = field(
        default_factory=lambda: fixed_key("device-auth").public_key()
    )
    clock_offset_s: int = 0
    published: list[tuple[int, bytes]] = field(default_factory=list)  # (seq, manifest)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (job, doc) -> sealed
    events: list[JobReport] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    feed_asks: list[int] = field(default_factory=list)  # the ``after`` of every feed call
    blob_asks: list[str] = field(default_factory=list)  # the doc id of every blob call
    # Faults of the link, as the real client reports them: while ``down`` is set every call
    # raises ``LinkDownError(down)``; while ``revoked`` every call is refused DEVICE_REVOKED.
    down: LinkKind | None = None
    revoked: bool = False

    # --- keys and keyring ---------------------------------------------------------------
    @property
    def signer(self) -> Signer:
        return Signer(self.active_kid, self.signers[self.active_kid])

    def keyring(self, *, version: int | None = None, window_s: int = 365 * DAY_S) -> Keyring:
        return Keyring(
            issuer=self.district_code,
            version=self.keyring_version if version is None else version,
            issued_at_s=self.now_s,
            keys=tuple(
                KeyEntry(kid, key.public_key(), self.now_s - DAY_S, self.now_s + window_s)
                for kid, key in sorted(self.signers.items())
            ),
        )

    def keyring_token(self, **kwargs: int) -> bytes:
        return sign_keyring(self.keyring(**kwargs), self.root)

    def rotate(self, new_kid: str) -> None:
        """Add a signing key (overlap: both keys listed) and make it the active one."""
        self.signers[new_kid] = fixed_key(new_kid)
        self.active_kid = new_kid
        self.keyring_version += 1

    def drop(self, kid: str) -> None:
        """Remove a signing key from the keyring."""
        del self.signers[kid]
        self.keyring_version += 1

    # --- jobs ---------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self._serial += 1
        return _id(prefix, self._serial)

    def job(
        self,
        *,
        release: ReleaseMode = ReleaseMode.STAFF,
        docs: tuple[tuple[str, bytes], ...] | None = None,
        claim_code: str | None = None,
        lifetime_s: int = 3 * DAY_S,
        issued_at_s: int | None = None,
        device_id: str | None = None,
        seal_key: X25519PrivateKey | None = None,
        signer: Signer | None = None,
        job_id: str | None = None,
    ) -> IssuedJob:
        """Issue a job (and count it in the feed's seq) with production code."""
        self.seq += 1
        documents = tuple(
            DocumentSpec(self.next_id("doc"), doc_type, pdf, title=f"Dokumen {doc_type}")
            for doc_type, pdf in (docs or (("KK", make_pdf()),))
        )
        spec = JobSpec(
            job_id=job_id or self.next_id("job"),
            seq=self.seq,
            office_code=self.office_code,
            release=release,
            resident_name=RESIDENT,
            documents=documents,
            issued_at_s=self.now_s if issued_at_s is None else issued_at_s,
            lifetime_s=lifetime_s,
            claim_code=claim_code,
            claim_params=FAST_CLAIM,
        )
        recipient = Recipient(device_id or self.device_id, (seal_key or self.seal_key).public_key())
        return issue_job(
            spec,
            district_code=self.district_code,
            recipient=recipient,
            signer=signer or self.signer,
        )

    def resign(self, job: IssuedJob, **changes: object) -> bytes:
        """Re-sign a job's manifest with some fields changed (a district-side 'bug')."""
        return sign_manifest(replace(job.manifest, **changes), self.signer)  # type: ignore[arg-type]

    def head(
        self,
        *,
        seq: int | None = None,
        issued_at_s: int | None = None,
        lifetime_s: int = 600,
        device_id: str | None = None,
        keyring_version: int | None = None,
        signer: Signer | None = None,
    ) -> bytes:
        iat = self.now_s if issued_at_s is None else issued_at_s
        head = FeedHead(
            device_id=device_id or self.device_id,
            issuer=self.district_code,
            seq=self.seq if seq is None else seq,
            issued_at_s=iat,
            expires_at_s=iat + lifetime_s,
            cancelled=frozenset(self.cancelled),
            keyring_version=self.keyring_version if keyring_version is None else keyring_version,
            seal_rotate_s=self.seal_rotate_s,
        )
        return sign_head(head, signer or self.signer)

    # --- the district link, in memory (agent.link.DistrictLink) -------------------------
    def publish(self, job: IssuedJob) -> IssuedJob:
        """Put an issued job's manifest into the feed and its sealed documents online."""
        self.published.append((job.manifest.seq, job.token))
        self.published.sort(key=lambda item: item[0])
        for doc_id, sealed in job.blobs.items():
            self.blobs[(job.manifest.job_id, doc_id)] = sealed
        return job

    def events_of(self, job_id: str) -> list[tuple[str, str | None]]:
        """(event, reason) of every event received for ``job_id``, in order."""
        return [(e.event.value, e.reason) for e in self.events if e.job_id == job_id]

    def feed(self, *, after: int, keyring_version: int, wait_s: int,
             operators_version: int = 0) -> bytes:  # fmt: skip
        """A feed answer: a head signed now, the manifests after ``after`` (at most 50)
        and the keyring when the kiosk's is older. Never waits. Raises ValueError as the
        real link does on arguments out of range."""
        if after < 0 or keyring_version < 1 or not 1 <= wait_s <= 60:
            raise ValueError("feed: after >= 0, keyring_version >= 1, wait_s in 1..60")
        self._answer()
        self.feed_asks.append(after)
        jobs = tuple(token for seq, token in self.published if seq > after)
        keyring = self.keyring_token() if keyring_version < self.keyring_version else None
        return feed_body(FeedResponse(head=self.head(), jobs=jobs[:MAX_JOBS_PER_FEED],
                                      keyring=keyring))  # fmt: skip

    def download_blob(
        self, job_id: str, doc_id: str, *, part: Path, size: int, etag: str, deadline_s: float
    ) -> int:
        """Append the rest of the sealed document to ``part`` (resuming what it holds,
        never beyond ``size``); the bytes written. Raises GoneError: ``job_cancelled`` for
        a cancelled job, ``not_found`` for a blob never published."""
        self._answer()
        self.blob_asks.append(doc_id)
        if job_id in self.cancelled:
            raise GoneError("job_cancelled")
        sealed = self.blobs.get((job_id, doc_id))
        if sealed is None:
            raise GoneError("not_found")
        with part.open("ab") as file:
            data = sealed[file.tell() : size]
            file.write(data)
        return len(data)

    def post_events(self, tokens: list[bytes]) -> list[tuple[str | None, str, str | None]]:
        """Verify each event with ``device_key`` and record it: "stored", "duplicate" (an
        event id received before) or "rejected" with its reason. Raises ValueError: not
        1…100 tokens."""
        if not 1 <= len(tokens) <= MAX_EVENTS_PER_BATCH:
            raise ValueError(f"post_events: 1..{MAX_EVENTS_PER_BATCH} events per batch")
        self._answer()
        results: list[tuple[str | None, str, str | None]] = []
        for token in tokens:
            try:
                report = verify_report(token, device_id=self.device_id,
                                       device_key=self.device_key,
                                       district_code=self.district_code)  # fmt: skip
            except RejectedError as error:
                results.append((None, "rejected", error.reason.value))
                continue
            if any(e.event_id == report.event_id for e in self.events):
                results.append((report.event_id, "duplicate", None))
                continue
            self.events.append(report)
            results.append((report.event_id, "stored", None))
        return results

    def post_heartbeat(self, body: bytes) -> int | None:
        """Record the heartbeat; the simulator's ``now_s`` as ``server_time``. Raises
        WireError for a body that is not a heartbeat."""
        self._answer()
        self.heartbeats.append(parse_heartbeat(body))
        return self.now_s

    def post_seal_key(self, key: X25519PrivateKey) -> str:
        """Make ``key`` the device's sealing key (new jobs are sealed to it); its kid."""
        self._answer()
        self.seal_key = key
        return thumbprint(key.public_key())

    def close(self) -> None:
        """Nothing to release."""

    def _answer(self) -> None:
        """Raise the fault set on the simulator, if any (before anything is recorded)."""
        if self.revoked:
            raise RejectedError(Reason.DEVICE_REVOKED)
        if self.down is not None:
            raise LinkDownError(self.down, "simulated")


@dataclass
class KioskHarness:
    """The kiosk side: trust state, tombstones and keys, driving the real recipe."""

    sim: DistrictSim
    local_now_s: int = T0
    tombstones: set[str] = field(default_factory=set)
    trust: TrustState | None = None
    seal_keys: dict[str, X25519PrivateKey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trust is None:
            self.enroll()

    def enroll(self) -> None:
        """Pin the root and take the first keyring, as enrolment does."""
        keyring = verify_keyring(
            self.sim.keyring_token(),
            district_code=self.sim.district_code,
            root_key=self.sim.root.public_key(),
            current=None,
        )
        self.trust = TrustState(
            district_code=self.sim.district_code,
            device_id=self.sim.device_id,
            root_key=self.sim.root.public_key(),
            keyring=keyring,
            head=None,
            time_floor_s=0,
        )
        self.seal_keys = {thumbprint(self.sim.seal_key.public_key()): self.sim.seal_key}

    @property
    def state(self) -> TrustState:
        assert self.trust is not None
        return self.trust

    def take_keyring(self, token: bytes) -> None:
        keyring = verify_keyring(
            token,
            district_code=self.state.district_code,
            root_key=self.state.root_key,
            current=self.state.keyring,
        )
        self.trust = replace(self.state, keyring=keyring)

    def take_head(self, token: bytes) -> FeedHead:
        """Take a head alone: ``apply_feed`` with no jobs. Raises RejectedError if refused."""
        head = self._apply(FeedResponse(head=token, jobs=(), keyring=None)).head
        assert head is not None  # _apply raised otherwise
        return head

    def take_job(self, token: bytes) -> VerifiedJob:
        """Verify a manifest and tombstone its job id (as the agent does, durably)."""
        job = verify_manifest(
            token,
            trust=self.state,
            local_now_s=self.local_now_s,
            is_known=self.tombstones.__contains__,
            seal_keys=self.seal_keys,
        )
        self.tombstones.add(job.manifest.job_id)
        return job

    def sync(self, head: bytes, jobs: list[bytes]) -> list[VerifiedJob | RejectedError]:
        """One feed answer through the agent's own order (``kiosk.sync_step.apply_feed``):
        each token's accepted job, or a RejectedError with the reason it was not."""
        outcome = self._apply(FeedResponse(head=head, jobs=tuple(jobs), keyring=None))
        out: list[VerifiedJob | RejectedError] = []
        for taken in outcome.tokens:
            if isinstance(taken, Accepted):
                out.append(taken.job)
            elif isinstance(taken, Known):
                out.append(RejectedError(Reason.REPLAYED, taken.job_id))
            else:
                out.append(RejectedError(taken.reason))
        return out

    def _apply(self, feed: FeedResponse) -> FeedOutcome:
        """``apply_feed`` on the harness's state; its trust and tombstones advance with it.
        Raises RejectedError when the head is refused (nothing else is then decided)."""
        outcome = apply_feed(
            self.state,
            feed,
            local_now_s=self.local_now_s,
            is_known=self.tombstones.__contains__,
            manifest_digest=lambda _job_id: None,
            docs_taken=lambda _doc_ids: set(),
            seal_keys=self.seal_keys,
            max_document_bytes=MAX_DOCUMENT_BYTES,
        )
        if outcome.head_refused is not None:
            raise RejectedError(outcome.head_refused)
        self.trust = outcome.trust
        for taken in outcome.tokens:
            if isinstance(taken, Accepted):
                self.tombstones.add(taken.job.manifest.job_id)
            elif isinstance(taken, Refused):
                self.tombstones.add(taken.job_id)
        return outcome

    def open(self, job: VerifiedJob, doc_id: str, blob: bytes) -> OpenedDocument:
        return verify_document(job, doc_id, blob, seal_keys=self.seal_keys)
