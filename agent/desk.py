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
not a sleep loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from agent.audit import AuditLog
from agent.dispatch import Dispatcher, NoPrinter
from agent.jobs import JobBook, Step
from agent.operators import Operator, OperatorBook, StaffError
from agent.release import Releaser
from agent.reporter import Reporter
from agent.spool import Spool
from agent.stored import StoredJobs
from agent.sync import Syncer
from kiosk.audit import AuditEntry
from kiosk.config import AgentConfig, PrinterRole, office_utc_offset_s
from kiosk.errors import (
    CedokaError,
    ClaimError,
    ClaimLockedError,
    ConfigError,
    PrinterNotAllowedError,
    Reason,
    TransitionError,
)
from kiosk.freshness import Freshness
from kiosk.lifecycle import JobEvent, JobState, allowed_events
from kiosk.model import PrintTicket
from kiosk.report import PrinterHealth
from kiosk.testpage import make_test_page
from printers.base import Printer, PrinterNotReady, PrintSubmitError
from printers.receipt import Language, Receipt, ReceiptPrinter, format_time

log = logging.getLogger("cedoka.agent.desk")
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
TestRole = Literal["a4", "receipt"]


class DeskError(CedokaError):
    """A staff action refused; nothing changed (except the audit record of the refusal).

    ``kind`` ``"staff"``: ``code`` is one of ``no_job``, ``not_allowed``, ``changed``,
    ``not_found``, ``pin_wrong``, ``operator_locked`` (with ``retry_after_s``),
    ``not_supervisor``, ``bad_setting`` / ``printer_not_allowed`` (with ``field``).
    ``kind`` ``"printer"``: ``code`` is a printer reason (``no_printer``, ``media_empty``
    …) and ``role`` the printer role. ``kind`` ``"claim"``: ``code`` is a claim
    :class:`~kiosk.errors.Reason` value (``claim_locked`` with ``retry_after_s``).
    """

    def __init__(self, kind: Literal["staff", "printer", "claim"], code: str, *,
                 retry_after_s: int = 0, field: str | None = None,
                 role: str | None = None) -> None:  # fmt: skip
        super().__init__(f"{kind}: {code}")
        self.kind, self.code, self.retry_after_s = kind, code, retry_after_s
        self.field, self.role = field, role


class LinkFacts(Protocol):
    """What the sync loop last saw of the district link (``agent.app.LinkState``)."""

    last_ok_s: int
    error: str | None
    revoked: bool
    lock: threading.Lock


@dataclass(frozen=True, slots=True)
class DocView:
    idx: int
    doc_type: str
    title: str
    copies: int
    print: str | None  # this round: printing, done, failed; waiting; None: not printing


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the screen shows it; ``documents`` is None once the manifest is gone."""

    job_id: str
    state: JobState
    release: str | None
    received_s: int | None
    updated_s: int
    reason: str | None
    reprints: int
    actions: tuple[str, ...]  # the staff actions its state allows (STAFF_ACTIONS values)
    resident_masked: str | None = None
    documents: tuple[DocView, ...] | None = None


@dataclass(frozen=True, slots=True)
class Printed:
    """Where a job is after a staff action that prints."""

    job_id: str
    state: JobState


@dataclass(frozen=True, slots=True)
class HandedOver:
    job_id: str
    state: JobState
    receipt: Literal["none", "printed", "failed"]
    receipt_error: str | None = None  # the receipt printer's reason when it failed


@dataclass(frozen=True, slots=True)
class LinkView:
    last_ok_s: int | None
    error: str | None
    revoked: bool
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class KioskState:
    config: AgentConfig
    utc_offset_s: int
    now_s: int
    link: LinkView
    printers: tuple[PrinterHealth, ...]
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class SettingsView:
    language: str
    printers: dict[str, str | None]  # role -> URI
    queues: tuple[str, ...]  # the local CUPS queues
    backends: dict[str, tuple[str, ...]]  # role -> backends the screen may offer


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    entry: AuditEntry
    operator_name: str | None


@dataclass(frozen=True, slots=True)
class History:
    utc_offset_s: int
    entries: tuple[HistoryEntry, ...]  # today's (office time), newest first


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
                       actions=actions)  # fmt: skip
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
                       documents=documents)  # fmt: skip

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

    def match_code(self, code: str, operator: Operator) -> list[JobView]:
        """The held jobs a resident's claim code opens (nothing released yet).

        Raises:
            DeskError: kind ``claim``: ``claim_locked`` (``retry_after_s``),
                ``claim_malformed``, ``claim_wrong`` (the last two audited but the first).
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
            job_ref=job_id[-8:], operator=operator.name, language=_receipt_language(cfg),
        )  # fmt: skip
        try:
            printer.preflight()
            printer.print_receipt(receipt)
        except (PrinterNotReady, PrintSubmitError) as error:
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

    # --- settings (supervisor) --------------------------------------------------------

    def unlock_settings(self, operator: Operator, pin: str) -> None:
        """Raises: DeskError (see :meth:`check_pin`), ``not_supervisor``."""
        checked = self.check_pin(operator.operator_id, pin, action="settings")
        if not checked.is_supervisor:
            self._audit.record("settings", "refused", operator=operator.operator_id,
                               reason="not_supervisor")  # fmt: skip
            raise DeskError("staff", "not_supervisor")

    def settings(self) -> SettingsView:
        cfg = self._config()
        roles = {t.role.value: t.uri for t in cfg.printers}
        virtual = ("virtual",) if cfg.allow_virtual_printers else ()  # folders: demo/test only
        return SettingsView(
            language=cfg.language,
            printers={"a4": roles.get("a4"), "receipt": roles.get("receipt")},
            queues=tuple(_cups_queues()),
            backends={"a4": ("cups", *virtual), "receipt": ("escpos", *virtual)},
        )

    def change_settings(self, operator: Operator, *, language: str | None,
                        printers: Mapping[PrinterRole, str | None]) -> SettingsView:  # fmt: skip
        """Change the language and printer roles (None removes the receipt printer); one
        audit record per change.

        Raises:
            DeskError: ``printer_not_allowed`` (audited) or ``bad_setting``, with ``field``.
        """
        before = self._config()
        try:
            after = self._update_settings(language=language, printers=printers)
        except PrinterNotAllowedError as error:  # a folder: only in a demo or test home
            role = PrinterRole(error.field.removeprefix("printers."))
            self._audit.record("settings", "refused", operator=operator.operator_id,
                               printer=role.value, reason="printer_not_allowed",
                               old=_printer_uri(before, role), new=printers.get(role))  # fmt: skip
            raise DeskError("staff", "printer_not_allowed", field=error.field) from None
        except ConfigError as error:
            raise DeskError("staff", "bad_setting", field=error.field) from None
        if after.language != before.language:
            self._audit.record("settings", operator=operator.operator_id, reason="language")
        for role in PrinterRole:  # one record per role changed: the printer before and after
            old, new = _printer_uri(before, role), _printer_uri(after, role)
            if old != new:
                self._audit.record("settings", operator=operator.operator_id,
                                   printer=role.value, reason="printers", old=old,
                                   new=new)  # fmt: skip
        return self.settings()

    def test_page(self, role: TestRole, operator: Operator) -> None:
        """Print the A4 test page or a test receipt.

        Raises:
            DeskError: kind ``printer`` (``no_printer``, or the printer's refusal, audited).
        """
        cfg = self._config()
        offset = office_utc_offset_s(cfg)
        when = format_time(self._now_s(), offset)
        office = f"{cfg.office_name} ({cfg.office_code})" if cfg.office_name else cfg.office_code
        try:
            if role == "a4":
                printer = self._printers.get(PrinterRole.A4)
                if printer is None:
                    raise DeskError("printer", "no_printer", role="a4")
                printer.preflight()
                printer.submit(make_test_page(office=office, when=when),
                               title=f"testpage.{self._now_s()}", copies=1,
                               ticket=PrintTicket())  # fmt: skip
            else:
                receipt_printer = self._receipt()
                if receipt_printer is None:
                    raise DeskError("printer", "no_printer", role="receipt")
                receipt_printer.preflight()
                receipt_printer.print_receipt(Receipt(
                    office_name=cfg.office_name or cfg.office_code,
                    printed_at_s=self._now_s(), utc_offset_s=offset,
                    documents=("Halaman uji / Test page",), job_ref="TEST",
                    operator=operator.name, language=_receipt_language(cfg),
                ))  # fmt: skip
        except (PrinterNotReady, PrintSubmitError) as error:
            self._audit.record("test_page", "refused", operator=operator.operator_id,
                               printer=role, reason=error.reason)  # fmt: skip
            raise DeskError("printer", error.reason, role=role) from None
        self._audit.record("test_page", operator=operator.operator_id, printer=role)

    # --- inside -----------------------------------------------------------------------

    def _doc_types(self, job_id: str) -> tuple[str, ...]:
        return tuple(d.doc_type for d in self._spool.docs(job_id))

    def _preflight(self, job_id: str) -> None:
        try:
            self._dispatcher.preflight(job_id)
        except PrinterNotReady as error:
            raise DeskError("printer", error.reason, role="a4") from None
        except NoPrinter:
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
        except PrinterNotReady as error:
            self._audit.record("print", "refused", operator=operator.operator_id,
                               job_id=job_id, doc_types=self._doc_types(job_id),
                               printer="a4", reason=error.reason)  # fmt: skip
            raise DeskError("printer", error.reason, role="a4") from None
        except NoPrinter:
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


def _printer_uri(cfg: AgentConfig, role: PrinterRole) -> str | None:
    return next((t.uri for t in cfg.printers if t.role is role), None)


def _receipt_language(cfg: AgentConfig) -> Language:
    return "en" if cfg.language == "en" else "id"  # validated as one of the two


def _cups_queues() -> list[str]:
    """The local CUPS queues a supervisor may choose for the A4 role (empty without CUPS)."""
    try:
        from printers.cups import list_queues
    except ImportError:  # pycups not installed (a virtual-printer demo)
        return []
    return list_queues()
