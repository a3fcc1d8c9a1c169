"""What the agent needs from a printer, whatever the backend (CUPS, ESC/POS, virtual).

A submission carries an **opaque title** (the job id, a document index and an attempt
number: never a name). After a crash the agent asks the printer system about that title
to learn whether the document went out, so ``status`` must tell "I have never seen it"
(``NOT_FOUND``, authoritative) from "I cannot tell" (``UNKNOWN``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Protocol

from kiosk.config import PrinterTarget
from kiosk.errors import PrinterError
from kiosk.model import PrintTicket
from kiosk.report import PrinterHealth


class Phase(enum.StrEnum):
    """Where a submitted document is, as the printer system tells it."""

    ACTIVE = "active"  # queued or printing
    DONE = "done"  # completed
    FAILED = "failed"  # aborted, cancelled or stopped at the printer
    NOT_FOUND = "not_found"  # never submitted (authoritative)
    UNKNOWN = "unknown"  # the printer system cannot answer now


@dataclass(frozen=True, slots=True)
class PrintStatus:
    phase: Phase
    reason: str | None = None  # machine code, e.g. "media_empty", "aborted"


class PrinterNotReadyError(PrinterError):
    """The pre-flight check failed: the printer cannot print now. ``reason`` is a code
    (``offline``, ``stopped``, ``not_accepting``, ``media_empty``, ``media_not_a4`` …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class PrintSubmitError(PrinterError):
    """The printer system refused or failed the submission; nothing was queued."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class PrinterUnreachableError(PrinterError):
    """The printer system did not answer: the CUPS scheduler is down, or the receipt
    printer's device cannot be opened. The drivers turn it into an ``offline`` health or a
    :class:`PrinterNotReadyError` before it reaches a caller.

    ``missing``: set when the driver itself is not installed (the ``printers`` extra brings
    pycups, python-escpos, pyusb and pyserial): the printer reason to report instead,
    :data:`CUPS_MISSING` or :data:`ESCPOS_MISSING`."""

    def __init__(self, detail: str = "", *, missing: str | None = None) -> None:
        super().__init__(detail)
        self.missing = missing


# The printer reasons of a driver that is not installed, and their health reasons.
CUPS_MISSING: Final = "cups_missing"  # pycups: no CUPS printing at all
ESCPOS_MISSING: Final = "escpos_missing"  # python-escpos (or its pyusb / pyserial)
MISSING_HEALTH_REASON: Final = {CUPS_MISSING: "cups-not-installed",
                                ESCPOS_MISSING: "escpos-not-installed"}  # fmt: skip


class Printer(Protocol):
    """One configured printer role."""

    @property
    def target(self) -> PrinterTarget: ...
    def health(self) -> PrinterHealth: ...
    def preflight(self) -> None:
        """Raise :class:`PrinterNotReadyError` when a print now would fail or come out wrong."""

    def submit(self, document: bytes, *, title: str, copies: int, ticket: PrintTicket) -> None:
        """Queue ``document`` (bytes in memory, never a file of plaintext) under ``title``.
        Raises :class:`PrintSubmitError` when nothing was queued."""

    def status(self, title: str) -> PrintStatus:
        """Where the submission ``title`` is."""
