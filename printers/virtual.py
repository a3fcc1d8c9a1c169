"""The virtual printer (``virtual:/path/to/folder``): for demos and tests.

Each document "printed" is written, byte-identical, to ``<folder>/<title>.pdf`` (atomically:
it is there whole or not at all), with ``<title>.json`` saying the copies and ticket. The
folder *is* the print system's memory: a title whose file exists was printed, one whose
file does not was never submitted — exactly what crash reconciliation needs to ask.

Faults for demos and tests, by marker files in the folder: ``OFFLINE`` (printer switched
off), ``PAUSED`` (queue stopped), ``MEDIA_EMPTY`` (out of paper), ``FAIL`` (the next
document fails at the printer: the marker is consumed). A missing folder is "offline".
"""

from __future__ import annotations

import json
from pathlib import Path

from cedoka_io.files import write_atomic
from kiosk.config import PrinterTarget, VirtualPath
from kiosk.model import PrintTicket
from kiosk.report import PrinterHealth
from printers.base import Phase, PrinterNotReadyError, PrintStatus, PrintSubmitError
from printers.folder import folder_fault

_FAULTS = (("OFFLINE", "offline"), ("PAUSED", "stopped"), ("MEDIA_EMPTY", "media_empty"))


class VirtualPrinter:
    """A folder standing in for a printer."""

    def __init__(self, target: PrinterTarget) -> None:
        if not isinstance(target.endpoint, VirtualPath):
            raise TypeError("virtual printer needs a virtual: target")
        self._target = target
        self.folder = Path(target.endpoint.path)

    @property
    def target(self) -> PrinterTarget:
        return self._target

    def _fault(self) -> str | None:
        return folder_fault(self.folder, _FAULTS)

    def health(self) -> PrinterHealth:
        fault = self._fault()
        state = {"offline": "offline", "stopped": "stopped"}.get(fault or "", "idle")
        reasons = ("media-empty",) if fault == "media_empty" else ()
        return PrinterHealth(
            role=self._target.role.value, backend="virtual", state=state,
            accepting=fault is None, reasons=reasons, markers=(),
            media=None if fault == "offline" else "iso_a4_210x297mm",
        )  # fmt: skip

    def preflight(self) -> None:
        fault = self._fault()
        if fault is not None:
            raise PrinterNotReadyError(fault, f"virtual printer {self.folder}")

    def submit(self, document: bytes, *, title: str, copies: int, ticket: PrintTicket) -> None:
        fault = self._fault()
        if fault is not None:
            raise PrintSubmitError(fault, "virtual printer not ready")
        fail = self.folder / "FAIL"
        if fail.exists():
            fail.unlink()
            write_atomic(self.folder / f"{title}.failed", b"")
            return
        meta = {"copies": copies, "media": ticket.media, "scaling": ticket.scaling,
                "sides": ticket.sides.value}  # fmt: skip
        write_atomic(self.folder / f"{title}.json", json.dumps(meta).encode())
        write_atomic(self.folder / f"{title}.pdf", document)  # last: its presence means done

    def status(self, title: str) -> PrintStatus:
        if not self.folder.is_dir():
            return PrintStatus(Phase.UNKNOWN, "offline")
        if (self.folder / f"{title}.pdf").exists():
            return PrintStatus(Phase.DONE)
        if (self.folder / f"{title}.failed").exists():
            return PrintStatus(Phase.FAILED, "printer_error")
        return PrintStatus(Phase.NOT_FOUND)
