"""Issue 14: a screen signed in as an operator whom district IT removes (``cedoka operator
remove``, another process) goes back to sign-in at its next call, in real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.browser.conftest import STAFF, Ui

pytestmark = [pytest.mark.system, pytest.mark.loopback]


def test_a_removed_operator_is_sent_back_to_sign_in(ui: Ui) -> None:
    ui.open()
    ui.sign_in()
    expect(ui.screen("queue")).to_be_visible()
    removed = ui.api.kiosk.cli("operator", "remove", STAFF[0])
    assert removed.returncode == 0, removed.stderr
    # The queue asks for the jobs every 3 s: that call is refused as operator_removed.
    expect(ui.screen("signin")).to_be_visible(timeout=15_000)
    expect(ui.by("message")).to_have_text("Sesi berakhir — silakan masuk lagi.")
    expect(ui.by(f"operator-{STAFF[0]}")).to_have_count(0)
