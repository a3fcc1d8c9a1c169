"""Printing, exactly once: released jobs to the printers, and the recovery sweep.

The order of durable steps for one job (ADR 0008):

1. ``submit``: the job becomes ``printing`` and a new **print round** starts (one spool
   transaction, with its event);
2. per document: the **intent** (journal row, title ``<job>.<round>.<doc index>``) is
   committed *before* the printer sees anything; the document is opened in memory and
   submitted under that opaque title; the row becomes ``submitted``; the printer is
   followed until the document is done or failed, and the row says so;
3. ``print_done`` (every document done), else ``print_fail`` with the printer's reason.

After a crash, :meth:`Dispatcher.recover` asks the printer about every ``intent`` or
``submitted`` title: *done* → recorded done; *failed* → failed; *not found* (the printer
never had it) → the intent is void and the document is submitted now; *unknown* → the job
becomes ``failed`` with ``unknown_after_restart`` and a person decides. So a crash at any
instant neither loses a job nor prints a document twice. A retry after a failure prints
only the documents that did not come out; a spoil (:meth:`Dispatcher.spoil`) reprints only
the documents staff reported spoiled.

**The printing lock** (``printing.lock``, ADR 0024) is held by whoever runs a print round,
from before ``submit`` until the round has ended, so while it is held by us every other job
left ``printing`` is an orphan of a crash: that is what lets the sweep run. It is never
waited for: a print that finds it held (another job is being followed, maybe for minutes
on a stopped queue) raises :class:`PrinterBusyError` at once and the job stays released,
to be printed after the other one; a sweep that finds it held is left for the next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from agent import failpoints
from agent import trust as trust_store
from agent.files import exclusive_lock
from agent.jobs import JobBook, Step
from agent.recent import RecentErrors
from agent.spool import DocRow, JobRow, PrintRow, Spool
from agent.stored import StoredJobs
from kiosk.clock import trusted_now
from kiosk.config import DEFAULT_ROUTING, AgentConfig, PrinterRole, role_for
from kiosk.errors import ConfigError, Reason, RejectedError, TransitionError
from kiosk.lifecycle import JobEvent, JobState, JobStatus
from kiosk.model import VerifiedJob
from kiosk.verify import check_printable_now, verify_document
from printers.base import Phase, Printer, PrinterNotReadyError, PrintSubmitError

log = logging.getLogger("cedoka.agent.dispatch")
FIRST_POLL_S = 0.02  # then doubling up to poll_s: done within ~20 % of the printer's time
# The longest pause between two status asks of the document being printed: an ask is one
# job's attributes (CUPS: by the job id, ~0.2 ms), so completion is noticed within ~50 ms.
POLL_S = 0.05
EXPIRABLE = (JobState.RECEIVED, JobState.VERIFIED, JobState.HELD, JobState.RELEASED,
             JobState.FAILED)  # fmt: skip


class NoPrinterError(ConfigError):
    """A document's role has no printer configured."""


class PrinterBusyError(PrinterNotReadyError):
    """The printer is on another job (its print round holds the printing lock, in this
    process or another); nothing changed, the job stays released and is printed after it.

    ``reason``: ``busy`` when the printer itself is ready (the other job is coming out),
    else the printer's pre-flight reason (``stopped``, ``offline``, ``media_empty`` …:
    why the other job is stuck); ``printing``: that job's id, when the spool names one.
    """

    def __init__(self, reason: str, *, printing: str | None) -> None:
        super().__init__(reason, f"the printer is on job {printing or '(another process)'}")
        self.printing = printing


def title_for(job_id: str, round_: int, idx: int) -> str:
    """The opaque print-job title: ids only, never a name."""
    return f"{job_id}.{round_}.{idx}"


class Dispatcher:
    def __init__(
        self, *, spool: Spool, book: JobBook, stored: StoredJobs,
        printers: Mapping[PrinterRole, Printer], config: AgentConfig, errors: RecentErrors,
        local_now_s: Callable[[], int], lock_path: Path, poll_s: float = POLL_S,
        print_deadline_s: float = 900,
    ) -> None:  # fmt: skip
        self._spool, self._book, self._stored = spool, book, stored
        self._printers, self._config, self._errors = printers, config, errors
        self._local_now_s, self._poll_s = local_now_s, poll_s
        self._deadline_s = print_deadline_s
        self._lock_path = lock_path  # one print round at a time: `run` or `release`
        self._recover_pending = False  # the start-up sweep found the lock held
        # Notified (notify_all) after each print, recovery or hand-over in this process:
        # a staff action waits on it for a print another thread runs (agent.desk).
        self.changed = threading.Condition()

    # --- checks before printing -------------------------------------------------------

    def printer_for(self, doc_type: str) -> Printer:
        try:
            role = role_for(self._config, doc_type)
        except ConfigError:  # not routed (no printer was configured for it at enrolment)
            role = dict(DEFAULT_ROUTING).get(doc_type, PrinterRole.A4)
        printer = self._printers.get(role)
        if printer is None:
            raise NoPrinterError(
                f"printers.{role.value}", f"no printer configured for role {role.value}"
            )
        return printer

    def preflight(self, job_id: str) -> None:
        """Every printer the job needs is there and ready.

        Raises:
            NoPrinterError, PrinterNotReadyError.
        """
        for printer in {id(p): p for p in (self.printer_for(d.doc_type)
                                          for d in self._spool.docs(job_id))}.values():  # fmt: skip
            printer.preflight()

    # --- printing ---------------------------------------------------------------------

    def print_released(self) -> None:
        """Print every released job, oldest first, and those released meanwhile (errors
        are noted, the loop goes on); a sweep put off at start-up runs first. Stops when
        the printer is on another process's job: the next pass tries again."""
        if self._recover_pending and not self.recover():
            return
        tried: set[str] = set()
        while row := next((r for r in self._spool.jobs([JobState.RELEASED])
                           if r.status.job_id not in tried), None):  # fmt: skip
            tried.add(row.status.job_id)
            try:
                self.print_job(row.status.job_id)
            except PrinterBusyError as error:
                log.info("event=print_waiting job=%s printing=%s reason=%s",
                         row.status.job_id, error.printing, error.reason)  # fmt: skip
                return
            except (NoPrinterError, PrinterNotReadyError) as error:
                reason = error.reason if isinstance(error, PrinterNotReadyError) else "no_printer"
                self._errors.note(self._local_now_s(), reason)
                log.warning("event=print_blocked job=%s reason=%s", row.status.job_id, reason)

    def print_job(self, job_id: str) -> JobState:
        """Print one released job; returns the state it ends in (a job that is not
        released is left as it is: its state is returned).

        Raises:
            PrinterBusyError: at once, when another job's print round holds the printer.
            NoPrinterError, PrinterNotReadyError: before anything is submitted.
            In each case the job stays released.
        """
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.RELEASED:
            return row.status.state if row else JobState.PURGED
        try:
            with exclusive_lock(self._lock_path, wait=False) as held:
                if not held:
                    raise self._busy()
                return self._print_job(job_id)
        finally:
            self._notify()

    def _busy(self) -> PrinterBusyError:
        """Which job holds the printer, and whether the printer itself can go on."""
        printing = next((r.status.job_id for r in self._spool.jobs([JobState.PRINTING])), None)
        reason = "busy"
        if printing is not None:
            try:
                self.preflight(printing)
            except PrinterNotReadyError as error:
                reason = error.reason
            except NoPrinterError:
                reason = "no_printer"
        return PrinterBusyError(reason, printing=printing)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def _print_job(self, job_id: str) -> JobState:
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.RELEASED:
            return row.status.state if row else JobState.PURGED
        job = self._stored.reopen(row)
        trust = trust_store.load(self._spool)
        try:
            check_printable_now(job, trust=trust, local_now_s=self._local_now_s())
        except RejectedError as error:
            event = JobEvent.EXPIRE if error.reason is Reason.EXPIRED else JobEvent.CANCEL
            reason = None if event is JobEvent.EXPIRE else "cancelled"
            if self._book.step(job_id, Step(event, reason=reason)) is not None:
                self._stored.purge(job_id)
            return self._current(job_id)
        self.preflight(job_id)
        if self._book.step(job_id, Step(JobEvent.SUBMIT)) is None:
            return self._current(job_id)  # someone else took it
        failpoints.reach("print.after_submit_state")
        return self._run_round(job_id, job)

    def _current(self, job_id: str) -> JobState:
        row = self._spool.job(job_id)
        return row.status.state if row else JobState.PURGED

    def _run_round(self, job_id: str, job: VerifiedJob) -> JobState:
        """Print what the current round still needs, follow it, and end the round."""
        row = self._spool.job(job_id)
        assert row is not None
        journal = {(p.round, p.idx): p for p in self._spool.prints(job_id)}
        done_before = self._done_since_last_complete(row, journal)
        failed: str | None = None
        for doc in self._spool.docs(job_id):
            if doc.idx in done_before:
                continue
            entry = journal.get((row.rounds, doc.idx))
            outcome = self._print_doc(job, row, doc, entry)
            if outcome is not None:
                failed = outcome
                break
        if failed is None:
            new = self._book.step(job_id, Step(JobEvent.PRINT_DONE))
        elif failed == "unknown_after_restart":
            new = self._book.step(job_id, Step(JobEvent.RECONCILE_LOST))
        else:
            new = self._book.step(job_id, Step(JobEvent.PRINT_FAIL, reason=failed))
        if new is not None:
            failpoints.reach("print.after_printed")
        return self._current(job_id)

    def _done_since_last_complete(
        self, row: JobRow, journal: Mapping[tuple[int, int], PrintRow]
    ) -> set[int]:
        """Documents that came out well in an earlier round (a retry or a spoil's reprint
        skips them): a ``done`` row staff marked spoiled does not count. A round where every
        document came out and none was marked ends that (a spoil recorded before spoils
        named their documents reprints the whole bundle)."""
        count = len(self._spool.docs(row.status.job_id))
        done: set[int] = set()
        for round_ in range(1, row.rounds):
            in_round = {idx for (r, idx), p in journal.items()
                        if r == round_ and p.state == "done" and p.reason is None}  # fmt: skip
            done |= in_round
            if len(done) == count:
                done = set()
        return done

    def _print_doc(
        self, job: VerifiedJob, row: JobRow, doc: DocRow, entry: PrintRow | None
    ) -> str | None:
        """Get one document printed in this round; None when done, else the fail reason."""
        printer = self.printer_for(doc.doc_type)
        title = title_for(row.status.job_id, row.rounds, doc.idx)
        now = self._book.now_s
        if entry is not None and entry.state in {"intent", "submitted"}:
            status = printer.status(title)  # after a crash: what does the printer know?
            if status.phase is Phase.NOT_FOUND and entry.state == "intent":
                self._spool.print_mark(title, "void", at_s=now())
                entry = None
            elif status.phase in {Phase.NOT_FOUND, Phase.UNKNOWN}:
                self._spool.print_mark(title, "failed", at_s=now(), reason="unknown_after_restart")
                return "unknown_after_restart"
        elif entry is not None and entry.state == "done":
            return None
        elif entry is not None and entry.state == "failed":
            return entry.reason or "printer_error"
        if entry is None:
            opened = verify_document(
                job, doc.doc_id, self._stored.read_sealed(doc.doc_id),
                seal_keys=self._stored.seal_keys,
            )  # fmt: skip
            self._spool.print_intent(title, row.status.job_id, row.rounds, doc.idx, at_s=now())
            failpoints.reach("print.after_intent")
            try:
                printer.submit(opened.pdf, title=title, copies=doc.copies,
                               ticket=job.manifest.ticket)  # fmt: skip
            except PrintSubmitError as error:
                self._spool.print_mark(title, "void", at_s=now(), reason=error.reason)
                return error.reason
            del opened  # plaintext only as long as needed
            failpoints.reach("print.after_submit")
            self._spool.print_mark(title, "submitted", at_s=now())
        return self._follow(printer, title)

    def _follow(self, printer: Printer, title: str) -> str | None:
        deadline = time.monotonic() + self._deadline_s
        pause = min(FIRST_POLL_S, self._poll_s)  # a fast printer is noticed at once
        while True:
            status = printer.status(title)
            if status.phase is Phase.DONE:
                failpoints.reach("print.after_done")
                self._spool.print_mark(title, "done", at_s=self._book.now_s())
                log.info("event=document_printed title=%s", title)
                return None
            if status.phase is Phase.FAILED:
                reason = status.reason or "printer_error"
                self._spool.print_mark(title, "failed", at_s=self._book.now_s(), reason=reason)
                return reason
            if time.monotonic() > deadline:  # never "printed" on a guess
                self._spool.print_mark(title, "failed", at_s=self._book.now_s(),
                                       reason="unknown_after_restart")  # fmt: skip
                return "unknown_after_restart"
            time.sleep(pause)
            pause = min(pause * 2, self._poll_s)

    # --- after a crash, and housekeeping ----------------------------------------------

    def recover(self) -> bool:
        """The start-up sweep: finish or settle every job left ``printing``; returns
        whether it ran. Under the printing lock, not waited for: while a ``cedoka release``
        prints, its job is not mistaken for a crash, and the sweep is put off to the next
        :meth:`print_released` (whenever we hold the lock, a job left ``printing`` is an
        orphan: every print round holds the lock from ``submit`` to its end)."""
        try:
            with exclusive_lock(self._lock_path, wait=False) as held:
                if not held:
                    self._recover_pending = True
                    log.info("event=recover_deferred reason=busy")
                    return False
                self._recover_pending = False
                self._recover()
                return True
        finally:
            self._notify()

    def _recover(self) -> None:
        for row in self._spool.jobs([JobState.PRINTING]):
            job_id = row.status.job_id
            log.info("event=recover job=%s round=%d", job_id, row.rounds)
            try:
                self._run_round(job_id, self._stored.reopen(row))
            except (NoPrinterError, RejectedError) as error:
                reason = (
                    "no_printer" if isinstance(error, NoPrinterError) else "unknown_after_restart"
                )
                self._book.step(job_id, Step(JobEvent.RECONCILE_LOST))
                self._errors.note(self._local_now_s(), reason)

    def expire_due(self) -> None:
        """Expire unprinted jobs past their signed ``exp`` (trusted time), and purge them."""
        trust = trust_store.load(self._spool)
        now = trusted_now(local_now_s=self._local_now_s(), floor_s=trust.time_floor_s)
        for row in self._spool.jobs(EXPIRABLE):
            due = row.expires_s is not None and row.expires_s <= now
            if due and self._book.step(row.status.job_id, Step(JobEvent.EXPIRE)) is not None:
                self._stored.purge(row.status.job_id)

    def kept(self, job_id: str) -> set[int]:
        """The documents the current round does not print: they came out well before."""
        row = self._spool.job(job_id)
        if row is None:
            return set()
        journal = {(p.round, p.idx): p for p in self._spool.prints(job_id)}
        return self._done_since_last_complete(row, journal)

    def spoil(self, job_id: str, step: Step, docs: set[int]) -> JobStatus | None:
        """A printed job back to released (``step``: its spoil) with the sheets of ``docs``
        (document indexes) marked spoiled, in one transaction: the next round reprints
        those documents only. None when the job moved meanwhile.

        Raises:
            TransitionError: the job is not printed, or the reprint limit is reached.
        """
        latest: dict[int, PrintRow] = {}
        for p in self._spool.prints(job_id):  # ordered by round: the last done row wins
            if p.idx in docs and p.state == "done" and p.reason is None:
                latest[p.idx] = p
        titles = tuple(p.title for p in latest.values())
        new = self._book.step(job_id, step, spoiled=titles)
        log.info("event=spoil job=%s docs=%s", job_id, ",".join(map(str, sorted(docs))))
        return new

    def hand_over(self, job_id: str, operator: str) -> JobState:
        """Staff confirm the paper went to the resident: hand over, then purge.

        Raises:
            TransitionError: ``job_cancelled`` when the verified head lists the job as
                cancelled (protocol §13: a cancelled job is never handed over, whichever
                door — the screen or ``cedoka release --handed-over`` — asks).
        """
        if job_id in trust_store.cancelled_in_head(self._spool):
            raise TransitionError(f"job_cancelled: the district cancelled {job_id}")
        if self._book.step(job_id, Step(JobEvent.HAND_OVER, operator=operator)) is not None:
            self._stored.purge(job_id)
        self._notify()
        return self._current(job_id)
