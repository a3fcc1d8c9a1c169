"""ADR 0034 on the real screen (Chromium): a clerk added by the district signs in with the
one-time PIN district IT told them, is made to choose their own PIN (typed twice), and is
signed in with it (the one-time PIN then no longer works); a supervisor adds a clerk on the
settings screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from district.operators import DistrictOperators
from tests.ui.browser.conftest import SUPERVISOR, Ui

pytestmark = [pytest.mark.system, pytest.mark.loopback]
OFFICE = "74.08.01.2002"


def test_the_one_time_pin_leads_to_the_clerks_own_pin(ui: Ui) -> None:
    given = DistrictOperators(ui.api.kiosk.server.keys).add(OFFICE, "ani", name="Ani Wulandari",
                                                            role="staff")  # fmt: skip
    ui.api.sync()
    ui.open()
    ui.by("operator-ani").tap()
    ui.tap_keys(given.pin)
    ui.by("pin-submit").tap()
    expect(ui.screen("new-pin")).to_contain_text("Ani Wulandari: buat PIN Anda sendiri")
    ui.tap_keys("5827")
    ui.by("pin-submit").tap()
    expect(ui.screen("new-pin")).to_contain_text("ketik PIN baru sekali lagi")
    ui.tap_keys("5828")  # a typo: asked again from the start
    ui.by("pin-submit").tap()
    expect(ui.by("message")).to_have_text("Kedua PIN berbeda — coba lagi.")
    for _ in range(2):
        ui.tap_keys("5827")
        ui.by("pin-submit").tap()
    expect(ui.screen("queue")).to_be_visible()
    expect(ui.by("operator-name")).to_have_text("Ani Wulandari")
    refused = ui.api.call("POST", "/api/login", json={"operator": "ani", "pin": given.pin})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "pin_wrong"
    assert not ui.errors


def test_a_supervisor_adds_a_clerk_on_the_settings_screen(ui: Ui) -> None:
    """A local operator added on the screen signs in, and the district hears of them."""
    ui.open()
    ui.sign_in(SUPERVISOR)
    ui.by("settings").tap()
    ui.tap_keys(SUPERVISOR[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("settings-main")).to_be_visible()
    ui.by("staff-add").tap()
    ui.by("staff-id").fill("rudi")
    ui.by("staff-name").fill("Rudi Hartono")
    ui.by("staff-pin").fill("1234")  # a run: refused, the form keeps what was typed
    ui.by("staff-save").tap()
    expect(ui.by("message")).to_contain_text("PIN harus 4 sampai 8 angka")
    expect(ui.by("staff-name")).to_have_value("Rudi Hartono")
    ui.shot("settings-staff")
    ui.overflow_free()
    ui.by("staff-pin").fill("3972")
    ui.by("staff-save").tap()
    expect(ui.by("message")).to_have_text("Petugas Rudi Hartono ditambahkan.")
    ui.api.agent.reporter.deliver()
    rudi = ui.api.kiosk.server.keys.store.operators.operator(OFFICE, "rudi")
    assert rudi is not None and rudi.origin == "local" and rudi.role == "staff"
    assert ui.api.call("POST", "/api/login", json={"operator": "rudi", "pin": "3972"}).ok
    assert not ui.errors
