"""The supervisor's part of the staff's desk: unlock the settings with a supervisor's PIN,
read and change them (language, printer roles), print test pages. Every change and refusal
is audited under the supervisor whose PIN opened the settings; the one error is
:class:`~agent.desk_model.DeskError`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from agent.audit import AuditLog
from agent.desk_model import DeskError, SettingsView
from agent.operators import Operator
from kiosk.config import AgentConfig, PrinterRole, office_utc_offset_s
from kiosk.errors import ConfigError, PrinterNotAllowedError
from kiosk.model import PrintTicket
from kiosk.testpage import make_test_page
from printers.base import (
    CUPS_MISSING,
    ESCPOS_MISSING,
    Printer,
    PrinterNotReadyError,
    PrintSubmitError,
)
from printers.cups import cups_installed, list_queues
from printers.detect import receipt_candidates
from printers.escpos import escpos_installed
from printers.receipt import Language, Receipt, ReceiptPrinter, format_time

TestRole = Literal["a4", "receipt"]


class SupervisorDesk:
    """The settings screen's actions (the caller checked the settings ticket)."""

    def __init__(
        self, *, audit: AuditLog, check_pin: Callable[..., Operator],
        lookup: Callable[[str], Operator | None], config: Callable[[], AgentConfig],
        printers: Mapping[PrinterRole, Printer],
        receipt: Callable[[], ReceiptPrinter | None], now_s: Callable[[], int],
        update_settings: Callable[..., AgentConfig],
    ) -> None:  # fmt: skip
        """``check_pin``: :meth:`agent.desk.Desk.check_pin`; ``lookup``: the operator as
        stored now (:meth:`agent.desk.Desk.operator`); the others as for the desk."""
        self._audit, self._check_pin, self._config = audit, check_pin, config
        self._lookup = lookup
        self._printers, self._receipt, self._now_s = printers, receipt, now_s
        self._update_settings = update_settings

    def unlock_settings(self, operator: Operator, pin: str, *,
                        supervisor_id: str | None = None) -> Operator:  # fmt: skip
        """Open the settings on ``operator``'s session with the PIN of the supervisor
        ``supervisor_id`` (default: ``operator`` themself), who came to the counter while a
        staff member is signed in. The PIN is checked, counted and audited against the
        supervisor whose PIN it is, never against the signed-in staff member; a person who
        is no supervisor is refused before any PIN is checked.

        Returns: the supervisor (the settings' changes are recorded under them).

        Raises:
            DeskError: ``not_supervisor`` (audited), or see :meth:`agent.desk.Desk.check_pin`.
        """
        who = supervisor_id or operator.operator_id
        chosen = self._lookup(who)
        if chosen is not None and not chosen.is_supervisor:
            self._audit.record("settings", "refused", operator=who, reason="not_supervisor")
            raise DeskError("staff", "not_supervisor")
        return self._check_pin(who, pin, action="settings")

    def settings(self) -> SettingsView:
        cfg = self._config()
        roles = {t.role.value: t.uri for t in cfg.printers}
        virtual = ("virtual",) if cfg.allow_virtual_printers else ()  # folders: demo/test only
        queues = list_queues()
        return SettingsView(
            language=cfg.language,
            printers={"a4": roles.get("a4"), "receipt": roles.get("receipt")},
            queues=tuple(queues),
            backends={"a4": ("cups", *virtual), "receipt": ("escpos", *virtual)},
            missing=missing_drivers(),
            receipt_choices=tuple(
                receipt_candidates(a4_uri=roles.get("a4"), queues=lambda: queues)
            ),
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
                    operator=operator.name, language=receipt_language(cfg), test=True,
                ))  # fmt: skip
        except (PrinterNotReadyError, PrintSubmitError) as error:
            self._audit.record("test_page", "refused", operator=operator.operator_id,
                               printer=role, reason=error.reason)  # fmt: skip
            raise DeskError("printer", error.reason, role=role) from None
        self._audit.record("test_page", operator=operator.operator_id, printer=role)


def _printer_uri(cfg: AgentConfig, role: PrinterRole) -> str | None:
    return next((t.uri for t in cfg.printers if t.role is role), None)


def receipt_language(cfg: AgentConfig) -> Language:
    return "en" if cfg.language == "en" else "id"  # validated as one of the two


def missing_drivers() -> tuple[str, ...]:
    """The printer drivers this installation lacks (the ``printers`` extra), as printer
    reasons: the settings screen says so instead of failing."""
    drivers = ((CUPS_MISSING, cups_installed()), (ESCPOS_MISSING, escpos_installed()))
    return tuple(code for code, present in drivers if not present)
