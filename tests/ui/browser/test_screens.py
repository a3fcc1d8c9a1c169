"""The kiosk screens in real Chromium over the live API: what village staff do at the counter
— sign in, release by claim code (keypad, touch, or a barcode scanner), watch the printing,
hand over or report spoiled sheets, release without a code — and what the window refuses."""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Route, expect

from kiosk.claim import generate_claim_code
from tests.agent.harness import wait_for
from tests.agent.stale import district_head, feed_answer
from tests.ui.browser.conftest import STAFF, SUPERVISOR, Ui, printed, push_job

pytestmark = [pytest.mark.system, pytest.mark.loopback]

WRONG = generate_claim_code(lambda n: bytes(range(7, 7 + n)))  # well-formed, matches nothing


def digits(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


def grouped(code: str) -> str:
    d = digits(code)
    return f"{d[:4]} {d[4:8]} {d[8:]}"


def mistyped(code: str) -> str:
    """The code with its last digit changed: the check digit catches it."""
    d = digits(code)
    return d[:-1] + str((int(d[-1]) + 1) % 10)


def record_progress(ui: Ui) -> None:
    """Remember every per-document print state the printing screen shows."""
    ui.page.evaluate(
        """() => { window.seen = new Set();
                   new MutationObserver(() => document
                     .querySelectorAll('[data-testid=progress]')
                     .forEach(e => window.seen.add(e.dataset.state)))
                   .observe(document.body, {subtree: true, childList: true}); }"""
    )


def slow_release(ui: Ui, shot: str) -> None:
    """Hold the release answer back a moment, so the progress polls show the printing."""

    def handle(route: Route) -> None:
        answer = route.fetch(timeout=60000)
        time.sleep(1.2)
        ui.shot(shot)
        route.fulfill(response=answer)

    ui.page.route("**/api/release", handle)


def test_sign_in_needs_the_right_pin(ui: Ui) -> None:
    ui.open()
    expect(ui.by("operator-budi")).to_contain_text("Penyelia")
    ui.shot("01-sign-in")
    ui.by("operator-siti").tap()
    ui.tap_keys("1358")
    ui.by("pin-submit").tap()
    expect(ui.by("message")).to_be_visible()
    expect(ui.by("message")).not_to_be_empty()
    expect(ui.by("pin-display")).to_have_attribute("data-length", "0")
    ui.tap_keys("13")
    ui.shot("02-pin")
    ui.by("back").tap()
    ui.sign_in()
    ui.by("logout").tap()
    expect(ui.screen("signin")).to_be_visible()


def test_release_by_code_previews_print_progress_and_hand_over(ui: Ui) -> None:
    job_id, code, pdfs = push_job(ui.api)
    ui.open()
    ui.sign_in()
    job = ui.page.locator(f'[data-job="{job_id}"]')
    expect(job.get_by_test_id("job-state")).to_have_text("Menunggu kode warga")
    expect(job.get_by_test_id("job-resident")).to_have_text("S*** N********")
    expect(ui.by("link")).to_be_visible()
    expect(ui.by("printer-a4")).to_contain_text("Siap")
    ui.overflow_free()
    ui.shot("03-queue")

    ui.by("enter-code").tap()
    expect(ui.screen("claim")).to_be_visible()
    ui.tap_keys(digits(code)[:7])
    expect(ui.by("code-typed")).to_have_text(grouped(code)[:8])
    ui.shot("04-claim-typing")
    ui.tap_keys(digits(code)[7:])
    expect(ui.by("code-typed")).to_have_text(grouped(code))
    ui.by("open-code").tap()

    expect(ui.screen("bundle")).to_be_visible()
    expect(ui.by("title")).to_contain_text("S*** N********")
    ui.previews_loaded(2)
    expect(ui.by("doc-title")).to_have_count(2)
    ui.overflow_free()
    ui.shot("05-bundle-previews")

    record_progress(ui)
    slow_release(ui, "06-printing")
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    seen = ui.page.evaluate("[...window.seen]")
    assert "done" in seen, seen  # per-document progress was on the screen
    assert printed(ui.api) == sorted(pdfs)
    ui.shot("07-confirm")

    ui.by("handover").tap()
    expect(ui.screen("done")).to_be_visible()
    expect(ui.by("receipt").first).to_be_visible()
    ui.shot("08-handed-over")
    ui.by("back-to-queue").tap()
    expect(ui.by("queue-empty")).to_be_visible()
    assert ui.api.kiosk.local_state(job_id) in {None, "purged"}


def test_a_scanner_types_the_code_without_focusing_anything(ui: Ui) -> None:
    _, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    expect(ui.screen("claim")).to_be_visible()
    ui.page.keyboard.type(grouped(code), delay=5)  # the scanner "types", spaces and all
    ui.page.keyboard.press("Enter")
    expect(ui.screen("bundle")).to_be_visible()
    ui.previews_loaded(2)


def test_wrong_and_mistyped_codes_then_the_lockout(ui: Ui) -> None:
    _, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type(mistyped(code))
    ui.page.keyboard.press("Enter")
    expect(ui.by("message")).to_have_text("Kode salah ketik — periksa lagi.")
    expect(ui.by("code-display")).to_have_attribute("data-value", mistyped(code))  # to check
    ui.by("key-back").tap()
    expect(ui.by("code-display")).to_have_attribute("data-value", mistyped(code)[:-1])

    ui.by("key-clear").tap()
    ui.tap_keys(digits(WRONG))
    ui.by("open-code").tap()
    expect(ui.by("message")).to_contain_text("tidak cocok")
    expect(ui.by("keypad").get_by_role("button").first).to_be_enabled()
    ui.shot("09-claim-wrong")

    for _ in range(ui.api.agent.config.lockout.max_failures):
        ui.page.keyboard.type(digits(WRONG))  # the next scan replaces the refused code
        ui.page.keyboard.press("Enter")
        expect(ui.by("code-display")).to_have_attribute("data-value", digits(WRONG))
        expect(ui.by("message")).not_to_have_text("Memeriksa…")
    expect(ui.by("message")).to_contain_text("Terlalu banyak kode salah")
    expect(ui.by("message")).to_contain_text(re.compile(r"Tunggu \d+:\d\d"))
    for key in ui.by("keypad").get_by_role("button").all():
        expect(key).to_be_disabled()
    expect(ui.by("open-code")).to_be_disabled()
    ui.page.keyboard.type(digits(code))  # the scanner is refused as well
    expect(ui.by("code-display")).to_have_attribute("data-value", digits(WRONG))
    ui.shot("10-claim-locked")


def test_out_of_paper_blocks_then_retry_prints(ui: Ui) -> None:
    job_id, code, pdfs = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type(digits(code))
    ui.page.keyboard.press("Enter")
    ui.previews_loaded(2)
    (ui.api.kiosk.out / "MEDIA_EMPTY").touch()
    ui.by("print").tap()
    expect(ui.screen("blocked")).to_be_visible()
    expect(ui.by("block-message")).to_have_text(
        "Kertas habis — isi kertas A4 lalu tekan Coba lagi."
    )
    ui.overflow_free()
    ui.shot("11-blocked-out-of-paper")
    assert ui.api.kiosk.local_state(job_id) == "held" and printed(ui.api) == []
    (ui.api.kiosk.out / "MEDIA_EMPTY").unlink()
    ui.by("retry").tap()
    expect(ui.screen("confirm")).to_be_visible()
    assert printed(ui.api) == sorted(pdfs)


def test_spoiled_sheets_are_reprinted_and_must_be_destroyed(ui: Ui) -> None:
    job_id, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type(digits(code))
    ui.page.keyboard.press("Enter")
    ui.previews_loaded(2)
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    assert len(ui.api.kiosk.printed()) == 2
    ui.by("spoil").tap()
    expect(ui.screen("spoil")).to_be_visible()
    destroy = "Hancurkan lembar yang rusak — jangan dibuang utuh, berisi data pribadi."
    expect(ui.by("destroy-note")).to_have_text(destroy)
    ui.overflow_free()
    ui.shot("12-spoil-reason")
    ui.by("spoil-jammed").tap()
    for doc in ui.by("spoil-doc").all():  # both documents spoiled (see test_preview_screens)
        doc.tap()
    ui.by("reprint").tap()
    expect(ui.screen("confirm")).to_be_visible()
    expect(ui.by("destroy-note")).to_have_text(destroy)
    expect(ui.by("message")).to_have_text("Sudah dicetak ulang. Periksa hasilnya lagi.")
    assert len(ui.api.kiosk.printed()) == 4
    ui.shot("13-reprinted")
    ui.by("handover").tap()
    expect(ui.screen("done")).to_be_visible()
    assert ui.api.kiosk.local_state(job_id) in {None, "purged"}


def test_staff_release_with_reason_and_pin_then_history(ui: Ui) -> None:
    job_id, _, pdfs = push_job(ui.api)
    ui.open()
    ui.sign_in()
    job = ui.page.locator(f'[data-job="{job_id}"]')
    job.get_by_test_id("staff-release").tap()
    expect(ui.screen("staff")).to_be_visible()
    ui.overflow_free()
    ui.shot("14-staff-reason")
    ui.by("reason-no_phone").tap()
    expect(ui.screen("staff-pin")).to_contain_text("Warga tidak punya HP")
    ui.tap_keys("9999")  # not her PIN
    ui.by("pin-submit").tap()
    expect(ui.by("message")).not_to_be_empty()
    ui.tap_keys(STAFF[2])
    ui.shot("15-staff-pin")
    ui.by("pin-submit").tap()
    expect(ui.screen("bundle")).to_be_visible()
    ui.previews_loaded(2)
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    assert printed(ui.api) == sorted(pdfs)
    ui.by("handover").tap()
    ui.by("back-to-queue").tap()
    ui.by("history").tap()
    expect(ui.screen("history")).to_be_visible()
    rows = ui.page.locator('[data-testid=history-row][data-action="release_staff"]')
    expect(rows.filter(has_text="Ditolak")).to_contain_text("PIN salah")  # the wrong PIN
    row = rows.filter(has_text="Berhasil")
    expect(row).to_contain_text("Cetak tanpa kode")
    expect(row).to_contain_text("Siti Aminah")
    expect(row).to_contain_text("warga tidak punya HP")
    expect(row).to_contain_text("KK, Akta Lahir")
    ui.shot("16-history")


def test_language_switch(ui: Ui) -> None:
    push_job(ui.api)
    ui.open()
    assert ui.page.get_attribute("html", "lang") == "id"
    expect(ui.by("title")).to_have_text("Masuk")
    ui.by("lang-en").tap()
    expect(ui.page.locator("html")).to_have_attribute("lang", "en")
    expect(ui.by("title")).to_have_text("Sign in")
    ui.by("lang-id").tap()
    ui.sign_in()
    expect(ui.by("enter-code")).to_have_text("Masukkan kode")
    expect(ui.by("job-state")).to_have_text("Menunggu kode warga")
    ui.by("lang-en").tap()
    expect(ui.page.locator("html")).to_have_attribute("lang", "en")
    expect(ui.by("enter-code")).to_have_text("Enter code")
    expect(ui.by("job-state")).to_have_text("Waiting for the resident's code")
    expect(ui.by("logout")).to_have_text("Sign out")
    ui.shot("17-queue-english")
    ui.by("enter-code").tap()
    ui.page.keyboard.type(mistyped(WRONG))
    ui.page.keyboard.press("Enter")
    expect(ui.by("message")).to_have_text("Code mistyped — check it again.")
    ui.by("lang-id").tap()  # the message on screen follows the language too
    expect(ui.by("message")).to_have_text("Kode salah ketik — periksa lagi.")
    expect(ui.page.locator("html")).to_have_attribute("lang", "id")


def test_settings_need_a_supervisor(ui: Ui) -> None:
    ui.open()
    ui.sign_in()
    ui.by("settings").tap()
    expect(ui.by(f"supervisor-{SUPERVISOR[0]}")).to_be_visible()
    expect(ui.by(f"supervisor-{STAFF[0]}")).to_have_count(0)  # only supervisors are offered
    ui.by("back").tap()
    ui.by("logout").tap()
    ui.sign_in(SUPERVISOR)
    ui.by("settings").tap()
    ui.tap_keys(SUPERVISOR[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("settings-main")).to_be_visible()
    ui.by("test-a4").tap()
    expect(ui.by("message")).to_have_text("Halaman uji dikirim ke printer.")
    ui.shot("18-settings")


def test_screens_fit_a_1024x768_display(ui: Ui) -> None:
    ui.page.set_viewport_size({"width": 1024, "height": 768})
    job_id, code, _ = push_job(ui.api)
    ui.open()
    ui.overflow_free()
    ui.sign_in()
    ui.overflow_free()
    ui.shot("20-queue-1024")
    ui.by("enter-code").tap()
    ui.tap_keys(digits(code))
    ui.overflow_free()
    ui.shot("21-claim-1024")
    for name in ("cancel", "open-code", "key-0", "key-back"):  # nothing below the fold
        box = ui.by(name).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, name
    ui.by("open-code").tap()
    ui.previews_loaded(2)
    ui.overflow_free()
    ui.shot("22-bundle-1024")
    (ui.api.kiosk.out / "PAUSED").touch()
    ui.by("print").tap()
    expect(ui.by("enable-printer")).to_be_visible()  # a stopped queue: one tap to resume
    ui.shot("23-blocked-stopped-1024")
    ui.by("cancel").tap()
    expect(ui.page.locator(f'[data-job="{job_id}"]')).to_be_visible()
    expect(ui.by("printer-a4")).to_contain_text("Antrean printer dihentikan")
    ui.shot("24-queue-printer-stopped-1024")


def test_the_window_needs_the_secret(ui: Ui) -> None:
    ui.page.goto(ui.api.url + "/")
    expect(ui.screen("no-secret")).to_contain_text("Jendela ini harus dibuka oleh Cedoka")
    ui.by("lang-en").tap()
    expect(ui.screen("no-secret")).to_contain_text("This window must be opened by Cedoka")
    ui.shot("00-no-secret")
    status = ui.page.evaluate("fetch('/api/state').then(r => r.status)")
    assert status == 401


def test_the_secret_leaves_the_address_bar(ui: Ui) -> None:
    ui.open()
    assert "#" not in ui.page.url and ui.api.guard.secret not in ui.page.url


class _OtherSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>another site</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_site() -> Iterator[str]:
    """Another web page on this PC (another port: another origin, same loopback)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_other_origins_are_refused(ui: Ui, other_site: str) -> None:
    ui.page.goto(other_site)
    api = ui.api.url + "/api/state"
    with ui.page.expect_response(api) as answer:
        ui.page.evaluate("u => fetch(u, {method: 'POST', mode: 'no-cors'}).catch(() => 0)", api)
    assert answer.value.status == 403  # the Origin check, before anything else
    readable = ui.page.evaluate(
        "([u, k]) => fetch(u, {headers: {'X-Cedoka-Secret': k}}).then(() => true, () => false)",
        [api, ui.api.guard.secret],
    )
    assert readable is False  # even with the secret, another page cannot read an answer


def test_a_failed_print_is_tried_again_from_the_queue(ui: Ui) -> None:
    job_id, code, pdfs = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type(digits(code))
    ui.page.keyboard.press("Enter")
    ui.previews_loaded(2)
    (ui.api.kiosk.out / "FAIL").touch()  # the printer spoils the next document
    ui.by("print").tap()
    expect(ui.by("title")).to_have_text("Gagal dicetak")
    expect(ui.page.locator('[data-testid=progress][data-state="failed"]')).to_have_count(1)
    ui.shot("25-print-failed")
    ui.by("back-to-queue").tap()
    job = ui.page.locator(f'[data-job="{job_id}"]')
    expect(job.get_by_test_id("job-state")).to_contain_text("Gagal dicetak")
    job.get_by_test_id("retry").tap()
    expect(ui.screen("confirm")).to_be_visible()
    assert set(pdfs) <= set(printed(ui.api))


def test_idle_release_screen_goes_back_to_the_queue(ui: Ui) -> None:
    ui.page.clock.install()
    _, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.tap_keys(digits(code)[:5])
    ui.page.clock.fast_forward("02:10")
    expect(ui.screen("queue")).to_be_visible()
    expect(ui.by("message")).to_have_text("Tidak ada kegiatan — kembali ke antrean.")


def test_an_ended_session_or_ticket_goes_back(ui: Ui) -> None:
    _, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type(digits(code))
    ui.page.keyboard.press("Enter")
    ui.previews_loaded(2)
    expired = {"code": "ticket_expired", "message_id": "Waktu habis — masukkan kode lagi.",
               "message_en": "Time is up — enter the code again."}  # fmt: skip
    ui.page.route("**/api/release", lambda r: r.fulfill(status=410, json={"error": expired}))
    ui.by("print").tap()
    expect(ui.screen("claim")).to_be_visible()
    expect(ui.by("message")).to_have_text("Waktu habis — masukkan kode lagi.")
    ended = {"code": "session_expired", "message_id": "Sesi berakhir.", "message_en": "Ended."}
    ui.page.route("**/api/jobs", lambda route: route.fulfill(status=401, json={"error": ended}))
    ui.by("cancel").tap()  # the queue asks for the jobs: the session has ended
    expect(ui.screen("signin")).to_be_visible()
    expect(ui.by("message")).to_have_text("Sesi berakhir — silakan masuk lagi.")
    expect(ui.by("operator-name")).to_have_count(0)


def test_repeated_wrong_pins_lock_the_operator(ui: Ui) -> None:
    ui.open()
    ui.by(f"operator-{STAFF[0]}").tap()
    for _ in range(5):
        ui.tap_keys("1358")
        ui.by("pin-submit").tap()
        expect(ui.by("pin-display")).to_have_attribute("data-length", "0")
    expect(ui.by("message")).to_contain_text("Terlalu banyak PIN salah")
    expect(ui.by("message")).to_contain_text(re.compile(r"Coba lagi dalam \d+ menit"))
    ui.shot("26-pin-locked")
    ui.tap_keys(STAFF[2])  # even the right PIN waits
    ui.by("pin-submit").tap()
    expect(ui.by("message")).to_contain_text("Terlalu banyak PIN salah")
    expect(ui.screen("queue")).to_have_count(0)


def test_without_operators_the_screen_says_whom_to_ask(ui: Ui) -> None:
    for operator_id in (STAFF[0], SUPERVISOR[0]):
        ui.api.agent.operators.remove(operator_id)
    ui.page.goto(ui.api.guard.window_url())
    expect(ui.by("no-operators")).to_contain_text("petugas IT kabupaten")
    ui.shot("27-no-operators")


def test_nobody_at_the_counter_signs_out(ui: Ui) -> None:
    ui.page.clock.install()
    ui.open()
    ui.sign_in()
    ui.page.clock.fast_forward("10:00")
    expect(ui.screen("queue")).to_be_visible()  # the queue may stay open a while
    ui.page.clock.fast_forward("05:30")
    expect(ui.screen("signin")).to_be_visible()
    expect(ui.by("message")).to_have_text("Sesi berakhir — silakan masuk lagi.")


def test_a_frozen_feed_says_since_when_in_the_link_banner(ui: Ui) -> None:
    """Answers arrive, but the district's signed confirmation expired (protocol 9.8): the
    banner says since when there is no confirmation, not "connected"; a fresh head ends it."""
    api = ui.api
    api.sync()
    confirmed = api.call("GET", "/api/state").json()["link"]["confirmed_s"]
    wait_for("a second after that head", lambda: time.time() >= confirmed + 1)
    stale = district_head(api.kiosk.server, api.agent.config.device_id, iat=confirmed,
                          exp=confirmed + 1)  # fmt: skip
    api.agent.syncer.process(feed_answer(stale))
    ui.open()
    ui.sign_in()
    link = ui.by("link")
    wita = datetime.timezone(datetime.timedelta(hours=8))  # the office's zone (74.08: WITA)
    since = datetime.datetime.fromtimestamp(confirmed, tz=wita).strftime("%H:%M")
    expect(link).to_have_attribute("data-frozen", "1")
    expect(link).to_have_attribute("data-kind", "warn")
    expect(link).to_contain_text(f"Belum ada konfirmasi dari kabupaten sejak {since}")
    expect(link).to_contain_text("Dokumen yang sudah diterima tetap bisa dicetak")
    expect(link).not_to_contain_text("Tersambung")
    ui.shot("28-link-frozen")
    api.sync()  # a fresh head: the next state poll (every 6 s) shows the feed thawed
    expect(link).to_have_attribute("data-frozen", "0", timeout=15000)
    expect(link).not_to_contain_text("Belum ada konfirmasi")
