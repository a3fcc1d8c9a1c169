"""The receipt printers the settings screen offers: USB printers from sysfs, CUPS queues."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import PrinterRole, parse_printer_target
from printers.detect import DetectedPrinter, receipt_candidates, usb_printers
from tests.printers.fake_sysfs import fake_sysfs


def test_usb_printers_are_the_devices_with_a_printer_interface(tmp_path: Path) -> None:
    found = usb_printers(fake_sysfs(tmp_path / "sys"))
    assert found == [
        DetectedPrinter("escpos:usb:04b8:0e15", "EPSON TM-T82", "usb"),
        DetectedPrinter("escpos:usb:0416:5011", "USB 0416:5011", "usb"),
        DetectedPrinter("escpos:usb:03f0:2b17", "HP LaserJet 1020", "usb"),
    ]
    for printer in found:
        assert parse_printer_target(PrinterRole.RECEIPT, printer.uri).backend == "escpos"


def test_no_sysfs_finds_nothing(tmp_path: Path) -> None:
    assert usb_printers(tmp_path / "absent") == []


def test_cups_queues_are_offered_raw_but_never_the_a4_queue(tmp_path: Path) -> None:
    found = receipt_candidates(
        a4_uri="cups:Kantor_A4", sysfs=tmp_path / "absent",
        queues=lambda: ["Kantor_A4", "Struk", "bad queue"],
    )  # fmt: skip
    assert found == [DetectedPrinter("escpos:cups:Struk", "Struk", "cups")]
