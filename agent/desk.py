"""The staff's desk: every action the kiosk screen offers, as one method each, over the
agent's services (spool, job book, dispatcher, releaser, operators, audit trail, printers).

The screen's HTTP layer (:mod:`ui.api`) validates input, keeps sessions and tickets, and
maps :class:`DeskError` to HTTP; everything else is here, so no file of ``ui/`` reads the
spool. Every step staff take is written to the hash-chained audit trail. Results are typed
values (frozen dataclasses); the one error is :class:`DeskError`, whose ``kind`` says which
family of refusal it is (a staff refusal, a printer refusal, a claim-code refusal).

A job's view carries the staff actions its state allows, read from the lifecycle table
(:data:`kiosk.lifecycle.TRANSITIONS`), so the screen never derives buttons from states.
Printing waits for the dispatcher's notification (:attr:`agent.dispatch.Dispatcher.changed`),
not a sleep loop. The supervisor's settings actions are :attr:`Desk.supervisor`
(:mod:`agent.desk_settings`); the results and the error live in :mod:`agent.desk_model`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Protocol

from agent.audit import AuditLog
from agent.desk_model import (
    DeskError,
    DocView,
    HandedOver,
    History,
    HistoryEntry,
    JobView,
    KioskState,
    LinkView,
    Printed,
)
from agent.desk_settings import SupervisorDesk, receipt_language
from agent.dispatch import Dispatcher, NoPrinterError
from agent.jobs import JobBook, Step
from agent.operators import Operator, OperatorBook, StaffError
from agent.release import Releaser
from agent.reporter import Reporter
from agent.spool import Spool
from agent.stored import StoredJobs
from agent.sync import Syncer
from kiosk.config import AgentConfig, PrinterRole, office_utc_offset_s
from kiosk.errors import (
    ClaimError,
    ClaimLockedError,
    Reason,
    TransitionError,
)
from kiosk.lifecycle import JobEvent, JobState, allowed_events
from printers.base import Printer, PrinterNotReadyError, PrintSubmitError
from printers.receipt import Receipt, ReceiptPrinter

QUEUE_STATES = (JobState.HELD, JobState.RELEASED, JobState.PRINTING, JobState.PRINTED,
                JobState.FAILED)  # fmt: skip
PRINT_WAIT_S = 900  # the longest a staff action waits for a print another thread runs
RECHECK_S = 5.0  # a print by another process (``cedoka release``) sends no notification
PREVIEW_STATES = frozenset({JobState.RELEASED, JobState.PRINTING, JobState.PRINTED})
# The lifecycle events staff trigger from the queue, and the name the screen knows each by.
STAFF_ACTIONS: Mapping[JobEvent, str] = {
    JobEvent.RELEASE: "release",
    JobEvent.RETRY: "retry",
    JobEvent.HAND_OVER: "hand_over",
    JobEvent.SPOIL: "spoil",
}
_PRINT_STATE = {"intent": "printing", "submitted": "printing", "done": "done",
                "failed": "failed"}  # fmt: skip


class LinkFacts(Protocol):
    """What the sync loop last saw of the district link (``agent.app.LinkState``)."""

    last_ok_s: int
    error: str | None
    revoked: bool
    lock: threading.Lock


class Desk:
    """The staff actions of one kiosk; safe to call from several threads at once."""

    def __init__(
        self, *, spool: Spool, book: JobBook, stored: StoredJobs, dispatcher: Dispatcher,
        releaser: Releaser, operators: OperatorBook, audit: AuditLog, syncer: Syncer,
        reporter: Reporter, link: LinkFacts, config: Callable[[], AgentConfig],
        printers: Mapping[PrinterRole, Printer], receipt: Callable[[], ReceiptPrinter | None],
        now_s: Callable[[], int],
        update_settings: Callable[..., AgentConfig],
        print_wait_s: float = PRINT_WAIT_S,
    ) -> None:  # fmt: skip
        """``config`` and ``receipt``: read at each call (a settings change swaps them);
        ``printers``: the agent's dict, changed in place; ``now_s``: trusted time;
        ``update_settings``: ``Agent.update_settings``."""
        self._spool, self._book, self._stored = spool, book, stored
        self._dispatcher, self._releaser, self._operators = dispatcher, releaser, operators
        self._audit, self._syncer, self._reporter, self._link = audit, syncer, reporter, link
        self._config, self._printers, self._receipt = config, printers, receipt
        self._now_s, self._update_settings = now_s, update_settings
        self._print_wait_s = print_wait_s
        self.supervisor = SupervisorDesk(
            audit=audit, check_pin=self.check_pin, config=config, printers=printers,
            receipt=receipt, now_s=now_s, update_settings=update_settings,
        )  # fmt: skip

    # --- views ------------------------------------------------------------------------

    def job(self, job_id: str) -> JobView:
        """Raises: DeskError ``no_job``."""
        row = self._spool.job(job_id)
        if row is None:
            raise DeskError("staff", "no_job")
        status = row.status
        actions = tuple(name for event, name in STAFF_ACTIONS.items()
                        if event in allowed_events(status.state))  # fmt: skip
        view = JobView(job_id=job_id, state=status.state, release=row.release,
                       received_s=row.received_s, updated_s=status.updated_at_s,
                       reason=status.reason, reprints=status.reprints,
                       actions=actions, expires_s=row.expires_s)  # fmt: skip
        if row.manifest is None:
            return view
        job = self._stored.reopen(row)
        titles = {t.doc_id: t.title for t in job.display.titles}
        progress: dict[int, str] = {}
        if status.state in {JobState.PRINTING, JobState.PRINTED, JobState.FAILED}:
            for p in self._spool.prints(job_id):
                if p.round == row.rounds and p.state in _PRINT_STATE:
                    progress[p.idx] = _PRINT_STATE[p.state]
        waiting = "waiting" if status.state is JobState.PRINTING else None
        documents = tuple(
            DocView(idx=i, doc_type=d.doc_type, title=titles.get(d.doc_id, d.doc_type),
                    copies=d.copies, print=progress.get(i, waiting))
            for i, d in enumerate(job.manifest.documents)
        )  # fmt: skip
        return JobView(job_id=view.job_id, state=view.state, release=view.release,
                       received_s=view.received_s, updated_s=view.updated_s,
                       reason=view.reason, reprints=view.reprints, actions=view.actions,
                       resident_masked=job.display.resident_masked,
                       documents=documents, expires_s=view.expires_s)  # fmt: skip

    def queue(self) -> list[JobView]:
        """The jobs staff may act on or watch (held, released, printing, printed, failed)."""
        return [self.job(r.status.job_id) for r in self._spool.jobs(QUEUE_STATES)]

    def state(self) -> KioskState:
        """The kiosk at a glance: link, printers, counts, office, trusted now."""
        seen = self._syncer.freshness()  # the district's last confirmation (protocol 9.8)
        with self._link.lock:
            link = LinkView(last_ok_s=self._link.last_ok_s or None,
                            error=self._link.error or seen.refused,
                            revoked=self._link.revoked, freshness=seen)  # fmt: skip
        cfg = self._config()
        return KioskState(config=cfg, utc_offset_s=office_utc_offset_s(cfg),
                          now_s=self._now_s(), link=link,
                          printers=tuple(self._reporter.health()),
                          counts=self._spool.counts())  # fmt: skip

    def document_pdf(self, job_id: str, idx: int, *, ticketed: bool) -> bytes:
        """The plaintext PDF of a job's document ``idx``, for a preview: allowed with a
        ticket for the job, or once it is released.

        Raises:
            DeskError: ``no_job`` (also for a job not to be shown, or a bad ``idx``).
        """
        row = self._spool.job(job_id)
        if row is None or not (ticketed or row.status.state in PREVIEW_STATES):
            raise DeskError("staff", "no_job")
        docs = self._spool.docs(job_id)
        if not 0 <= idx < len(docs):
            raise DeskError("staff", "no_job")
        return self._stored.open_document(row, docs[idx].doc_id).pdf

    # --- signing in -------------------------------------------------------------------

    def operators(self) -> list[Operator]:
        return self._operators.list()

    def operator(self, operator_id: str) -> Operator | None:
        """The operator as stored now (None once removed)."""
        return self._operators.get(operator_id)

    def check_pin(self, operator_id: str, pin: str, *, action: str) -> Operator:
        """The operator whose PIN this is; a refusal is audited as ``action``.

        Raises:
            DeskError: ``not_found``, ``pin_wrong``, ``operator_locked`` (``retry_after_s``).
        """
        try:
            return self._operators.check(operator_id, pin)
        except StaffError as error:
            known = error.code != "not_found"
            self._audit.record(action, "refused", operator=operator_id if known else None,
                               reason=error.code)  # fmt: skip
            raise DeskError("staff", error.code, retry_after_s=error.retry_after_s) from None

    def sign_in(self, operator_id: str, pin: str) -> Operator:
        """Raises: DeskError (see :meth:`check_pin`)."""
        operator = self.check_pin(operator_id, pin, action="login_failed")
        self._audit.record("login", operator=operator.operator_id)
        return operator

    def signed_out(self, operator: Operator) -> None:
        self._audit.record("logout", operator=operator.operator_id)

    # --- releasing and printing -------------------------------------------------------

    def claim_locked_for_s(self) -> int:
        """Seconds until a claim code may be tried again (0: now), for the code screen."""
        return self._releaser.locked_for_s()

    def match_code(self, code: str, operator: Operator) -> list[JobView]:
        """The held jobs a resident's claim code opens (nothing released yet).

        Raises:
            DeskError: kind ``claim``: ``claim_locked`` (``retry_after_s``),
                ``claim_malformed``, ``claim_wrong``, and for a code whose job is no longer
                held ``claim_used``, ``claim_cancelled``, ``claim_expired`` (all audited as
                ``claim_wrong`` with that reason, but ``claim_malformed``).
        """
        try:
            matched = self._releaser.match(code)
        except ClaimLockedError as error:
            self._audit.record("claim_wrong", "refused", operator=operator.operator_id,
                               reason="claim_locked")  # fmt: skip
            raise DeskError("claim", Reason.CLAIM_LOCKED.value,
                            retry_after_s=error.retry_after_s) from None  # fmt: skip
        except ClaimError as error:
            if error.reason is not Reason.CLAIM_MALFORMED:
                self._audit.record("claim_wrong", "refused", operator=operator.operator_id,
                                   reason=error.reason.value)  # fmt: skip
            raise DeskError("claim", error.reason.value) from None
        return [self.job(j) for j in matched]

    def check_staff_release(self, job_id: str, pin: str, operator: Operator) -> JobView:
        """Staff confirm with their PIN that they release a held job themselves.

        Raises:
            DeskError: see :meth:`check_pin`; ``not_allowed`` when the job is not held.
        """
        self.check_pin(operator.operator_id, pin, action="release_staff")
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.HELD:
            raise DeskError("staff", "not_allowed")
        return self.job(job_id)

    def release(self, job_ids: tuple[str, ...], operator: Operator, *, by_code: bool,
                reason: str | None = None) -> list[Printed]:  # fmt: skip
        """Release and print these jobs (a matched code's, or a staff release with its
        ``reason``), after the printer pre-flight of every one of them.

        Raises:
            DeskError: kind ``printer`` from the pre-flight (nothing released).
        """
        for job_id in job_ids:  # before anything changes: the printers are ready
            self._preflight(job_id)
        results = []
        for job_id in job_ids:
            if self._releaser.by_staff(job_id, operator=operator.operator_id):
                action = "release_code" if by_code else "release_staff"
                self._audit.record(action, operator=operator.operator_id, job_id=job_id,
                                   doc_types=self._doc_types(job_id), reason=reason)  # fmt: skip
            results.append(Printed(job_id, self._print_now(job_id, operator)))
        return results

    def spoil(self, job_id: str, reason: str, operator: Operator) -> Printed:
        """A bad sheet: back to released (``reprints`` + 1) and printed again.

        Raises:
            DeskError: ``not_allowed``, ``changed``; kind ``printer``.
        """
        step = Step(JobEvent.SPOIL, reason=f"spoiled_{reason}", operator=operator.operator_id)
        return self._step_and_print(job_id, step, operator, "spoil")

    def retry(self, job_id: str, operator: Operator) -> Printed:
        """A failed print, printed again (only what did not come out).

        Raises:
            DeskError: ``not_allowed``, ``changed``; kind ``printer``.
        """
        step = Step(JobEvent.RETRY, operator=operator.operator_id)
        return self._step_and_print(job_id, step, operator, "retry")

    def hand_over(self, job_id: str, operator: Operator) -> HandedOver:
        """Staff confirm the paper went to the resident; the receipt prints (its failure
        is no refusal: the documents are valid).

        Raises:
            DeskError: ``not_allowed`` when the job is not printed.
        """
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.PRINTED:
            raise DeskError("staff", "not_allowed")
        types = self._doc_types(job_id)
        titles = [d.title for d in self.job(job_id).documents or ()]
        state = self._dispatcher.hand_over(job_id, operator.operator_id)
        self._audit.record("handover", state.value, operator=operator.operator_id,
                           job_id=job_id, doc_types=types)  # fmt: skip
        if state not in {JobState.HANDED_OVER, JobState.PURGED} or not titles:
            return HandedOver(job_id, state, "none")
        printer = self._receipt()
        if printer is None:
            return HandedOver(job_id, state, "none")
        cfg = self._config()
        receipt = Receipt(
            office_name=cfg.office_name or cfg.office_code, printed_at_s=self._now_s(),
            utc_offset_s=office_utc_offset_s(cfg), documents=tuple(titles),
            job_ref=job_id[-8:], operator=operator.name, language=receipt_language(cfg),
        )  # fmt: skip
        try:
            printer.preflight()
            printer.print_receipt(receipt)
        except (PrinterNotReadyError, PrintSubmitError) as error:
            self._audit.record("receipt", "failed", operator=operator.operator_id,
                               job_id=job_id, printer="receipt", reason=error.reason)  # fmt: skip
            return HandedOver(job_id, state, "failed", error.reason)
        self._audit.record("receipt", "printed", operator=operator.operator_id, job_id=job_id,
                           printer="receipt")  # fmt: skip
        return HandedOver(job_id, state, "printed")

    def enable_printer(self, operator: Operator) -> str:
        """Resume the A4 queue (CUPS); returns the printer's state.

        Raises:
            DeskError: kind ``printer`` ``no_printer``.
        """
        printer = self._printers.get(PrinterRole.A4)
        if printer is None:
            raise DeskError("printer", "no_printer", role="a4")
        enable_queue = getattr(printer, "enable", None)
        if callable(enable_queue):
            enable_queue()
        self._audit.record("printer_enable", operator=operator.operator_id, printer="a4")
        return printer.health().state

    def history(self) -> History:
        """Today's audit records (office time), newest first, with operator names."""
        offset = office_utc_offset_s(self._config())
        zone = timezone(timedelta(seconds=offset))
        now = datetime.fromtimestamp(self._now_s(), tz=zone)
        midnight = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        names = {o.operator_id: o.name for o in self._operators.list()}
        return History(offset, tuple(
            HistoryEntry(r.entry, names.get(r.entry.operator or "", r.entry.operator))
            for r in self._audit.since(midnight)
        ))  # fmt: skip

    # --- inside -----------------------------------------------------------------------

    def _doc_types(self, job_id: str) -> tuple[str, ...]:
        return tuple(d.doc_type for d in self._spool.docs(job_id))

    def _preflight(self, job_id: str) -> None:
        try:
            self._dispatcher.preflight(job_id)
        except PrinterNotReadyError as error:
            raise DeskError("printer", error.reason, role="a4") from None
        except NoPrinterError:
            raise DeskError("printer", "no_printer", role="a4") from None

    def _step_and_print(self, job_id: str, step: Step, operator: Operator,
                        action: str) -> Printed:  # fmt: skip
        try:
            if self._book.step(job_id, step) is None:
                raise DeskError("staff", "changed")
        except TransitionError:
            raise DeskError("staff", "not_allowed") from None
        self._audit.record(action, operator=operator.operator_id, job_id=job_id,
                           doc_types=self._doc_types(job_id), reason=step.reason)  # fmt: skip
        return Printed(job_id, self._print_now(job_id, operator))

    def _print_now(self, job_id: str, operator: Operator) -> JobState:
        """Print a released job, wait while another thread or process prints it, audit
        the outcome.

        Raises:
            DeskError: kind ``printer`` before anything was submitted (the job stays
                released; a not-ready printer is audited).
        """
        try:
            state = self._dispatcher.print_job(job_id)
        except PrinterNotReadyError as error:
            self._audit.record("print", "refused", operator=operator.operator_id,
                               job_id=job_id, doc_types=self._doc_types(job_id),
                               printer="a4", reason=error.reason)  # fmt: skip
            raise DeskError("printer", error.reason, role="a4") from None
        except NoPrinterError:
            raise DeskError("printer", "no_printer", role="a4") from None
        if state is JobState.PRINTING:  # the service took it
            state = self._wait_printed(job_id)
        row = self._spool.job(job_id)
        self._audit.record(
            "print", state.value, operator=operator.operator_id, job_id=job_id,
            doc_types=self._doc_types(job_id), printer="a4",
            reason=row.status.reason if row and state is JobState.FAILED else None,
        )  # fmt: skip
        return state

    def _wait_printed(self, job_id: str) -> JobState:
        """Wait until the job leaves ``printing`` (at most ``print_wait_s``): woken by the
        dispatcher's notification after each print in this process; read again every
        ``RECHECK_S`` for a print by another process, which cannot notify us."""
        deadline = time.monotonic() + self._print_wait_s
        changed = self._dispatcher.changed
        with changed:  # the state is read under the lock the notifier takes: no lost wake-up
            while True:
                row = self._spool.job(job_id)
                state = row.status.state if row else JobState.PURGED
                left = deadline - time.monotonic()
                if state is not JobState.PRINTING or left <= 0:
                    return state
                changed.wait(min(left, RECHECK_S))
