"""The release screen's previews, the confirm screen and the spoil screen in real Chromium
over the live API (issue 16): a preview staff open without a code is audited even when
they cancel; every page can be looked at full screen, a landscape KK landscape, with its
page count; the confirm screen says how many sheets to expect; a jam reprints only the
documents staff tick, after they cleared the jam."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.browser.conftest import STAFF, Ui, push_job

pytestmark = [pytest.mark.system, pytest.mark.loopback]
SIZES = ({"width": 1024, "height": 768}, {"width": 1366, "height": 768})


def test_a_staff_preview_cancelled_is_still_in_the_history(ui: Ui) -> None:
    job_id, _, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.page.locator(f'[data-job="{job_id}"]').get_by_test_id("staff-release").tap()
    ui.by("reason-lost_code").tap()
    ui.tap_keys(STAFF[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("bundle")).to_be_visible()
    ui.previews_loaded(2)
    ui.by("cancel").tap()  # Batal: looked at, not printed
    expect(ui.screen("queue")).to_be_visible()
    assert ui.api.kiosk.local_state(job_id) == "held"
    ui.by("history").tap()
    row = ui.page.locator('[data-testid=history-row][data-action="preview"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Dokumen dibuka")
    expect(row).to_contain_text("Siti Aminah")
    expect(row).to_contain_text("kode hilang")
    expect(row).to_contain_text("KK, Akta Lahir")
    ui.shot("c16-history-preview")
