"""The printer factory: the adapter for a configured printer target (``kiosk.config``'s
``PrinterTarget``), by role and backend. The drivers are imported lazily: a kiosk without
pycups or python-escpos still runs its virtual printers. The agent's composition root
(:mod:`agent.app`), its commands and ``cedoka doctor`` all open printers here."""

from __future__ import annotations

from kiosk.config import PrinterRole, PrinterTarget
from kiosk.errors import CedokaError
from printers.base import Printer
from printers.receipt import ReceiptPrinter
from printers.virtual import VirtualPrinter


def open_receipt_printer(target: PrinterTarget) -> ReceiptPrinter:
    """The adapter for the configured receipt printer (ESC/POS, or a folder for demos)."""
    if target.backend == "virtual":
        from printers.virtual_receipt import VirtualReceiptPrinter

        return VirtualReceiptPrinter(target)
    from printers.escpos import EscposPrinter

    return EscposPrinter(target)


def open_any(target: PrinterTarget) -> Printer | ReceiptPrinter:
    """The adapter for any configured role (for health and the ``printers`` command).

    Raises:
        CedokaError: an A4 backend this build has no adapter for.
    """
    if target.role is PrinterRole.RECEIPT:
        return open_receipt_printer(target)
    return open_printer(target)


def open_printer(target: PrinterTarget) -> Printer:
    """The adapter for a configured A4 printer.

    Raises:
        CedokaError: a backend this build has no adapter for.
    """
    if target.backend == "virtual":
        return VirtualPrinter(target)
    if target.backend == "cups":
        from printers.cups import CupsPrinter

        return CupsPrinter(target)
    raise CedokaError(f"printers.{target.role.value}: backend {target.backend} not available yet")
