"""Sync: the feed, the verification recipe, the downloads — protocol §6, §8, §9.

One round (:meth:`Syncer.round`) long-polls the feed, verifies the keyring, the head and
every manifest in order (``kiosk.verify``), tombstones each outcome in the spool, applies
the head's cancellations, moves the feed position, and downloads the sealed documents of
the jobs received (resumable, capped, under a deadline), checking each against its
manifest in memory. A job whose documents are all stored and verified becomes ``held`` or,
for ``release=auto``, ``released`` (the dispatcher then prints it). Transport failures
propagate to the caller (the service loop), which backs off and calls again: every step
here is safe to repeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from agent import failpoints
from agent import trust as trust_store
from agent.blobs import BlobStore
from agent.jobs import JobBook, Step
from agent.keys import DeviceKeys
from agent.recent import RecentErrors
from agent.spool import JobRow, Spool
from agent.stored import StoredJobs
from kiosk.b64 import b64u_encode
from kiosk.config import AgentConfig
from kiosk.errors import GoneError, Reason, RejectedError, WireError
from kiosk.feed import parse_feed
from kiosk.keys import public_jwk
from kiosk.lifecycle import JobEvent, JobState
from kiosk.limits import MAX_JOBS_PER_FEED
from kiosk.model import ReleaseMode, VerifiedJob
from kiosk.strictjson import canonical_dumps
from kiosk.verify import (
    CURABLE_REASONS,
    TrustState,
    verify_document,
    verify_head,
    verify_keyring,
    verify_manifest,
)

log = logging.getLogger("cedoka.agent.sync")
CANCELLABLE = frozenset(
    {JobState.RECEIVED, JobState.VERIFIED, JobState.HELD, JobState.RELEASED, JobState.FAILED}
)


class FeedUnreadable(Exception):
    """The feed answer is not a v1 feed (e.g. a proxy's page): retry with backoff."""


class Syncer:
    def __init__(
        self, *, spool: Spool, book: JobBook, blobs: BlobStore, client: object,
        keys: DeviceKeys, config: AgentConfig, errors: RecentErrors,
        local_now_s: Callable[[], int], on_ready: Callable[[], None],
    ) -> None:  # fmt: skip
        self._spool, self._book, self._blobs = spool, book, blobs
        self._stored = StoredJobs(spool=spool, book=book, blobs=blobs, keys=keys,
                                  device_id=config.device_id)  # fmt: skip
        self._client = client
        self._keys, self._config, self._errors = keys, config, errors
        self._local_now_s, self._on_ready = local_now_s, on_ready
        self._gap_retried = False
        self.frozen = False  # the newest head we can get has expired (§9.8)
        self.bytes_downloaded = 0

    # --- the feed -------------------------------------------------------------------

    def round(self, wait_s: int) -> None:
        """One long-poll and everything it brings. Raises TransportError / RejectedError
        (DEVICE_REVOKED …) / FeedUnreadable for the service loop to handle."""
        self.fetch_received()  # left over from before a restart or a link failure
        trust = trust_store.load(self._spool)
        body: bytes = self._client.feed(  # type: ignore[attr-defined]
            after=trust_store.feed_after(self._spool), keyring_version=trust.keyring.version,
            wait_s=wait_s,
        )  # fmt: skip
        self.process(body)
        self.fetch_received()

    def process(self, body: bytes) -> None:
        try:
            feed = parse_feed(body)
        except WireError as error:
            raise FeedUnreadable(error.reason.value) from None
        trust = trust_store.load(self._spool)
        now = self._local_now_s()
        if feed.keyring is not None:
            try:
                keyring = verify_keyring(
                    feed.keyring, district_code=trust.district_code, root_key=trust.root_key,
                    current=trust.keyring,
                )  # fmt: skip
                trust_store.store_keyring(self._spool, feed.keyring)
                trust = trust_store.with_keyring(trust, keyring)
                log.info("event=keyring_updated version=%d", keyring.version)
            except RejectedError as error:
                self._errors.note(now, error.reason.value)
        try:
            head = verify_head(feed.head, trust=trust, local_now_s=now)
        except RejectedError as error:
            self._errors.note(now, error.reason.value)
            self.frozen = error.reason is Reason.HEAD_EXPIRED
            log.warning("event=head_rejected reason=%s", error.reason.value)
            return
        self.frozen = False
        trust = trust_store.store_head(self._spool, trust, head)
        self._client.clock_offset_s = head.issued_at_s - now  # type: ignore[attr-defined]
        highest = None
        for token in feed.jobs:
            seq = self._take(token, trust)
            if seq is not None:
                highest = seq if highest is None else max(highest, seq)
        full = len(feed.jobs) >= MAX_JOBS_PER_FEED and highest is not None
        after = highest if full and highest is not None else head.seq
        self._cancel(trust)
        trust_store.set_feed_after(self._spool, self._after_gaps(after, head.seq, now))

    def _take(self, token: bytes, trust: TrustState) -> int | None:
        """Verify one manifest and record the outcome; its seq if signature-verified."""
        try:
            job = verify_manifest(
                token, trust=trust, local_now_s=self._local_now_s(),
                is_known=self._spool.is_known, seal_keys=self._keys.seal_keys,
            )  # fmt: skip
        except RejectedError as error:
            return self._refused(error)
        too_big = [
            d for d in job.manifest.documents if d.sealed_size > self._config.max_document_bytes
        ]
        if too_big:
            self._book.refuse(job.manifest.job_id, job.manifest.seq, [
                Step(JobEvent.VERIFY_FAIL, reason=Reason.TOO_LARGE.value), Step(JobEvent.PURGE),
            ])  # fmt: skip
            return job.manifest.seq
        entry = trust.keyring.key_for(job.signer_kid)
        assert entry is not None  # verify_manifest found it
        self._book.accept(job, canonical_dumps(public_jwk(entry.public_key)))
        failpoints.reach("sync.after_accept")
        return job.manifest.seq

    def _refused(self, error: RejectedError) -> int | None:
        now = self._local_now_s()
        if error.job_id is None or error.seq is None:  # before the signature: not the district's
            self._errors.note(now, error.reason.value)
            log.warning("event=manifest_ignored reason=%s", error.reason.value)
            return None
        if error.reason in CURABLE_REASONS:  # a later head / keyring / clock may cure it
            log.info("event=manifest_deferred job=%s reason=%s", error.job_id, error.reason.value)
            return None
        if error.reason is Reason.REPLAYED:  # known already: nothing to record
            return error.seq
        if error.reason is Reason.CANCELLED:
            steps = [Step(JobEvent.CANCEL, reason="cancelled"), Step(JobEvent.PURGE)]
        else:
            steps = [Step(JobEvent.VERIFY_FAIL, reason=error.reason.value), Step(JobEvent.PURGE)]
        self._book.refuse(error.job_id, error.seq, steps)
        return error.seq

    def _cancel(self, trust: TrustState) -> None:
        assert trust.head is not None
        for job_id in sorted(trust.head.cancelled):
            row = self._spool.job(job_id)
            if row is None or row.status.state not in CANCELLABLE:
                continue  # unknown here, already ended, or paper may be out: staff decide
            if self._book.step(job_id, Step(JobEvent.CANCEL, reason="cancelled")) is not None:
                self.purge(job_id)

    def _after_gaps(self, after: int, head_seq: int, now: int) -> int:
        known = self._spool.seqs()
        gaps = [s for s in range(1, head_seq + 1) if s not in known]
        if not gaps:
            self._gap_retried = False
            return after
        if not self._gap_retried:  # re-ask once from the first gap (§9.9)
            self._gap_retried = True
            return min(after, gaps[0] - 1)
        self._errors.note(now, "seq_gap")
        return after

    # --- documents ------------------------------------------------------------------

    def reopen(self, row: JobRow) -> VerifiedJob:
        return self._stored.reopen(row)

    def fetch_received(self) -> None:
        """Download and check the documents of every ``received`` job, oldest first."""
        for row in self._spool.jobs([JobState.RECEIVED]):
            self._fetch(row)

    def _fetch(self, row: JobRow) -> None:
        job_id = row.status.job_id
        job = self.reopen(row)
        try:
            docs = self._spool.docs(job_id)
            for doc in docs:
                if doc.stored and self._blobs.has(doc.doc_id):
                    continue
                self._download(job, doc.doc_id, doc.size, doc.sha256)
                if doc is not docs[-1]:
                    failpoints.reach("sync.between_docs")
        except GoneError as gone:
            steps = {"job_expired": JobEvent.EXPIRE}.get(gone.code, JobEvent.CANCEL)
            reason = None if steps is JobEvent.EXPIRE else "cancelled"
            if self._book.step(job_id, Step(steps, reason=reason)) is not None:
                self.purge(job_id)
            return
        except RejectedError as error:
            log.warning("event=document_rejected job=%s reason=%s", job_id, error.reason.value)
            if self._book.step(job_id, Step(JobEvent.VERIFY_FAIL, reason=error.reason.value)):
                self.purge(job_id)
            return
        failpoints.reach("sync.after_store")
        after = JobEvent.AUTO_RELEASE if job.manifest.release is ReleaseMode.AUTO else JobEvent.HOLD
        if self._book.step(job_id, Step(JobEvent.VERIFY_OK), Step(after)) is not None:
            failpoints.reach("sync.after_verify")
            self._on_ready()

    def _download(self, job: VerifiedJob, doc_id: str, size: int, sha256: bytes) -> None:
        job_id = job.manifest.job_id
        for attempt in range(2):  # after a size/hash mismatch, once more from byte 0 (§8.3)
            part = self._blobs.part(doc_id)
            if part.stat().st_size > size:
                self._blobs.discard_part(doc_id)
                part = self._blobs.part(doc_id)
            started = time.monotonic()
            moved = self._client.download_blob(  # type: ignore[attr-defined]
                job_id, doc_id, part=part, size=size, etag=b64u_encode(sha256),
                deadline_s=self._config.download_deadline_s,
            )  # fmt: skip
            self.bytes_downloaded += int(moved)
            log.info("event=blob_fetched job=%s doc=%s bytes=%d ms=%.0f", job_id, doc_id, moved,
                     (time.monotonic() - started) * 1000)  # fmt: skip
            sealed = part.read_bytes()
            try:
                verify_document(job, doc_id, sealed, seal_keys=self._keys.seal_keys)
            except RejectedError as error:
                self._blobs.discard_part(doc_id)
                if attempt == 0 and error.reason in {Reason.SIZE_MISMATCH, Reason.HASH_MISMATCH}:
                    continue
                raise
            self._blobs.complete(doc_id)
            self._spool.mark_stored(doc_id)
            return

    def purge(self, job_id: str) -> None:
        self._stored.purge(job_id)
