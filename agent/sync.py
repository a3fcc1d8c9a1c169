"""Sync: the feed, the verification recipe, the downloads — protocol §6, §8, §9.

One round (:meth:`Syncer.round`) long-polls the feed; ``kiosk.sync_step.apply_feed``
decides the answer (the keyring, the head and every manifest in order, the cancellations,
the feed position) and :meth:`Syncer.process` persists what it decided: it tombstones each
outcome in the spool, applies the cancellations to the jobs still cancellable, re-asks
sequence gaps, moves the feed position. The round then downloads the sealed documents of
the jobs received (resumable, capped, under a deadline; the next job's while this one is
checked), checking each against its manifest in memory. A job whose documents are all
stored and verified becomes ``held`` or, for ``release=auto``, ``released`` (the
dispatcher then prints it). Last, the sealing keys take their step (:mod:`agent.sealing`:
rotate on the head's ``seal_rotate`` or the schedule, destroy former keys no job needs).
Transport failures propagate to the caller (the service loop), which backs off and calls
again: every step here is safe to repeat.

Only signed data changes a job. A blob's 404 or 410 is unsigned (anyone on the path can
send one): it never cancels or expires a job. The job's blob is asked for again with
backoff (``agent.retries``); a 410 also makes the next feed request ask at once, so the
next signed head says whether the job was cancelled; a 404 that lasts
``BLOB_NOT_FOUND_PATIENCE_S`` rejects the job as ``blob_not_found`` (protocol 8.2, 15.1).
Every manifest whose signature verified is recorded and reported, whatever else fails in
it; one bad token in an answer spoils no other; a sequence gap is re-asked with backoff for
as long as it lasts (9.9).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable

from agent import failpoints
from agent import trust as trust_store
from agent.blobs import BlobStore
from agent.client import LinkDownError, LinkKind
from agent.jobs import JobBook, Step
from agent.keys import DeviceKeys
from agent.link import DistrictLink
from agent.recent import RecentErrors
from agent.retries import RetryBook
from agent.sealing import SealKeeper, step_safely
from agent.spool import CentralOperator, DocRow, JobRow, Spool
from agent.stored import StoredJobs
from kiosk.b64 import b64u_encode
from kiosk.config import AgentConfig
from kiosk.errors import GoneError, Reason, RejectedError, WireError
from kiosk.feed import parse_feed
from kiosk.freshness import Freshness
from kiosk.keys import fingerprint_code
from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import ReleaseMode, VerifiedJob
from kiosk.operator_list import verify_operator_list
from kiosk.sync_step import (
    Accepted,
    Deferred,
    Ignored,
    Known,
    Refused,
    TokenOutcome,
    apply_feed,
    seq_gaps,
)
from kiosk.verify import TrustState, verify_document

log = logging.getLogger("cedoka.agent.sync")
# Link failures that are one answer's, not the link's: the district answered, but not with
# this blob (a 5xx, an unexpected status, a bad body). Other blobs and the feed may work.
ANSWER_FAILURES = frozenset(
    {LinkKind.HTTP_5XX, LinkKind.HTTP_STATUS, LinkKind.BAD_ANSWER, LinkKind.SIZE_MISMATCH}
)
CANCELLABLE = frozenset(
    {JobState.RECEIVED, JobState.VERIFIED, JobState.HELD, JobState.RELEASED, JobState.FAILED}
)
# The jobs this kiosk had that the district cancelled, newest last, in the spool's meta: the
# screen shows the day's as cancelled (their documents are deleted at once). Ids only.
CANCELLED_BY_DISTRICT_KEY = "cancelled_by_district"
CANCELLED_BY_DISTRICT_KEPT = 50
# A blob that keeps answering 404 is asked for again with backoff (backoff_initial_s doubling
# to backoff_max_s, jittered); when it has answered 404 at least this many times over at
# least this long, the job is rejected as blob_not_found (protocol 15.1).
BLOB_NOT_FOUND_MIN_ANSWERS = 5
BLOB_NOT_FOUND_PATIENCE_S = 3600
# A sequence gap is re-asked at once, then after about 1, 2, 4 … minutes (jittered), at
# most hourly, for as long as it lasts (protocol 9.9).
GAP_RETRY_INITIAL_S = 60.0
GAP_RETRY_MAX_S = 3600.0
_GAP = "gap"  # the key of the one gap schedule


class Syncer:
    def __init__(
        self, *, spool: Spool, book: JobBook, blobs: BlobStore, client: DistrictLink,
        keys: DeviceKeys, config: AgentConfig, errors: RecentErrors,
        local_now_s: Callable[[], int], on_ready: Callable[[], None],
        uniform: Callable[[float, float], float] = random.uniform,
        sealing: SealKeeper | None = None,
    ) -> None:  # fmt: skip
        """``sealing``: rotates and destroys the sealing keys after each round (none: the
        keys never change)."""
        self._spool, self._book, self._blobs = spool, book, blobs
        self._sealing = sealing
        self._stored = StoredJobs(spool=spool, book=book, blobs=blobs, keys=keys,
                                  device_id=config.device_id)  # fmt: skip
        self._client = client
        self._keys, self._config, self._errors = keys, config, errors
        self._local_now_s, self._on_ready = local_now_s, on_ready
        # When each received job's blobs may be asked for again after a 404 / 410, and when
        # the first sequence gap may be re-asked; ``uniform`` draws their jitter.
        self._blob_retries = RetryBook(
            initial_s=config.backoff_initial_s, max_s=config.backoff_max_s, uniform=uniform
        )
        self._gap_retries = RetryBook(
            initial_s=GAP_RETRY_INITIAL_S, max_s=GAP_RETRY_MAX_S, uniform=uniform
        )
        self._head_wanted = False  # a blob answered 410: ask for the next head at once
        # the last answer brought a keyring (or root chain) this kiosk refused: the server
        # answers the next poll at once again (its keyring is newer than ours), so the
        # service loop backs off instead of asking straight away (protocol §6.2)
        self.keyring_refused = False
        # The jobs accepted by this process, as verified then, until their documents are
        # stored (saves re-verifying the manifest: reopen).
        self._accepted: dict[str, VerifiedJob] = {}
        self._client_lock = threading.Lock()  # the sync thread and its download helper
        self.bytes_downloaded = 0

    @property
    def frozen(self) -> bool:
        """No fresh confirmation from the district (§9.8, :mod:`kiosk.freshness`)."""
        return self.freshness().frozen

    def freshness(self) -> Freshness:
        """The district's last confirmation, from the spool (as ``cedoka status`` sees it)."""
        trust = trust_store.load(self._spool)
        return trust_store.freshness(self._spool, trust, local_now_s=self._local_now_s())

    # --- the feed -------------------------------------------------------------------

    def round(self, wait_s: int) -> None:
        """One long-poll and everything it brings. Raises TransportError / RejectedError
        (DEVICE_REVOKED …) for the service loop to handle."""
        try:
            self.fetch_received()  # left over from before a restart or a link failure
        except LinkDownError as error:
            if error.kind not in ANSWER_FAILURES:
                raise  # the link itself is down: the feed would fail too
            # One blob the district fails to serve must not keep its signed head away
            # (a cancellation, new jobs): ask for the feed; the blob fails again after it.
            log.warning("event=blob_failed_before_feed kind=%s", error.kind.value)
        trust = trust_store.load(self._spool)
        # After a 410 the next signed head says what became of the job: ask without waiting.
        head_wanted, self._head_wanted = self._head_wanted, False
        body = self._client.feed(
            after=trust_store.feed_after(self._spool), keyring_version=trust.keyring.version,
            wait_s=1 if head_wanted else wait_s,
            operators_version=self._spool.operators_version(),
        )  # fmt: skip
        self.process(body)
        self.fetch_received()
        step_safely(self._sealing)  # after the head: a seal_rotate it brought, a barrier

    def process(self, body: bytes) -> None:
        """Decide one feed answer (``kiosk.sync_step.apply_feed``) and persist what it
        decided, in its order. Raises LinkDownError (``bad_answer``) when the answer is not a
        v1 feed."""
        try:
            feed = parse_feed(body)
        except WireError as error:
            raise LinkDownError(LinkKind.BAD_ANSWER, f"feed answer: {error.reason.value}") from None
        trust = trust_store.load(self._spool)
        now = self._local_now_s()
        out = apply_feed(
            trust, feed, local_now_s=now, is_known=self._spool.is_known,
            manifest_digest=self._spool.manifest_digest, docs_taken=self._spool.docs_taken,
            seal_keys=self._keys.seal_keys, max_document_bytes=self._config.max_document_bytes,
        )  # fmt: skip
        if out.keyring_token is not None:
            # a rotated root and the keyring it signed go in one transaction (crash-safe)
            if out.new_root is not None:
                failpoints.reach("sync.before_root_pinned")
            trust_store.store_keyring(self._spool, out.keyring_token, root=out.new_root)
            if out.new_root is not None:
                failpoints.reach("sync.after_root_pinned")
                log.warning("event=root_rotated version=%d fingerprint=%s", out.new_root[1],
                            fingerprint_code(out.new_root[0]))  # fmt: skip
            log.info("event=keyring_updated version=%d", out.trust.keyring.version)
        self.keyring_refused = out.keyring_refused is not None
        if out.keyring_refused is not None:
            self._errors.note(now, out.keyring_refused.value)
            log.warning("event=keyring_refused reason=%s root_chain=%s",
                        out.keyring_refused.value, "yes" if feed.root else "no")  # fmt: skip
        if out.head is None:
            assert out.head_refused is not None
            self._errors.note(now, out.head_refused.value)
            # Kept for status, doctor and the screen: answers arrive, but confirm nothing.
            trust_store.store_head_refused(self._spool, out.head_refused)
            log.warning("event=head_rejected reason=%s", out.head_refused.value)
            return
        trust_store.store_head(self._spool, trust, out.head)
        self._client.clock_offset_s = out.head.issued_at_s - now
        if feed.operators is not None:
            self._take_operators(feed.operators, out.trust, now)
        for reason in out.envelope_refused:  # an item of the envelope that is not a string
            self._errors.note(now, reason.value)
            log.warning("event=manifest_ignored reason=%s", reason.value)
        accepted: list[tuple[VerifiedJob, bytes]] = []
        for outcome in out.tokens:
            if isinstance(outcome, Accepted):
                accepted.append((outcome.job, outcome.signer_jwk))
            else:
                self._record(outcome, now)
        self._accept_all(accepted)
        self._cancel(out.cancelled)
        trust_store.set_feed_after(self._spool, self._after_gaps(out.after, out.head.seq, now))

    def _take_operators(self, token: bytes, trust: TrustState, now: int) -> None:
        """Verify the office operator list (protocol 6.6) and apply it in one transaction;
        a refused one is ignored (the stored list stays) and noted as ``operators_<reason>``."""
        try:
            listed = verify_operator_list(
                token, trust=trust, office_code=self._config.office_code,
                current_version=self._spool.operators_version(),
                seal_keys=self._keys.seal_keys, local_now_s=now,
            )  # fmt: skip
        except RejectedError as error:
            self._errors.note(now, f"operators_{error.reason.value}")
            log.warning("event=operators_refused reason=%s", error.reason.value)
            return
        central = [CentralOperator(o.operator_id, o.name, o.role, o.state, o.pin,
                                   o.pin_expires_s) for o in listed.operators]  # fmt: skip
        if self._spool.apply_operator_list(listed.version, central, now_s=now):
            log.info("event=operators_updated version=%d count=%d", listed.version, len(central))

    def _accept_all(self, accepted: list[tuple[VerifiedJob, bytes]]) -> None:
        """Tombstone the answer's new jobs (``received``) in one transaction."""
        if not accepted:
            return
        for (job, _), status in zip(accepted, self._book.accept_all(accepted), strict=True):
            if status is not None:
                self._accepted[job.manifest.job_id] = job
        failpoints.reach("sync.after_accept")

    def _record(self, outcome: TokenOutcome, now: int) -> None:
        """Persist (or note) what ``apply_feed`` decided for one manifest."""
        match outcome:
            case Accepted(job=job, signer_jwk=signer_jwk):
                self._accept_all([(job, signer_jwk)])
            case Refused(job_id=job_id, seq=seq, reason=reason):
                if outcome.docs_of_another_job:
                    log.warning("event=manifest_refused job=%s docs_of_another_job=%d", job_id,
                                outcome.docs_of_another_job)  # fmt: skip
                if reason is Reason.CANCELLED:
                    steps = [Step(JobEvent.CANCEL, reason="cancelled"), Step(JobEvent.PURGE)]
                else:
                    steps = [Step(JobEvent.VERIFY_FAIL, reason=reason.value), Step(JobEvent.PURGE)]
                if seq is None:
                    log.warning("event=manifest_seq_unreadable job=%s reason=%s", job_id,
                                reason.value)  # fmt: skip
                self._book.refuse(job_id, seq or 0, steps, manifest_sha256=outcome.manifest_sha256)
            case Deferred(job_id=job_id, reason=reason):
                log.info("event=manifest_deferred job=%s reason=%s", job_id, reason.value)
            case Ignored(reason=reason):
                self._errors.note(now, reason.value)
                log.warning("event=manifest_ignored reason=%s", reason.value)
            case Known(job_id=job_id, seq=seq, conflict=True):
                # A second signed version of the job: the first stays the job (its events
                # already went out); the conflict is logged and noted for the heartbeat.
                log.warning("event=manifest_conflict job=%s seq=%s action=kept_first", job_id,
                            "-" if seq is None else seq)  # fmt: skip
                self._errors.note(now, "manifest_conflict")

    def _cancel(self, job_ids: tuple[str, ...]) -> None:
        for job_id in job_ids:
            row = self._spool.job(job_id)
            if row is None or row.status.state not in CANCELLABLE:
                continue  # unknown here, already ended, or paper may be out: staff decide
            self.note_cancelled(job_id)  # first: a crash after the step loses no note
            if self._book.step(job_id, Step(JobEvent.CANCEL, reason="cancelled")) is not None:
                self.purge(job_id)

    def note_cancelled(self, job_id: str) -> None:
        """Remember that the district cancelled this job the kiosk had (for the screen)."""

        def add(value: bytes | None) -> bytes:
            kept = [j for j in _job_ids(value) if j != job_id][1 - CANCELLED_BY_DISTRICT_KEPT :]
            return json.dumps([*kept, job_id]).encode()

        self._spool.change_meta(CANCELLED_BY_DISTRICT_KEY, add)

    def cancelled_in_head(self) -> frozenset[str]:
        """The jobs the last verified head lists as cancelled (a printing or printed one
        stays listed: the kiosk could not cancel it, staff must decide)."""
        return trust_store.cancelled_in_head(self._spool)

    def cancelled_by_district(self) -> list[str]:
        """The last jobs this kiosk had (received, held, released or failed) that a signed
        head cancelled, newest last; a job whose cancel step lost a race is listed too (the
        caller checks the job's state)."""
        return _job_ids(self._spool.get_meta(CANCELLED_BY_DISTRICT_KEY))

    def _after_gaps(self, after: int, head_seq: int, now: int) -> int:
        """The feed position to store: ``after``, or just before the first gap when a
        re-ask is due — at once, then with backoff for as long as the gap lasts (§9.9)."""
        gaps = seq_gaps(head_seq, self._spool.seqs())
        if not gaps:
            self._gap_retries.clear(_GAP)
            return after
        if self._gap_retries.get(_GAP) is not None:  # re-asked before, still missing
            self._errors.note(now, "seq_gap")
        if not self._gap_retries.due(_GAP, now):
            return after
        schedule = self._gap_retries.failed(_GAP, now)
        log.info("event=seq_gap first=%d gaps=%d reask=%d next_in_s=%.0f", gaps[0], len(gaps),
                 schedule.backoff.failures, schedule.next_at_s - now)  # fmt: skip
        return min(after, gaps[0] - 1)

    # --- documents ------------------------------------------------------------------

    def reopen(self, row: JobRow) -> VerifiedJob:
        return self._stored.reopen(row)

    def fetch_received(self) -> None:
        """Download and check the documents of every ``received`` job, oldest first: those
        not waiting out a retry after a 404 / 410, and not expired (the dispatcher expires
        them).

        One job ahead: while one job's documents are verified, opened and stored, the next
        job's are downloaded in a helper thread (into their part files only: the spool is
        changed by this thread alone, so a crash at any instant leaves what a crash in the
        sequential order would). The helper is always waited for before this returns."""
        rows = self._spool.jobs([JobState.RECEIVED])
        self._blob_retries.keep_only(row.status.job_id for row in rows)
        wanted = {row.status.job_id for row in rows}
        for job_id in [j for j in self._accepted if j not in wanted]:
            del self._accepted[job_id]
        now, local_now = self._book.now_s(), self._local_now_s()
        due = [row for row in rows
               if (row.expires_s is None or row.expires_s > now)
               and self._blob_retries.due(row.status.job_id, local_now)]  # fmt: skip
        failed: LinkDownError | None = None
        ahead: _Prefetch | None = None  # the download of due[index], under way
        try:
            for index, row in enumerate(due):
                pending, ahead = ahead, None

                def start_next(index: int = index) -> None:
                    nonlocal ahead
                    if index + 1 < len(due):
                        job_id = due[index + 1].status.job_id
                        ahead = _Prefetch(self._download_docs, job_id, self._spool.docs(job_id))

                try:
                    self._fetch(row, pending, start_next)
                except LinkDownError as error:
                    if error.kind not in ANSWER_FAILURES:
                        raise  # the link itself is down: the next jobs would wait for it too
                    log.warning("event=blob_failed job=%s kind=%s status=%s", row.status.job_id,
                                error.kind.value, error.status)  # fmt: skip
                    failed = failed or error  # the district answered: the next job may work
                finally:
                    if pending is not None:
                        pending.wait()  # done already, unless this job failed before it
        finally:
            if ahead is not None:
                ahead.wait()  # its part files stay for the next round to resume
        if failed is not None:
            raise failed  # the service loop backs off and tries again

    def _verified(self, row: JobRow) -> VerifiedJob:
        """The job as verified when this process accepted it, else re-verified (reopen)."""
        job = self._accepted.pop(row.status.job_id, None)
        return job if job is not None else self.reopen(row)

    def _fetch(
        self, row: JobRow, pending: _Prefetch | None, start_next: Callable[[], None]
    ) -> None:
        """One job: its documents' download (``pending``: already under way in the helper
        thread), then ``start_next`` (the next job's download), then the checks, and one
        transaction that marks the documents stored and takes VERIFY_OK + HOLD / AUTO_RELEASE.
        """
        job_id = row.status.job_id
        job = self._verified(row)
        docs = self._spool.docs(job_id)
        try:
            if pending is not None:
                pending.result()
            else:
                self._download_docs(job_id, docs)
            start_next()
            self._store_docs(job, docs)
        except GoneError as gone:  # unsigned: never a cancellation by itself (§13, §15.1)
            self._blob_unavailable(job_id, gone.code)
            return
        except RejectedError as error:
            log.warning("event=document_rejected job=%s reason=%s", job_id, error.reason.value)
            if self._book.step(job_id, Step(JobEvent.VERIFY_FAIL, reason=error.reason.value)):
                self.purge(job_id)
            return
        self._blob_retries.clear(job_id)
        failpoints.reach("sync.after_store")
        after = JobEvent.AUTO_RELEASE if job.manifest.release is ReleaseMode.AUTO else JobEvent.HOLD
        stored = tuple(doc.doc_id for doc in docs)
        if self._book.step(job_id, Step(JobEvent.VERIFY_OK), Step(after), stored=stored):
            failpoints.reach("sync.after_verify")
            self._on_ready()

    def _download_docs(self, job_id: str, docs: list[DocRow]) -> None:
        """Download each of the job's documents that has no sealed file yet into its part
        file (resuming what is there). Never opens the spool (each thread would get its own
        SQLite connection): the helper thread may run it."""
        for doc in docs:
            if not self._blobs.has(doc.doc_id):
                self._download(job_id, doc.doc_id, doc.size, doc.sha256)

    def _blob_unavailable(self, job_id: str, code: str) -> None:
        """A blob of the job answered 404 ``not_found`` or 410 ``job_cancelled`` /
        ``job_expired`` / ``job_purged``. The job stays as it is and its blobs are asked
        for again after a backoff. After a 410 the next feed request asks at once: a
        cancellation comes with the signed head, an expiry by trusted time. A 404 that has
        lasted ``BLOB_NOT_FOUND_PATIENCE_S`` (and ``BLOB_NOT_FOUND_MIN_ANSWERS`` answers)
        rejects the job as ``blob_not_found``, reported to the district."""
        now = self._local_now_s()
        schedule = self._blob_retries.failed(job_id, now)
        answers, waited_s = schedule.backoff.failures, now - schedule.first_failed_s
        if code != "not_found":
            self._head_wanted = True
            self._errors.note(now, code)
            log.warning("event=blob_gone job=%s code=%s action=ask_head answers=%d "
                        "retry_in_s=%.0f", job_id, code, answers,
                        schedule.next_at_s - now)  # fmt: skip
            return
        self._errors.note(now, Reason.BLOB_NOT_FOUND.value)
        if answers < BLOB_NOT_FOUND_MIN_ANSWERS or waited_s < BLOB_NOT_FOUND_PATIENCE_S:
            log.warning("event=blob_not_found job=%s answers=%d waited_s=%d retry_in_s=%.0f",
                        job_id, answers, waited_s, schedule.next_at_s - now)  # fmt: skip
            return
        log.warning("event=document_rejected job=%s reason=%s answers=%d waited_s=%d", job_id,
                    Reason.BLOB_NOT_FOUND.value, answers, waited_s)  # fmt: skip
        self._blob_retries.clear(job_id)
        step = Step(JobEvent.VERIFY_FAIL, reason=Reason.BLOB_NOT_FOUND.value)
        if self._book.step(job_id, step) is not None:
            self.purge(job_id)

    def _download(self, job_id: str, doc_id: str, size: int, sha256: bytes) -> None:
        """Fill the document's part file from the district (one request at a time on the
        client, whichever thread asks)."""
        part = self._blobs.part(doc_id)
        if part.stat().st_size > size:
            self._blobs.discard_part(doc_id)
            part = self._blobs.part(doc_id)
        started = time.monotonic()
        with self._client_lock:
            moved = self._client.download_blob(
                job_id, doc_id, part=part, size=size, etag=b64u_encode(sha256),
                deadline_s=self._config.download_deadline_s,
            )  # fmt: skip
            self.bytes_downloaded += int(moved)
        log.info("event=blob_fetched job=%s doc=%s bytes=%d ms=%.0f", job_id, doc_id, moved,
                 (time.monotonic() - started) * 1000)  # fmt: skip

    def _store_docs(self, job: VerifiedJob, docs: list[DocRow]) -> None:
        """Check each downloaded document against its manifest (size, hash, HPKE open, PDF)
        and promote its part file to the sealed file. After a size or hash mismatch the
        document is downloaded once more from byte 0 (§8.3)."""
        job_id = job.manifest.job_id
        for doc in docs:
            if self._blobs.has(doc.doc_id):
                continue  # checked and stored before a restart
            for attempt in range(2):
                sealed = self._blobs.part(doc.doc_id).read_bytes()
                try:
                    verify_document(job, doc.doc_id, sealed, seal_keys=self._keys.seal_keys)
                except RejectedError as error:
                    self._blobs.discard_part(doc.doc_id)
                    retry = {Reason.SIZE_MISMATCH, Reason.HASH_MISMATCH}
                    if attempt == 0 and error.reason in retry:
                        self._download(job_id, doc.doc_id, doc.size, doc.sha256)
                        continue
                    raise
                break
            del sealed
            self._blobs.complete(doc.doc_id)
            if doc is not docs[-1]:
                failpoints.reach("sync.between_docs")

    def purge(self, job_id: str) -> None:
        self._stored.purge(job_id)


class _Prefetch:
    """``work(job_id, docs)`` in a daemon thread (a download must never hold the process's
    exit); :meth:`result` waits for it and raises what it raised."""

    def __init__(
        self, work: Callable[[str, list[DocRow]], None], job_id: str, docs: list[DocRow]
    ) -> None:
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(work, job_id, docs), name="prefetch",
                         daemon=True).start()  # fmt: skip

    def _run(
        self, work: Callable[[str, list[DocRow]], None], job_id: str, docs: list[DocRow]
    ) -> None:
        try:
            work(job_id, docs)
        except BaseException as error:  # handed to the sync thread by result()
            self._error = error
        finally:
            self._done.set()

    def wait(self) -> None:
        self._done.wait()

    def result(self) -> None:
        self._done.wait()
        if self._error is not None:
            raise self._error


def _job_ids(value: bytes | None) -> list[str]:
    """The stored list of job ids ([] when there is none, or it is unreadable)."""
    try:
        ids = json.loads(value) if value is not None else []
    except ValueError:
        return []
    return [j for j in ids if isinstance(j, str)] if isinstance(ids, list) else []
