"""The staff's desk's one error and its typed results (:mod:`agent.desk`,
:mod:`agent.desk_settings`): what the kiosk screen shows of a job, the kiosk, the settings
and the day's history. Frozen values, no I/O; the screen's HTTP layer turns them into JSON
(``ui/views.py``) and the error into HTTP (``ui/errors.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kiosk.audit import AuditEntry
from kiosk.config import AgentConfig
from kiosk.errors import CedokaError
from kiosk.freshness import Freshness
from kiosk.lifecycle import JobState
from kiosk.report import PrinterHealth
from printers.detect import DetectedPrinter


class DeskError(CedokaError):
    """A staff action refused; nothing changed (except the audit record of the refusal).

    ``kind`` ``"staff"``: ``code`` is one of ``no_job``, ``not_allowed``, ``changed``,
    ``not_found``, ``pin_wrong``, ``operator_locked`` (with ``retry_after_s``),
    ``not_supervisor``, ``bad_setting`` / ``printer_not_allowed`` (with ``field``),
    ``reprint_limit``.
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


@dataclass(frozen=True, slots=True)
class DocView:
    idx: int
    doc_type: str
    title: str
    copies: int
    print: str | None  # this round: printing, done, failed; waiting; kept (came out well
    # in an earlier round: not printed again); None: not printing
    pages: int | None = None  # None: not opened for this view (a held job without a ticket)
    sheets: int | None = None  # the A4 sheets that come out, all copies (two-sided: halved)


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
    # The district cancelled it: it ended (state cancelled), or paper was out when the
    # cancel came (printing, printed: never handed over; staff destroy the sheets).
    district_cancelled: bool = False
    # Why it does not come out now (printing or released): the A4 printer's pre-flight
    # reason (``stopped``, ``media_empty`` …), or ``busy`` behind another job; ``behind``:
    # the job the printer is on, when this one waits released behind it.
    held_up: str | None = None
    behind: str | None = None
    expires_s: int | None = None  # the signed ``exp``: not printed after it


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
    missing: tuple[str, ...] = ()  # printer drivers not installed: cups_missing, escpos_missing
    receipt_choices: tuple[DetectedPrinter, ...] = ()  # receipt printers found on this PC


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    entry: AuditEntry
    operator_name: str | None


@dataclass(frozen=True, slots=True)
class History:
    utc_offset_s: int
    entries: tuple[HistoryEntry, ...]  # today's (office time), newest first
