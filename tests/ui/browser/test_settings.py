"""The settings screen in real headless Chromium: what a supervisor sees and picks."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from printers import detect
from tests.printers.fake_sysfs import fake_sysfs
from tests.ui.browser.conftest import STAFF, SUPERVISOR, Ui
from tests.without_printers.sitecustomize import refuse_printer_drivers


def _open_settings(ui: Ui, who: tuple[str, str, str] = SUPERVISOR) -> None:
    ui.by("settings").tap()
    ui.tap_keys(who[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("settings-main")).to_be_visible()


def test_settings_without_the_printer_drivers_say_cups_is_not_installed(
    ui: Ui, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default demo installs no pycups: the settings screen failed with HTTP 500."""
    refuse_printer_drivers(monkeypatch)
    ui.open()
    ui.sign_in(SUPERVISOR)
    _open_settings(ui)
    expect(ui.by("missing-cups_missing")).to_contain_text("CUPS tidak terpasang")
    expect(ui.by("missing-escpos_missing")).to_be_visible()
    ui.by("default-lang-en").tap()
    expect(ui.by("message")).to_have_text("Saved.")
    expect(ui.by("missing-cups_missing")).to_contain_text("CUPS is not installed")
    ui.shot("40-settings-without-cups")


def test_a_supervisor_opens_the_settings_at_a_staff_members_counter(ui: Ui) -> None:
    """Issue 16: opening Settings from a staff session asked for "your PIN" and refused the
    supervisor's (counting it against the staff member)."""
    ui.open()
    ui.sign_in(STAFF)
    ui.by("settings").tap()
    expect(ui.screen("settings-who")).to_contain_text("Penyelia: sentuh nama Anda")
    ui.overflow_free()
    ui.shot("41-settings-pick-supervisor")
    ui.by(f"supervisor-{SUPERVISOR[0]}").tap()
    expect(ui.screen("settings-pin")).to_contain_text(f"PIN penyelia: {SUPERVISOR[1]}")
    ui.tap_keys("9999")
    ui.by("pin-submit").tap()
    expect(ui.by("message")).to_have_text("PIN salah — coba lagi.")
    ui.tap_keys(SUPERVISOR[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("settings-main")).to_be_visible()
    expect(ui.by("settings-by")).to_have_text(f"Dibuka oleh penyelia {SUPERVISOR[1]}")
    expect(ui.by("operator-name")).to_have_text(STAFF[1])  # still the staff member's session
    ui.shot("42-settings-opened-by-supervisor")
    ui.by("back-to-queue").tap()
    expect(ui.screen("queue")).to_be_visible()


def test_the_receipt_printer_is_picked_from_the_printers_found(
    ui: Ui, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 16: the receipt printer was free text on a touch screen with no keyboard."""
    monkeypatch.setattr(detect, "SYSFS_USB", tmp_path / "sys")  # nothing plugged in yet
    ui.open()
    ui.sign_in(SUPERVISOR)
    _open_settings(ui)
    expect(ui.by("receipt-none-found")).to_contain_text("Tidak ada printer struk")
    expect(ui.by("receipt-uri")).to_have_count(0)  # typing is for district IT, on request
    fake_sysfs(tmp_path / "sys")  # the printer is plugged in
    ui.by("rescan").tap()
    choice = ui.by("receipt-choice-escpos:usb:04b8:0e15")
    expect(choice).to_contain_text("EPSON TM-T82")
    expect(choice).to_contain_text("USB")
    ui.shot("43-settings-receipt-printers-found")
    ui.page.set_viewport_size({"width": 1024, "height": 768})
    ui.overflow_free()
    ui.shot("44-settings-receipt-printers-found-1024")
    choice.tap()
    expect(ui.by("message")).to_have_text("Tersimpan.")
    expect(ui.by("receipt-current")).to_have_text("Sekarang: escpos:usb:04b8:0e15")
    expect(choice).to_have_attribute("aria-pressed", "true")
    ui.by("receipt-type").tap()
    ui.by("receipt-uri").fill("escpos:tcp://192.168.1.50:9100")
    ui.by("save-receipt").tap()
    expect(ui.by("receipt-current")).to_have_text("Sekarang: escpos:tcp://192.168.1.50:9100")
    ui.by("receipt-none").tap()
    expect(ui.by("receipt-current")).to_have_text("Sekarang: belum diatur")
