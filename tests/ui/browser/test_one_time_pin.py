"""ADR 0034: a clerk added by the district signs in on the real screen (Chromium) with the
one-time PIN district IT told them, is made to choose their own PIN (typed twice), and is
signed in with it; the one-time PIN then no longer works."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from district.operators import DistrictOperators
from tests.ui.browser.conftest import Ui

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
