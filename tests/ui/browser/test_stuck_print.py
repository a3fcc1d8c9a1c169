"""A print stuck at the printer, as staff meet it (issue 16, item 5; ADR 0024): the real
``cedoka run`` printing through the private CUPS, its kiosk screen in real Chromium. The A4
queue is paused under a job the service is following; a code released from the command line
meanwhile answers at once; the queue shows the stuck job, why, and the ways out, and the job
behind it; one tap on *Aktifkan printer* finishes both, each document once."""

# ruff: noqa: F811 (the CUPS lab's fixtures, imported, are the test's arguments)
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from agent.home import HomeLayout
from kiosk.model import ReleaseMode
from tests.agent.harness import CEDOKA, OFFICE, Kiosk, district_state, push, wait_for
from tests.district.conftest import Server
from tests.printers.conftest import clean_lab, lab  # noqa: F401 (fixtures)
from tests.printers.cupslab import CupsLab
from tests.printers.test_agent_cups import stick_a_job
from tests.ui.browser.conftest import SHOTS, STAFF

pytestmark = [pytest.mark.system, pytest.mark.loopback, pytest.mark.slow]


def enrolled_kiosk(server: Server, tmp_path: Path, lab: CupsLab) -> Kiosk:
    kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path / "unused")
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                     "--printer", f"a4=cups:{lab.queue}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    operator_id, name, pin = STAFF
    added = subprocess.run(
        [str(CEDOKA), "--home", str(kiosk.home), "operator", "add", operator_id, "--name", name,
         "--pin-stdin"], input=f"{pin}\n", capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return kiosk


def sign_in(page: Page, url: str) -> None:
    operator_id, name, pin = STAFF
    page.goto(url)
    page.get_by_test_id(f"operator-{operator_id}").tap()
    for digit in pin:
        page.get_by_test_id(f"key-{digit}").tap()
    page.get_by_test_id("pin-submit").tap()
    expect(page.get_by_test_id("screen-queue")).to_be_visible()
    expect(page.get_by_test_id("operator-name")).to_have_text(name)


def test_the_queue_shows_the_stuck_job_and_the_way_out(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    page: Page,
) -> None:  # fmt: skip
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = enrolled_kiosk(server, tmp_path, clean_lab)
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)
    try:
        behind, claim, _ = push(server, ReleaseMode.CLAIM)
        stuck = stick_a_job(kiosk, server, clean_lab)
        wait_for("held", lambda: kiosk.local_state(behind) == "held")
        url_file = HomeLayout(kiosk.home).kiosk_url
        wait_for("the kiosk URL", url_file.exists)
        assert claim is not None
        answer = kiosk.cli("release", "--claim", claim, "--json")  # at the same time, by code
        assert answer.returncode == 5, answer.stdout + answer.stderr
        assert json.loads(answer.stdout)["error"]["printing"] == stuck

        page.set_viewport_size({"width": 1024, "height": 768})
        sign_in(page, url_file.read_text().strip())
        card = page.locator(f'[data-job="{stuck}"]')
        expect(card.get_by_test_id("job-state")).to_have_text("Sedang dicetak")
        note = card.get_by_test_id("held-up")
        expect(note).to_have_attribute("data-code", "stopped")
        expect(note.get_by_test_id("held-up-message")).to_have_text(
            "Pencetakan tertahan: Antrean printer dihentikan."
        )
        ways = note.get_by_test_id("ways-out").locator("li")
        expect(ways).to_have_count(3)
        expect(ways.nth(0)).to_contain_text("Aktifkan printer")
        expect(ways.nth(1)).to_contain_text("Batalkan di printer")
        expect(ways.nth(2)).to_contain_text("Periksa hasil")
        waiting = page.locator(f'[data-job="{behind}"]').get_by_test_id("held-up")
        expect(waiting).to_contain_text("Menunggu giliran: printer tertahan")
        expect(page.get_by_test_id("printer-a4")).to_contain_text("Antrean printer dihentikan")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "40-queue-stuck-job-1024.png"))
        card.screenshot(path=str(SHOTS / "40-queue-stuck-job-card-1024.png"))
        page.set_viewport_size({"width": 1366, "height": 768})
        page.screenshot(path=str(SHOTS / "41-queue-stuck-job-1366.png"))
        in_english(page, note, waiting)

        started = time.monotonic()
        note.get_by_test_id("held-up-enable").tap()  # the way out: the queue goes on
        for job_id in (stuck, behind):
            expect(page.locator(f'[data-job="{job_id}"]').get_by_test_id("job-state")).to_have_text(
                "Tercetak — periksa lalu serahkan", timeout=60000
            )
        print(f"enable -> both jobs printed: {time.monotonic() - started:.1f} s")
        expect(page.get_by_test_id("held-up")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "42-queue-after-enable-1366.png"))
        for job_id in (stuck, behind):
            wait_for("printed at the district", lambda j=job_id: district_state(server, j)
                     == "printed")  # fmt: skip
    finally:
        kiosk.stop_all()
    printed_once(clean_lab, (stuck, behind))


def in_english(page: Page, stuck: Locator, waiting: Locator) -> None:
    page.get_by_test_id("lang-en").tap()
    expect(stuck).to_contain_text("Printing is stuck: Printer queue stopped.")
    expect(stuck).to_contain_text("Cancel it at the printer")
    expect(waiting).to_contain_text("the printer is stuck on the job being printed")
    page.get_by_test_id("lang-id").tap()


def printed_once(lab: CupsLab, job_ids: tuple[str, ...]) -> None:
    """Each document of these jobs reached the printer once (two documents a job)."""
    time.sleep(1.5)  # anything duplicated would have arrived by now
    names = [attrs["IPP_JOB_NAME"] for _, attrs in lab.received()]
    ours = sorted(n for n in names if n != "filler")
    assert ours == sorted(f"{j}.1.{i}" for j in job_ids for i in (0, 1)), names


def test_a_jam_during_a_release_on_the_screen_shows_the_way_out(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    page: Page,
) -> None:  # fmt: skip
    """Staff print a code's documents; the queue is paused while they wait in CUPS (behind a
    stranger's slow print, see ``stick_a_job``): the printing screen says the print is stuck
    and how to get out; *Aktifkan printer* there finishes it, once, to the check screen."""
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = enrolled_kiosk(server, tmp_path, clean_lab)
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)
    try:
        job_id, claim, _ = push(server, ReleaseMode.CLAIM)
        kiosk.start()
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        url_file = HomeLayout(kiosk.home).kiosk_url
        wait_for("the kiosk URL", url_file.exists)
        assert claim is not None
        page.set_viewport_size({"width": 1024, "height": 768})
        sign_in(page, url_file.read_text().strip())
        page.get_by_test_id("enter-code").tap()
        for digit in (c for c in claim if c.isdigit()):
            page.get_by_test_id(f"key-{digit}").tap()
        page.get_by_test_id("open-code").tap()
        expect(page.get_by_test_id("screen-bundle")).to_be_visible()
        clean_lab.fault("slow", "8")
        filler = clean_lab.command("lp", "-d", clean_lab.queue, "-t", "filler",
                                   "/usr/share/cups/data/default-testpage.pdf")  # fmt: skip
        assert filler.returncode == 0, filler.stderr
        page.get_by_test_id("print").tap()

        def submitted() -> bool:
            with kiosk.spool() as conn:
                return conn.execute("SELECT count(*) FROM prints WHERE job_id = ? AND state = "
                                    "'submitted'", (job_id,)).fetchone()[0] == 1  # fmt: skip

        wait_for("the first document in CUPS", submitted, 30)
        assert clean_lab.command("cupsdisable", clean_lab.queue).returncode == 0
        clean_lab.clear_faults()
        note = page.get_by_test_id("screen-printing").get_by_test_id("held-up")
        expect(note).to_have_attribute("data-code", "stopped")
        expect(note.get_by_test_id("held-up-message")).to_have_text(
            "Pencetakan tertahan: Antrean printer dihentikan."
        )
        expect(note.get_by_test_id("ways-out").locator("li")).to_have_count(3)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "43-printing-stuck-1024.png"))
        note.get_by_test_id("held-up-enable").tap()
        expect(page.get_by_test_id("screen-confirm")).to_be_visible(timeout=60000)
        page.screenshot(path=str(SHOTS / "44-printing-stuck-then-confirm-1024.png"))
    finally:
        kiosk.stop_all()
    printed_once(clean_lab, (job_id,))
