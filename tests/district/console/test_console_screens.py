"""The console's screens in Chromium over the live server: the dashboard's numbers, a push
by file upload, the job list and timeline, cancel, the enrolment sheet, revoke, users and
tokens, webhooks, and what a viewer sees."""

from __future__ import annotations

import base64
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import requests
from playwright.sync_api import expect

from district.keyring import DATABASE
from kiosk.report import Heartbeat, Marker, PrinterHealth, heartbeat_body
from tests.district.adminlab import OFFICE, Admin
from tests.district.console.conftest import Console
from tests.district.console.test_device_audit_api import chain, store_records
from tests.sim.district import make_pdf


def beat(admin: Admin) -> None:
    """The kiosk reports an A4 printer out of paper and low on ink."""
    a4 = PrinterHealth("a4", "cups", "idle", True, ("media-empty-error",),
                       (Marker("Black", 7),), "iso_a4_210x297mm")  # fmt: skip
    body = heartbeat_body(Heartbeat("cedoka/0.1.1", int(time.time()), 0, 1, 1, {}, (a4,), None, ()))
    assert admin.kiosk.call("POST", "/v1/heartbeat", body).status_code == 200


def test_the_dashboard_numbers_match_the_api(console: Console) -> None:
    admin = console.admin
    for _ in range(3):
        admin.push()
    beat(admin)
    jobs = admin.call("GET", "/jobs", "viewer").json()["jobs"]
    devices = admin.call("GET", "/devices", "viewer").json()["devices"]
    now = time.time()
    offline = [d for d in devices if d["revoked_s"] is None
               and (d["last_seen_s"] is None or now - d["last_seen_s"] > 300)]  # fmt: skip
    console.signed_in("viewer")
    expect(console.by("dash-today-value")).to_have_text(str(len(jobs)))
    expect(console.by("dash-state-pushed")).to_contain_text(str(len(jobs)))
    expect(console.by("dash-offline-value")).to_have_text(str(len(offline)))
    expect(console.by("dash-printers-value")).to_have_text("1")
    expect(console.by("dash-printers-list")).to_contain_text("kertas, tinta")
    expect(console.by("dash-waiting-value")).to_have_text("0")
    expect(console.by("chart-handover-empty")).to_be_visible()  # nothing handed over yet
    expect(console.by("chart-per-day").locator("rect.series")).not_to_have_count(0)
    console.shot("dashboard")
    console.fits()


def test_push_three_pdfs_by_upload_shows_the_claim_code_then_the_job(
    console: Console, tmp_path: Path
) -> None:
    files = []
    for i in range(3):
        path = tmp_path / f"dokumen-{i + 1}.pdf"
        path.write_bytes(make_pdf(i + 1))
        files.append(path)
    console.signed_in("operator")
    console.nav("push")
    console.by("push-resident").fill("Warga Uji")
    console.by("push-pick").set_input_files(files)
    expect(console.by("push-files").locator("li")).to_have_count(3)
    for i in range(3):  # pdf.js in the browser: the page count and A4, the first page drawn
        expect(console.by(f"push-check-{i}")).to_have_text(f"{i + 1} halaman · ukuran A4")
    console.page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-testid=preview]')]"
        ".filter(c => c.width > 0 && c.height > c.width).length === 3"
    )
    console.by("push-type-1").select_option("AKTA_LAHIR")
    console.by("push-type-2").select_option("BIODATA")
    console.shot("push-form")
    console.fits()
    console.by("push-send").click()
    code = console.by("claim-code")
    expect(code).to_be_visible()
    job_id = console.by("pushed-job-id").inner_text()
    assert len(code.inner_text().replace(" ", "").replace("-", "")) >= 6
    console.shot("push-claim-code")
    job = console.admin.call("GET", f"/jobs/{job_id}", "viewer").json()
    assert job["office_code"] == OFFICE and job["state"] is None

    console.by("pushed-see-job").click()
    console.ready("job")
    expect(console.by("job-timeline")).to_contain_text("Dikirim oleh kabupaten")
    console.by("job-back").click()
    expect(console.by(f"job-row-{job_id}")).to_be_visible()
    console.by("filter-job").fill(job_id)
    console.by("filter-go").click()
    expect(console.by("jobs-total")).to_have_text("1 kiriman")
    console.shot("jobs")

    console.page.goto(f"{console.admin.url}/console/#job/{job_id}")
    expect(console.by("job-cancel")).to_be_visible()
    console.by("job-cancel").click()  # no reason chosen: asked for one, nothing sent
    expect(console.page.locator(".message-slot")).to_contain_text("Pilih dulu alasan")
    console.by("cancel-reason").select_option("wrong_document")
    console.by("job-cancel").click()
    console.by("confirm-yes").click()
    expect(console.by("job-state")).to_have_text("Dibatalkan")
    expect(console.by("job-timeline")).to_contain_text("Dibatalkan oleh kabupaten")
    console.shot("job-cancelled")


def test_enrolment_sheet_shows_the_code_and_its_qr_then_a_kiosk_is_revoked(
    console: Console,
) -> None:
    console.signed_in("admin")
    console.nav("offices")
    beat(console.admin)
    console.page.reload()
    console.ready("offices")
    device = console.admin.kiosk.device_id
    expect(console.by(f"device-health-{device}")).to_have_text("Aktif")
    expect(console.by(f"device-printers-{device}")).to_contain_text("kertas")
    console.shot("offices")
    console.fits()
    console.by(f"enroll-{OFFICE}").click()
    expect(console.by("enroll-sheet")).to_be_visible()
    code = console.by("enroll-code").inner_text()
    assert code
    qr = console.by("enroll-qr")
    expect(qr).to_have_attribute("alt", f"QR {code}")
    assert console.page.evaluate("el => el.complete && el.naturalWidth > 0", qr.element_handle())
    console.shot("enroll-sheet")
    console.by("enroll-back").click()
    console.by(f"rotate-seal-{device}").click()  # ask the kiosk to change its sealing key
    console.by("confirm-yes").click()
    expect(console.page.locator(".message-slot")).to_contain_text("mengganti kunci segelnya")
    devices = console.admin.call("GET", "/devices", "viewer").json()["devices"]
    assert [isinstance(d["seal_rotate_s"], int) for d in devices if d["device_id"] == device] == [
        True
    ]
    console.by(f"revoke-{device}").click()
    console.by("confirm-no").click()
    expect(console.by(f"device-health-{device}")).to_have_text("Aktif")
    console.by(f"revoke-{device}").click()
    console.by("confirm-yes").click()
    expect(console.by(f"device-health-{device}")).to_have_text("Dicabut")
    devices = console.admin.call("GET", "/devices", "viewer").json()["devices"]
    assert [d["revoked_s"] is not None for d in devices if d["device_id"] == device] == [True]


def test_an_admin_adds_a_user_makes_a_token_shown_once_and_revokes_it(console: Console) -> None:
    console.signed_in("admin")
    console.nav("people")
    console.by("user-id").fill("siti.it")
    console.by("user-name").fill("Siti")
    console.by("user-role").select_option("operator")
    console.by("user-password").fill("sandi-panjang-sekali-2026")
    console.by("user-add").locator("button").click()
    expect(console.by("user-siti.it")).to_be_visible()
    console.by("token-user").select_option("siti.it")
    console.by("token-label").fill("laporan")
    console.by("token-add").locator("button").click()
    token = console.by("token-once-value").inner_text()
    assert token.startswith("cdk_")
    me = requests.get(console.admin.url + "/admin/v1/me",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert me.status_code == 200 and me.json()["user_id"] == "siti.it"
    console.shot("people")
    console.page.reload()
    console.ready("people")
    expect(console.by("token-once-value")).to_have_count(0)  # shown once
    token_id = next(t["token_id"] for t in console.admin.call("GET", "/tokens", "admin")
                    .json()["tokens"] if t["user_id"] == "siti.it")  # fmt: skip
    console.by(f"revoke-token-{token_id}").click()
    console.by("confirm-yes").click()
    expect(console.by(f"token-{token_id}")).to_contain_text("Dicabut")
    gone = requests.get(console.admin.url + "/admin/v1/me",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert gone.status_code == 401
    console.by("disable-siti.it").click()
    console.by("confirm-yes").click()
    expect(console.by("user-siti.it")).to_contain_text("Nonaktif")


def test_an_admin_adds_a_webhook_with_its_secret_shown_once(console: Console) -> None:
    console.signed_in("admin")
    console.nav("people")
    console.by("webhook-url").fill("https://sistem.kolakautara.go.id/cedoka")
    console.by("webhook-user").select_option("operator.user")
    console.by("webhook-add").locator("button").click()
    assert console.by("secret-once-value").inner_text().startswith("whsec_")
    hook = console.admin.call("GET", "/webhooks", "admin").json()["webhooks"][0]
    console.by(f"deliveries-{hook['webhook_id']}").click()
    expect(console.by("deliveries-table")).to_be_visible()
    console.by(f"disable-webhook-{hook['webhook_id']}").click()
    console.by("confirm-yes").click()
    expect(console.by(f"webhook-{hook['webhook_id']}")).to_contain_text("Nonaktif")


def test_a_viewer_sees_no_push_or_revoke_and_the_api_refuses_anyway(console: Console) -> None:
    console.allowed = {403}
    console.signed_in("viewer")
    expect(console.by("nav-push")).to_have_count(0)
    expect(console.by("nav-people")).to_have_count(0)
    console.nav("offices")
    expect(console.by("devices-table")).to_be_visible()
    expect(console.page.locator("[data-testid^=revoke-]")).to_have_count(0)
    expect(console.page.locator("[data-testid^=enroll-]")).to_have_count(0)
    expect(console.by("rotate-key")).to_have_count(0)
    console.page.goto(f"{console.admin.url}/console/#push")  # typed by hand: the overview
    console.ready("dashboard")
    device = console.admin.kiosk.device_id
    status = console.page.evaluate(
        """async (device) => {
            const s = await (await fetch('/admin/v1/session')).json();
            const r = await fetch(`/admin/v1/devices/${device}/revoke`,
                {method: 'POST', headers: {'X-CSRF-Token': s.csrf}});
            return r.status;
        }""",
        device,
    )
    assert status == 403


def test_the_audit_viewer_shows_the_district_log_and_a_kiosks_checked_chain(
    console: Console,
) -> None:
    store_records(console.admin, chain(console.admin, 3))
    console.signed_in("viewer")
    console.nav("audit")
    expect(console.by("audit-table")).to_contain_text("session.open")
    console.by("kiosk-audit-show").click()
    expect(console.by("chain-ok")).to_be_visible()
    expect(console.by("kiosk-audit-table").locator("tbody tr")).to_have_count(3)
    console.shot("audit")


def test_files_dropped_on_the_push_screen_are_listed_and_a_non_pdf_is_refused(
    console: Console,
) -> None:
    console.signed_in("operator")
    console.nav("push")
    transfer = console.page.evaluate_handle(
        """pdf => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(pdf), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], 'kk.pdf', {type: 'application/pdf'}));
            dt.items.add(new File(['halo'], 'catatan.txt', {type: 'text/plain'}));
            return dt;
        }""",
        base64.b64encode(make_pdf(1)).decode(),
    )
    console.by("push-drop").dispatch_event("dragover", {"dataTransfer": transfer})
    console.by("push-drop").dispatch_event("drop", {"dataTransfer": transfer})
    expect(console.by("push-files").locator("li")).to_have_count(1)
    expect(console.by("push-file-0")).to_contain_text("kk.pdf")
    expect(console.by("message")).to_have_text("catatan.txt bukan berkas PDF.")


def test_a_letter_page_is_flagged_before_sending_and_a_broken_pdf_blocks_the_send(
    console: Console, tmp_path: Path
) -> None:
    letter = tmp_path / "surat.pdf"
    letter.write_bytes(make_pdf(2, width_pt=612, height_pt=792))
    broken = tmp_path / "rusak.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not really a PDF")
    console.signed_in("operator")
    console.nav("push")
    console.by("push-resident").fill("Warga Uji")
    console.by("push-pick").set_input_files([letter, broken])
    expect(console.by("push-check-0")).to_contain_text(
        "2 halaman · tidak semua A4 (216\u00d7279 mm)"
    )
    expect(console.by("push-check-1")).to_have_text(
        "Berkas ini tidak bisa dibuka sebagai PDF. Periksa berkasnya."
    )
    console.shot("push-checks")
    console.by("push-send").click()
    expect(console.by("message")).to_have_text("Perbaiki atau hapus dulu berkas yang bermasalah.")
    console.by("push-remove-1").click()
    console.by("push-send").click()
    expect(console.by("claim-code")).to_be_visible()
    expect(console.by("push-warnings")).to_contain_text("not every page is A4")


def test_the_dashboard_counts_jobs_waiting_too_long(console: Console, tmp_path: Path) -> None:
    old, held, fresh = (str(console.admin.push()["job_id"]) for _ in range(3))
    now = int(time.time())
    with closing(sqlite3.connect(tmp_path / "district" / DATABASE)) as db, db:  # long ago
        db.execute("UPDATE jobs SET created_s = ? WHERE job_id = ?", (now - 2 * 3600, old))
        db.execute("UPDATE jobs SET state = 'held', state_s = ? WHERE job_id = ?",
                   (now - 25 * 3600, held))  # fmt: skip
    console.signed_in("viewer")
    expect(console.by("dash-waiting-value")).to_have_text("2")
    expect(console.by("dash-state-held")).to_contain_text("1")
    assert fresh


def test_an_admin_manages_an_offices_staff_and_a_viewer_only_sees_them(console: Console) -> None:
    """ADR 0034: add (the one-time PIN shown once), reset, disable; a viewer lists only."""
    console.signed_in("admin")
    console.nav("offices")
    console.by(f"staff-of-{OFFICE}").click()
    expect(console.by("staff-table")).to_be_visible()
    console.by("staff-new-id").fill("ani")
    console.by("staff-new-name").fill("Ani Wulandari")
    console.by("staff-add-submit").click()
    expect(console.by("staff-pin")).to_contain_text("PIN sekali pakai untuk ani:")
    first = console.by("staff-pin").inner_text().split(": ", 1)[1].split(" ")[0]
    assert first.isdigit() and len(first) == 6
    expect(console.by("staff-ani")).to_contain_text("menunggu, sampai")
    device = console.admin.kiosk.device_id
    expect(console.by(f"staff-kiosk-{device}")).to_contain_text("belum melaporkan daftarnya")
    console.shot("staff")
    console.by("staff-reset-ani").click()
    expect(console.by("staff-pin")).not_to_contain_text(first)
    console.by("staff-disable-ani").click()
    console.by("confirm-yes").click()
    expect(console.by("staff-state-ani")).to_have_text("Nonaktif")
    expect(console.by("staff-disable-ani")).to_have_count(0)
    listed = console.admin.call("GET", f"/offices/{OFFICE}/operators", "viewer").json()
    assert [(o["id"], o["state"]) for o in listed["operators"]] == [("ani", "disabled")]
    refused = console.admin.call("POST", f"/offices/{OFFICE}/operators/ani/reset", "viewer")
    assert refused.status_code == 403
