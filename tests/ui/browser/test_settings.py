"""The settings screen in real headless Chromium: what a supervisor sees and picks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.browser.conftest import SUPERVISOR, Ui
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
