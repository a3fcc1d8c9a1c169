"""The kiosk screens as village staff meet them at the counter (issue 16): one time zone, the
office's, whatever the computer's clock is set to; a window opened on a stale address says
what to do; the lockout's countdown; spent codes; the queue at 1024x768; the history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Response, expect

from tests.ui.browser.conftest import Ui, push_job

pytestmark = [pytest.mark.system, pytest.mark.loopback]


def office_time(ui: Ui, epoch_s: int) -> str:
    offset = ui.api.call("GET", "/api/state").json()["utc_offset_s"]
    return datetime.fromtimestamp(epoch_s, tz=timezone(timedelta(seconds=offset))).strftime("%H:%M")


@pytest.mark.browser_context_args(timezone_id="America/Sao_Paulo")
def test_times_are_the_offices_whatever_the_computers_zone(ui: Ui) -> None:
    job_id, _, _ = push_job(ui.api)
    received = ui.api.call("GET", f"/api/jobs/{job_id}").json()["received_s"]
    assert ui.api.call("GET", "/api/state").json()["utc_offset_s"] == 8 * 3600  # 74.08: WITA
    ui.open()
    assert ui.page.evaluate("new Date().getTimezoneOffset()") == 180  # the PC: UTC-3
    ui.sign_in()
    card = ui.page.locator(f'[data-job="{job_id}"]')
    expect(card).to_contain_text(f"Tiba {office_time(ui, received)}")


def test_no_request_of_the_window_is_missing(ui: Ui) -> None:
    missing: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 404:
            missing.append(response.url)

    ui.page.on("response", on_response)
    ui.open()
    ui.sign_in()
    icon = ui.page.evaluate("document.querySelector('link[rel=icon]')?.href ?? null")
    assert icon is not None and icon.startswith(ui.api.url)
    answer = ui.api.session.get(icon, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/")
    assert missing == []
