"""The kiosk screens as village staff meet them at the counter (issue 16): one time zone, the
office's, whatever the computer's clock is set to; a window opened on a stale address says
what to do; the lockout's countdown; spent codes; the queue at 1024x768; the history."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Response, Route, expect

from kiosk.claim import generate_claim_code
from kiosk.model import ReleaseMode
from tests.ui.browser.conftest import STAFF, Ui, push_job
from tests.ui.conftest import SUPERVISOR

WRONG = generate_claim_code(lambda n: bytes(range(7, 7 + n)))  # well-formed, matches nothing

pytestmark = [pytest.mark.system, pytest.mark.loopback]


def digits(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


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


def test_a_window_on_an_old_secret_says_to_open_cedoka_again(ui: Ui) -> None:
    ui.page.goto(f"{ui.api.url}/#k=the-secret-of-an-earlier-start")
    expect(ui.screen("stale")).to_contain_text("Tutup jendela ini, lalu buka Cedoka lagi")
    expect(ui.screen("stale").get_by_role("button")).to_have_count(0)  # a retry cannot work
    ui.by("lang-en").tap()
    expect(ui.screen("stale")).to_contain_text("open Cedoka again from the computer's menu")
    ui.shot("30-stale-window")


def test_cedoka_started_again_under_a_signed_in_window(ui: Ui) -> None:
    ui.open()
    ui.sign_in()

    def old_secret(route: Route) -> None:  # the server now has another secret
        route.continue_(headers={**route.request.headers, "x-cedoka-secret": "earlier"})

    ui.page.route("**/api/**", old_secret)
    ui.by("history").tap()  # the next call to the service
    expect(ui.screen("stale")).to_contain_text("Cedoka dijalankan ulang")


def test_a_service_not_answering_yet_is_asked_again_without_a_reload(ui: Ui) -> None:
    ui.page.route("**/api/state", lambda route: route.abort())
    ui.page.goto(ui.api.guard.window_url())
    expect(ui.screen("unreachable")).to_contain_text("Cedoka belum menjawab")
    ui.shot("31-unreachable")
    ui.page.unroute("**/api/state")
    ui.by("retry").tap()
    expect(ui.screen("signin")).to_be_visible()
    ui.sign_in()


def lock_out(ui: Ui) -> None:
    """Wrong codes until the lockout, on the code screen (the one that sets the lock is
    still checked: the next one is refused as locked)."""
    for _ in range(ui.api.agent.config.lockout.max_failures + 1):
        ui.page.keyboard.type(digits(WRONG))
        expect(ui.by("code-display")).to_have_attribute("data-value", digits(WRONG))
        ui.page.keyboard.press("Enter")
        expect(ui.by("message")).not_to_have_text("Memeriksa…")
    expect(ui.by("message")).to_contain_text("Terlalu banyak kode salah")


def test_the_code_screen_opens_on_the_lockouts_countdown(ui: Ui) -> None:
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    lock_out(ui)
    ui.by("cancel").tap()
    ui.by("enter-code").tap()  # reopened: the countdown at once, not a silently dead keypad
    expect(ui.by("message")).to_contain_text("Terlalu banyak kode salah")
    expect(ui.by("message")).to_contain_text(re.compile(r"Tunggu [45]:\d\d"))
    for key in ui.by("keypad").get_by_role("button").all():
        expect(key).to_be_disabled()
    ui.by("lang-en").tap()
    expect(ui.by("message")).to_contain_text(re.compile(r"Too many wrong codes.*Wait \d:\d\d"))
    ui.shot("32-claim-reopened-locked")


def test_a_used_code_says_so_on_the_screen(ui: Ui) -> None:
    job_id, code, _ = push_job(ui.api)
    ticket = ui.api.call("POST", "/api/claim", json={"code": code}).json()["ticket"]
    ui.api.call("POST", "/api/release", json={"ticket": ticket})
    ui.api.call("POST", f"/api/jobs/{job_id}/handover", json={})
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.tap_keys(digits(code))
    ui.by("open-code").tap()
    expect(ui.by("message")).to_contain_text("Kode sudah dipakai")
    expect(ui.by("message")).to_have_class(re.compile(r"\bwarn\b"))
    expect(ui.by("open-code")).to_be_enabled()  # not locked, not counted
    ui.shot("33-claim-used")


@pytest.mark.parametrize("width", [1024, 1366])
def test_the_queue_at_768_lines_shows_five_jobs_their_count_and_expiry(ui: Ui, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 768})
    jobs = [push_job(ui.api)[0] for _ in range(5)] + [push_job(ui.api, ReleaseMode.STAFF)[0]]
    ui.open()
    ui.sign_in()
    expect(ui.by("queue-count")).to_have_text("6 berkas")
    cards = ui.by("job")
    expect(cards).to_have_count(6)
    visible = [
        box
        for i in range(6)
        if (box := cards.nth(i).bounding_box()) is not None and box["y"] + box["height"] <= 768
    ]
    assert len(visible) >= 5, f"only {len(visible)} whole jobs fit at {width}x768"
    ui.overflow_free()
    expires = ui.api.call("GET", f"/api/jobs/{jobs[0]}").json()["expires_s"]
    shown = ui.page.locator(f'[data-job="{jobs[0]}"]').get_by_test_id("job-expires")
    expect(shown).to_contain_text("Batas cetak")
    expect(shown).to_contain_text(office_time(ui, expires))  # 72 h ahead: a date and time
    ui.shot(f"34-queue-six-jobs-{width}")
    ui.by("lang-en").tap()
    expect(ui.by("queue-count")).to_have_text("6 in the queue")
    expect(shown).to_contain_text("Print by")
    ui.shot(f"35-queue-six-jobs-{width}-en")


def test_history_folds_sign_ins_and_says_refused_settings_were_refused(ui: Ui) -> None:
    ui.open()
    ui.sign_in()  # the API's own sign-in was first: two
    ui.by("logout").tap()
    ui.sign_in()  # three sign-ins, one sign-out
    wrong = ui.api.call(
        "POST", "/api/settings/unlock", json={"pin": "9999", "supervisor": SUPERVISOR[0]}
    )
    assert wrong.json()["error"]["code"] == "pin_wrong"
    staff = ui.api.call("POST", "/api/settings/unlock", json={"pin": STAFF[2]})
    assert staff.json()["error"]["code"] == "not_supervisor"
    ui.by("history").tap()
    group = ui.by("history-group")
    expect(group).to_have_count(1)
    expect(group).to_contain_text("Masuk dan keluar (4\u00d7)")
    expect(group).to_contain_text(STAFF[1])
    rows = ui.page.locator("[data-testid=history-row]")
    expect(rows.filter(has_text="Masuk")).to_have_count(0)  # folded
    refused = ui.page.locator('[data-testid=history-row][data-action="settings"]')
    expect(refused).to_have_count(2)
    for row in refused.all():
        expect(row).to_contain_text("Pengaturan ditolak")
        expect(row).to_contain_text("Ditolak")
        expect(row).not_to_contain_text("diubah")
    expect(refused.first).to_contain_text("bukan penyelia")
    expect(refused.last).to_contain_text("PIN salah")
    ui.overflow_free()
    ui.shot("36-history-folded")
    ui.by("history-group-toggle").tap()
    expect(ui.page.locator("[data-testid=history-row].in-group")).to_have_count(4)
    ui.by("lang-en").tap()
    expect(group).to_contain_text("Sign-ins and sign-outs (4\u00d7)")
    expect(refused.first).to_contain_text("Settings refused")
    ui.shot("37-history-unfolded-en")


@pytest.mark.parametrize("width", [1024, 1366])
def test_these_screens_fit_the_counters_display(ui: Ui, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 768})
    job_id, code, _ = push_job(ui.api)
    ticket = ui.api.call("POST", "/api/claim", json={"code": code}).json()["ticket"]
    ui.api.call("POST", "/api/release", json={"ticket": ticket})
    ui.api.call("POST", f"/api/jobs/{job_id}/handover", json={})
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.tap_keys(digits(code))
    ui.by("open-code").tap()
    expect(ui.by("message")).to_contain_text("Kode sudah dipakai")
    ui.overflow_free()
    ui.shot(f"38-claim-used-{width}")
    ui.by("key-clear").tap()
    lock_out(ui)
    ui.by("cancel").tap()
    ui.by("enter-code").tap()
    expect(ui.by("message")).to_contain_text(re.compile(r"Tunggu \d:\d\d"))
    for name in ("cancel", "open-code", "key-0"):  # nothing below the fold
        box = ui.by(name).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, name
    ui.shot(f"39-claim-locked-{width}")
    ui.by("cancel").tap()
    ui.by("history").tap()
    expect(ui.by("history-table")).to_contain_text("Kode sudah dipakai")
    ui.overflow_free()
    ui.shot(f"40-history-{width}")
    ui.page.goto("about:blank")  # a new window on an address of an earlier start
    ui.page.goto(f"{ui.api.url}/#k=earlier")
    expect(ui.screen("stale")).to_be_visible()
    ui.shot(f"41-stale-{width}")
