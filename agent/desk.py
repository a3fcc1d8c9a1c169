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
from agent.dispatch import Dispatcher, NoPrinterError, PrinterBusyError
from agent.jobs import JobBook, Step
from agent.operators import Operator, OperatorBook, StaffError
from agent.release import Releaser
from agent.reporter import Reporter
from agent.spool import JobRow, Spool
from agent.stored import StoredJobs
from agent.sync import Syncer
from kiosk.config import AgentConfig, PrinterRole, office_utc_offset_s
from kiosk.doctypes import DOCUMENT_NAMES, document_name
from kiosk.errors import (
    CedokaError,
    ClaimError,
    ClaimLockedError,
    Reason,
    TransitionError,
)
from kiosk.lifecycle import JobEvent, JobState, allowed_events
from kiosk.model import Sides
from printers.base import Printer, PrinterNotReadyError, PrintSubmitError
from printers.receipt import Receipt, ReceiptPrinter

QUEUE_STATES = (JobState.HELD, JobState.RELEASED, JobState.PRINTING, JobState.PRINTED,
                JobState.FAILED)  # fmt: skip
PRINT_WAIT_S = 900  # the longest a staff action waits for a print another thread runs
RECHECK_S = 5.0  # a print by another process (``cedoka release``) sends no notification
PRINTER_CHECK_S = 2.0  # a job view reuses the A4 printer's pre-flight verdict this long
PREVIEW_STATES = frozenset({JobState.RELEASED, JobState.PRINTING, JobState.PRINTED})
COUNTED_STATES = PREVIEW_STATES | {JobState.FAILED}  # a view of these counts pages and sheets
MAX_COUNTED_DOCS = 1000  # page counts remembered (one int each); then forgotten and reread
# The lifecycle events staff trigger from the queue, and the name the screen knows each by.
STAFF_ACTIONS: Mapping[JobEvent, str] = {
    JobEvent.RELEASE: "release",
    JobEvent.RETRY: "retry",
    JobEvent.HAND_OVER: "hand_over",
    JobEvent.SPOIL: "spoil",
}
_ENDED_BY_CANCEL = frozenset({JobState.CANCELLED, JobState.PURGED})  # purged: documents gone
_PAPER_OUT = frozenset({JobState.PRINTING, JobState.PRINTED})  # a cancel cannot end it
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
        self._printer_checked: tuple[float, str | None] = (float("-inf"), None)
        self._pages: dict[str, int] = {}  # doc id -> page count (see _page_count)
        self.supervisor = SupervisorDesk(
            audit=audit, check_pin=self.check_pin, lookup=self.operator, config=config,
            printers=printers, receipt=receipt, now_s=now_s, update_settings=update_settings,
        )  # fmt: skip

    # --- views ------------------------------------------------------------------------

    def job(self, job_id: str, *, pages: bool = False) -> JobView:
        """The job as the screen shows it; each document's page and sheet count once the
        job is released (or with ``pages``: a bundle a ticket has opened).

        Raises: DeskError ``no_job``."""
        row = self._spool.job(job_id)
        if row is None:
            raise DeskError("staff", "no_job")
        status = row.status
        actions = tuple(name for event, name in STAFF_ACTIONS.items()
                        if event in allowed_events(status.state))  # fmt: skip
        # Paper was out when the district cancelled it: never handed over nor reprinted;
        # once printed, staff destroy the sheets and say so ("discard").
        paper_cancelled = self._paper_cancelled(job_id, status.state)
        if paper_cancelled:
            actions = ("discard",) if status.state is JobState.PRINTED else ()
        view = JobView(job_id=job_id, state=status.state, release=row.release,
                       received_s=row.received_s, updated_s=status.updated_at_s,
                       reason=status.reason, reprints=status.reprints,
                       actions=actions, district_cancelled=paper_cancelled,
                       expires_s=row.expires_s)  # fmt: skip
        if row.manifest is None:
            return view
        job = self._stored.reopen(row)
        titles = {t.doc_id: t.title for t in job.display.titles}
        progress: dict[int, str] = {}
        if status.state in {JobState.PRINTING, JobState.PRINTED, JobState.FAILED}:
            # a document this round does not print came out well before (a retry, a spoil)
            progress = dict.fromkeys(self._dispatcher.kept(job_id), "kept")
            for p in self._spool.prints(job_id):
                if p.round == row.rounds and p.state in _PRINT_STATE:
                    progress[p.idx] = _PRINT_STATE[p.state]
        waiting = "waiting" if status.state is JobState.PRINTING else None
        counted = pages or status.state in COUNTED_STATES
        two_sided = job.manifest.ticket.sides is not Sides.ONE_SIDED
        documents = []
        for i, d in enumerate(job.manifest.documents):
            count = self._page_count(row, d.doc_id) if counted else None
            sheets = None if count is None else d.copies * (-(-count // 2) if two_sided else count)
            documents.append(DocView(idx=i, doc_type=d.doc_type,
                                     title=titles.get(d.doc_id, d.doc_type), copies=d.copies,
                                     print=progress.get(i, waiting), pages=count,
                                     sheets=sheets))  # fmt: skip
        held_up, behind = self._held_up(job_id, status.state)
        return JobView(job_id=view.job_id, state=view.state, release=view.release,
                       received_s=view.received_s, updated_s=view.updated_s,
                       reason=view.reason, reprints=view.reprints, actions=view.actions,
                       resident_masked=job.display.resident_masked,
                       documents=tuple(documents), held_up=held_up, behind=behind,
                       district_cancelled=view.district_cancelled,
                       expires_s=view.expires_s)  # fmt: skip

    def _held_up(self, job_id: str, state: JobState) -> tuple[str | None, str | None]:
        """Why a job that should be coming out is not: while it prints, the A4 printer's
        pre-flight reason (a stopped queue, no paper …); while it waits released, that
        reason or ``busy``, and the job the printer is on."""
        if state not in {JobState.PRINTING, JobState.RELEASED}:
            return None, None
        problem = self._printer_problem()
        if state is JobState.PRINTING:
            return problem, None
        behind = next((r.status.job_id for r in self._spool.jobs([JobState.PRINTING])
                       if r.status.job_id != job_id), None)  # fmt: skip
        return (problem or ("busy" if behind else None)), behind

    def _printer_problem(self) -> str | None:
        """The A4 printer's pre-flight reason, None when ready (kept ``PRINTER_CHECK_S``:
        the printing screen asks twice a second)."""
        checked_at, problem = self._printer_checked
        if time.monotonic() - checked_at < PRINTER_CHECK_S:
            return problem
        printer = self._printers.get(PrinterRole.A4)
        problem = "no_printer" if printer is None else None
        if printer is not None:
            try:
                printer.preflight()
            except PrinterNotReadyError as error:
                problem = error.reason
        self._printer_checked = (time.monotonic(), problem)
        return problem

    def queue(self) -> list[JobView]:
        """The jobs staff may act on or watch (held, released, printing, printed, failed),
        then today's jobs the district cancelled before they printed (state ``cancelled``,
        no actions, no resident: their documents and manifest are deleted)."""
        jobs = [self.job(r.status.job_id) for r in self._spool.jobs(QUEUE_STATES)]
        return jobs + self._cancelled_since(self._office_midnight_s())

    def _cancelled_since(self, since_s: int) -> list[JobView]:
        views = []
        for job_id in reversed(self._syncer.cancelled_by_district()):
            row = self._spool.job(job_id)
            if row is None or row.status.state not in _ENDED_BY_CANCEL:
                continue  # the cancel lost a race: the job went on (printing, printed)
            if row.status.updated_at_s < since_s:
                break  # newest first: the rest are older
            documents = tuple(
                DocView(idx=d.idx, doc_type=d.doc_type, copies=d.copies, print=None,
                        title=document_name(d.doc_type, "id")
                        if d.doc_type in DOCUMENT_NAMES else d.doc_type)
                for d in self._spool.docs(job_id)
            )  # fmt: skip
            views.append(JobView(
                job_id=job_id, state=JobState.CANCELLED, release=row.release,
                received_s=row.received_s, updated_s=row.status.updated_at_s,
                reason="cancelled", reprints=row.status.reprints, actions=(),
                documents=documents, district_cancelled=True,
            ))  # fmt: skip
        return views

    def _cancelled_by_district(self, job_id: str) -> bool:
        """Whether the district cancelled this job while the kiosk had it: it ended so,
        or it was printing or printed when the cancel came."""
        row = self._spool.job(job_id)
        if row is None:
            return False
        if row.status.state in _ENDED_BY_CANCEL:
            return job_id in self._syncer.cancelled_by_district()
        return self._paper_cancelled(job_id, row.status.state)

    def _paper_cancelled(self, job_id: str, state: JobState) -> bool:
        """A printing or printed job the verified head lists as cancelled (protocol §13)."""
        return state in _PAPER_OUT and job_id in self._syncer.cancelled_in_head()

    def _refused(self, job_id: str) -> DeskError:
        """The refusal of an action the job's state does not allow: ``job_cancelled`` for
        a job the district cancelled, else ``not_allowed``."""
        code = "job_cancelled" if self._cancelled_by_district(job_id) else "not_allowed"
        return DeskError("staff", code)

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

    def change_pin(self, operator_id: str, pin: str, new_pin: str) -> Operator:
        """An operator chooses their own PIN, given the current one (also the district's
        one-time PIN, which must be changed before anything else). The new PIN stays on
        this kiosk (ADR 0034); audited as ``pin_change``.

        Raises:
            DeskError: ``not_found``, ``operator_disabled``, ``operator_locked``,
                ``pin_wrong``, ``pin_expired``, ``bad_pin``, ``pin_same``.
        """
        try:
            operator = self._operators.change_pin(operator_id, pin, new_pin)
        except StaffError as error:
            known = error.code != "not_found"
            self._audit.record("pin_change", "refused", operator=operator_id if known else None,
                               reason=error.code)  # fmt: skip
            raise DeskError("staff", error.code, retry_after_s=error.retry_after_s) from None
        self._audit.record("pin_change", operator=operator.operator_id)
        return operator

    def add_operator(self, supervisor: Operator, operator_id: str, *, name: str, role: str,
                     pin: str) -> Operator:  # fmt: skip
        """A supervisor adds a local operator on this kiosk (ADR 0034): audited as
        ``operator_add`` with the role as ``reason``, which tells the district.

        Raises:
            DeskError: ``taken``, ``bad_id``, ``bad_name``, ``bad_role``, ``bad_pin``.
        """
        try:
            added = self._operators.add(operator_id, name=name, role=role, pin=pin)
        except StaffError as error:
            raise DeskError("staff", error.code) from None
        self._audit.record("operator_add", operator=added.operator_id, reason=added.role)
        return added

    def remove_operator(self, supervisor: Operator, operator_id: str) -> None:
        """A supervisor removes a local operator (one from the district only the district
        disables: ``operator_central``); audited as ``operator_remove``.

        Raises:
            DeskError: ``not_found``, ``operator_central``, ``not_allowed`` (oneself).
        """
        found = self._operators.get(operator_id)
        if found is None:
            raise DeskError("staff", "not_found")
        if found.origin == "central":
            raise DeskError("staff", "operator_central")
        if found.operator_id == supervisor.operator_id:
            raise DeskError("staff", "not_allowed")
        try:
            self._operators.remove(operator_id)
        except StaffError as error:
            raise DeskError("staff", error.code) from None
        self._audit.record("operator_remove", operator=operator_id)

    # --- releasing and printing -------------------------------------------------------

    def claim_locked_for_s(self) -> int:
        """Seconds until a claim code may be tried again (0: now), for the code screen."""
        return self._releaser.locked_for_s()

    def match_code(self, code: str, operator: Operator) -> list[JobView]:
        """The held jobs a resident's claim code opens (nothing released yet; each
        opening audited as ``preview`` with reason ``claim_code``).

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
        for job_id in matched:  # the screen shows their pages now, printed or not
            self._audit_preview(job_id, operator, "claim_code")
        return [self.job(j, pages=True) for j in matched]

    def check_staff_release(self, job_id: str, pin: str, operator: Operator,
                            reason: str | None = None) -> JobView:  # fmt: skip
        """Staff confirm with their PIN that they release a held job themselves; the
        screen then shows its pages, so the opening is audited (``preview``, with the
        ``reason``) whether or not it is printed.

        Raises:
            DeskError: see :meth:`check_pin`; ``not_allowed`` when the job is not held
                (``job_cancelled`` when the district cancelled it).
        """
        self.check_pin(operator.operator_id, pin, action="release_staff")
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.HELD:
            raise self._refused(job_id)
        self._audit_preview(job_id, operator, reason or "other")
        return self.job(job_id, pages=True)

    def release(self, job_ids: tuple[str, ...], operator: Operator, *, by_code: bool,
                reason: str | None = None) -> list[Printed]:  # fmt: skip
        """Release and print these jobs (a matched code's, or a staff release with its
        ``reason``), after the printer pre-flight of every one of them.

        Raises:
            DeskError: kind ``printer`` from the pre-flight (nothing released);
                ``job_cancelled`` when the district cancelled one of them (nothing released
                if it was before the call; else the ones before it are), ``not_allowed``.
        """
        for job_id in job_ids:  # before anything changes: none was cancelled meanwhile,
            if self._cancelled_by_district(job_id):  # and the printers are ready
                raise DeskError("staff", "job_cancelled")
            self._preflight(job_id)
        results = []
        for job_id in job_ids:
            try:
                released = self._releaser.by_staff(job_id, operator=operator.operator_id)
            except TransitionError:  # cancelled (or changed) since the check above
                raise self._refused(job_id) from None
            if released:
                action = "release_code" if by_code else "release_staff"
                self._audit.record(action, operator=operator.operator_id, job_id=job_id,
                                   doc_types=self._doc_types(job_id), reason=reason)  # fmt: skip
            results.append(Printed(job_id, self._print_now(job_id, operator)))
        return results

    def spoil(self, job_id: str, reason: str, operator: Operator,
              docs: tuple[int, ...] | None = None) -> Printed:  # fmt: skip
        """Bad sheets: back to released (``reprints`` + 1) and the spoiled documents
        printed again — ``docs`` (indexes; None: every one); the others stay as printed.
        The job event names the document when there is one; the audit record lists the
        spoiled documents' types.

        Raises:
            DeskError: ``no_job`` (also a ``docs`` index the job does not have),
                ``reprint_limit`` (``max_reprints`` spoils already), ``not_allowed`` (not
                printed), ``changed``; kind ``printer``.
        """
        if self._cancelled_by_district(job_id):  # never reprinted: discard() instead
            raise DeskError("staff", "job_cancelled")
        all_docs = self._spool.docs(job_id)
        chosen = set(range(len(all_docs)) if docs is None else docs)
        if not all_docs or not chosen or not chosen <= set(range(len(all_docs))):
            raise DeskError("staff", "no_job")
        row = self._spool.job(job_id)
        if (
            row is not None
            and row.status.state is JobState.PRINTED
            and (row.status.reprints >= self._config().max_reprints)
        ):
            raise DeskError("staff", "reprint_limit")
        only = all_docs[next(iter(chosen))].doc_id if len(chosen) == 1 else None
        step = Step(JobEvent.SPOIL, reason=f"spoiled_{reason}", operator=operator.operator_id,
                    doc_id=only)  # fmt: skip
        try:
            if self._dispatcher.spoil(job_id, step, chosen) is None:
                raise DeskError("staff", "changed")
        except TransitionError:
            raise DeskError("staff", "not_allowed") from None
        types = tuple(d.doc_type for d in all_docs if d.idx in chosen)
        self._audit.record("spoil", operator=operator.operator_id, job_id=job_id,
                           doc_types=types, reason=step.reason)  # fmt: skip
        return Printed(job_id, self._print_now(job_id, operator))

    def discard(self, job_id: str, operator: Operator) -> JobState:
        """Staff destroyed the sheets of a printed job the district cancelled (protocol
        §13): ``spoil`` (reason ``spoiled_cancelled``) then ``cancel``, nothing reprinted;
        its documents are deleted and the queue shows it as cancelled for the day. Returns
        the job's state then (``purged``).

        Raises:
            DeskError: ``not_allowed`` unless the job is printed and the district cancelled
                it; ``changed``.
        """
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.PRINTED \
                or not self._paper_cancelled(job_id, row.status.state):  # fmt: skip
            raise DeskError("staff", "not_allowed")
        steps = (Step(JobEvent.SPOIL, reason="spoiled_cancelled", operator=operator.operator_id),
                 Step(JobEvent.CANCEL, reason="cancelled"))  # fmt: skip
        types = self._doc_types(job_id)
        self._syncer.note_cancelled(job_id)
        try:
            if self._book.step(job_id, *steps) is None:
                raise DeskError("staff", "changed")
        except TransitionError:  # e.g. the reprint limit: a person must look at it
            raise DeskError("staff", "not_allowed") from None
        self._audit.record("spoil", operator=operator.operator_id, job_id=job_id,
                           doc_types=types, reason="spoiled_cancelled")  # fmt: skip
        self._syncer.purge(job_id)
        row = self._spool.job(job_id)
        return JobState.PURGED if row is None else row.status.state

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
            DeskError: ``not_allowed`` when the job is not printed (``job_cancelled``
                when the district cancelled it: it can never be handed over).
        """
        row = self._spool.job(job_id)
        if row is None or row.status.state is not JobState.PRINTED \
                or self._cancelled_by_district(job_id):  # fmt: skip
            raise self._refused(job_id)
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
            DeskError: kind ``printer``: ``no_printer``, or why CUPS could not do it
                (``cups_unavailable``, ``cups_missing``).
        """
        printer = self._printers.get(PrinterRole.A4)
        if printer is None:
            raise DeskError("printer", "no_printer", role="a4")
        enable_queue = getattr(printer, "enable", None)
        if callable(enable_queue):
            try:
                enable_queue()
            except PrinterNotReadyError as error:
                raise DeskError("printer", error.reason, role="a4") from None
        self._audit.record("printer_enable", operator=operator.operator_id, printer="a4")
        return printer.health().state

    def history(self) -> History:
        """Today's audit records (office time), newest first, with operator names."""
        offset = office_utc_offset_s(self._config())
        midnight = self._office_midnight_s()
        names = {o.operator_id: o.name for o in self._operators.list()}
        return History(offset, tuple(
            HistoryEntry(r.entry, names.get(r.entry.operator or "", r.entry.operator))
            for r in self._audit.since(midnight)
        ))  # fmt: skip

    # --- inside -----------------------------------------------------------------------

    def _office_midnight_s(self) -> int:
        """The start of today in the office's time zone (Unix seconds)."""
        zone = timezone(timedelta(seconds=office_utc_offset_s(self._config())))
        now = datetime.fromtimestamp(self._now_s(), tz=zone)
        return int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())

    def _audit_preview(self, job_id: str, operator: Operator, reason: str) -> None:
        """A held job's documents opened for viewing: who, which job, why (``claim_code``:
        the resident's code matched)."""
        self._audit.record("preview", operator=operator.operator_id, job_id=job_id,
                           doc_types=self._doc_types(job_id), reason=reason)  # fmt: skip

    def _page_count(self, row: JobRow, doc_id: str) -> int | None:
        """The document's page count, read once from the opened PDF (in memory) and
        remembered by document id (a count is no personal data); None when it cannot be
        opened (the screen then shows no count)."""
        count = self._pages.get(doc_id)
        if count is None:
            try:
                count = self._stored.open_document(row, doc_id).page_count
            except (CedokaError, OSError):
                return None
            if len(self._pages) >= MAX_COUNTED_DOCS:
                self._pages.clear()
            self._pages[doc_id] = count
        return count

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
            raise self._refused(job_id) from None
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
            state = self._print_in_turn(job_id)
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

    def _print_in_turn(self, job_id: str) -> JobState:
        """Print the job; while the printer is on another job, wait for that job's round
        to end (woken by the dispatcher's notice in this process, tried again every
        ``RECHECK_S`` for another process) and try again, at most ``print_wait_s``: then
        the job stays released and the service prints it after.

        Raises:
            NoPrinterError, PrinterNotReadyError: as :meth:`Dispatcher.print_job`.
        """
        deadline = time.monotonic() + self._print_wait_s
        changed = self._dispatcher.changed
        while True:
            try:
                return self._dispatcher.print_job(job_id)
            except PrinterBusyError:
                left = deadline - time.monotonic()
                if left <= 0:
                    row = self._spool.job(job_id)
                    return row.status.state if row else JobState.PURGED
                with changed:  # a lost notice costs at most RECHECK_S
                    changed.wait(min(left, RECHECK_S))

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
