"""The receipt printers this PC can see, for the settings screen to offer (a touch screen
has no keyboard to type ``escpos:usb:04b8:0e15``).

- **USB**: the devices with a USB *printer* interface (class 7), read from sysfs
  (``/sys/bus/usb/devices``: ``bInterfaceClass`` of each interface, ``idVendor``,
  ``idProduct``, ``manufacturer`` and ``product`` of its device). Nothing is opened and
  neither pyusb nor python-escpos is needed: this works on an install without the printers
  extra, and while the kernel's ``usblp`` driver (``/dev/usb/lp*``) holds the device. Each
  becomes ``escpos:usb:VVVV:PPPP``, which python-escpos opens through pyusb (detaching
  ``usblp``; the installer's udev rule gives the printer class to group ``lp``). A receipt
  printer that does not call itself a printer (vendor class 255) is not found: district IT
  types its ids (``lsusb``) instead.
- **CUPS**: the local queues (pycups, :func:`printers.cups.list_queues`), each as
  ``escpos:cups:QUEUE`` (a raw queue fed ESC/POS bytes), except the A4 printer's own queue.

Every candidate is a URI that ``kiosk.config`` accepts for the receipt role; a device or
queue whose name would not be is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from kiosk.config import PrinterRole, parse_printer_target
from kiosk.errors import ConfigError
from printers.cups import list_queues

SYSFS_USB: Final = Path("/sys/bus/usb/devices")
USB_CLASS_PRINTER: Final = "07"
_HEX4: Final = re.compile(r"[0-9a-f]{4}")
_MAX_LABEL_CHARS: Final = 60


@dataclass(frozen=True, slots=True)
class DetectedPrinter:
    uri: str  # a receipt-role URI, e.g. escpos:usb:04b8:0e15 or escpos:cups:Struk
    label: str  # what the screen shows, e.g. "EPSON TM-T82" (the source is shown apart)
    source: Literal["usb", "cups"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _plain(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def usb_printers(sysfs: Path | None = None) -> list[DetectedPrinter]:
    """The USB devices with a printer interface, in sysfs order; none when sysfs is absent."""
    root = SYSFS_USB if sysfs is None else sysfs
    try:
        interfaces = sorted(p for p in root.iterdir() if ":" in p.name)
    except OSError:
        return []
    found: dict[str, DetectedPrinter] = {}
    for interface in interfaces:
        if _read(interface / "bInterfaceClass").lower() != USB_CLASS_PRINTER:
            continue
        device = root / interface.name.partition(":")[0]
        vendor, product = _read(device / "idVendor").lower(), _read(device / "idProduct").lower()
        if not (_HEX4.fullmatch(vendor) and _HEX4.fullmatch(product)):
            continue
        uri = f"escpos:usb:{vendor}:{product}"
        name = _plain(f"{_read(device / 'manufacturer')} {_read(device / 'product')}")
        found.setdefault(uri, DetectedPrinter(uri, name[:_MAX_LABEL_CHARS] or
                                              f"USB {vendor}:{product}", "usb"))  # fmt: skip
    return list(found.values())


def receipt_candidates(
    *, a4_uri: str | None, sysfs: Path | None = None,
    queues: Callable[[], list[str]] = list_queues,
) -> list[DetectedPrinter]:  # fmt: skip
    """The receipt printers to offer: USB printers, then CUPS queues (not ``a4_uri``'s)."""
    found = usb_printers(sysfs)
    found += [DetectedPrinter(f"escpos:cups:{q}", q, "cups") for q in queues()
              if a4_uri != f"cups:{q}"]  # fmt: skip
    return [p for p in found if _acceptable(p.uri)]


def _acceptable(uri: str) -> bool:
    try:
        parse_printer_target(PrinterRole.RECEIPT, uri)
    except ConfigError:
        return False
    return True
