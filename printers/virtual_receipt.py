"""The virtual receipt printer (``virtual:/path/to/folder`` in the ``receipt`` role).

Each receipt "printed" is written as UTF-8 text, the lines of
:func:`printers.receipt.receipt_lines` and a ``[QR: <job_ref>]`` line standing in for the
QR code, to ``<folder>/receipt-<job_ref>-<n>.txt`` (``n`` = 1, 2 … for reprints), atomically:
a temporary file, fsync, ``os.replace``, fsync of the folder.

Faults for demos and tests, by marker files in the folder (as :mod:`printers.virtual`):
``OFFLINE`` (printer switched off), ``MEDIA_EMPTY`` (out of paper), ``MEDIA_LOW`` (paper
near its end: still prints), ``FAIL`` (the next receipt fails while sending: the marker is
consumed). A missing folder is "offline".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from cedoka_io.files import write_atomic
from kiosk.config import PrinterRole, PrinterTarget, VirtualPath
from kiosk.report import PrinterHealth
from printers.base import PrinterNotReadyError, PrintSubmitError
from printers.folder import folder_fault
from printers.receipt import MAX_WIDTH, MIN_WIDTH, PaperStatus, Receipt, receipt_lines

_FAULTS: Final = (("OFFLINE", "offline"), ("MEDIA_EMPTY", "media_empty"))


class VirtualReceiptPrinter:
    """A folder standing in for a receipt printer."""

    def __init__(self, target: PrinterTarget, *, width: int = 32) -> None:
        if target.role is not PrinterRole.RECEIPT or not isinstance(target.endpoint, VirtualPath):
            raise TypeError("virtual receipt printer needs a virtual: target of the receipt role")
        if not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ValueError(f"receipt width must be {MIN_WIDTH}..{MAX_WIDTH} columns")
        self._target = target
        self._width = width
        self.folder = Path(target.endpoint.path)

    @property
    def target(self) -> PrinterTarget:
        return self._target

    def _fault(self) -> str | None:
        return folder_fault(self.folder, _FAULTS)

    def paper_status(self) -> PaperStatus:
        fault = self._fault()
        if fault == "offline":
            return "unknown"
        if fault == "media_empty":
            return "out"
        return "near_end" if (self.folder / "MEDIA_LOW").exists() else "ok"

    def health(self) -> PrinterHealth:
        fault = self._fault()
        reasons: tuple[str, ...] = ()
        if fault == "media_empty":
            reasons = ("media-empty",)
        elif fault is None and (self.folder / "MEDIA_LOW").exists():
            reasons = ("media-low",)
        return PrinterHealth(
            role=self._target.role.value, backend="virtual",
            state="offline" if fault == "offline" else "idle",
            accepting=fault is None, reasons=reasons, markers=(), media=None,
        )  # fmt: skip

    def preflight(self) -> None:
        fault = self._fault()
        if fault is not None:
            raise PrinterNotReadyError(fault, f"virtual receipt printer {self.folder}")

    def print_receipt(self, receipt: Receipt) -> None:
        fault = self._fault()
        if fault is not None:
            raise PrintSubmitError(fault, "virtual receipt printer not ready")
        fail = self.folder / "FAIL"
        if fail.exists():
            fail.unlink()
            raise PrintSubmitError("send_failed", "virtual receipt printer: FAIL marker")
        lines = receipt_lines(receipt, width=self._width)
        lines.append(f"[QR: {receipt.job_ref}]".center(self._width).rstrip())
        text = "\n".join(lines) + "\n"
        try:
            write_atomic(self._next_path(receipt.job_ref), text.encode("utf-8"))
        except OSError as error:
            raise PrintSubmitError("send_failed", f"{type(error).__name__}: {error}") from None

    def receipts(self, job_ref: str) -> list[Path]:
        """The receipts written for ``job_ref``, oldest first."""
        found = []
        pattern = re.compile(rf"receipt-{re.escape(job_ref)}-([0-9]+)\.txt")
        for path in self.folder.glob(f"receipt-{job_ref}-*.txt"):
            match = pattern.fullmatch(path.name)
            if match is not None:
                found.append((int(match.group(1)), path))
        return [path for _, path in sorted(found)]

    def _next_path(self, job_ref: str) -> Path:
        existing = self.receipts(job_ref)
        n = 1 + (int(existing[-1].stem.rsplit("-", 1)[1]) if existing else 0)
        return self.folder / f"receipt-{job_ref}-{n}.txt"
