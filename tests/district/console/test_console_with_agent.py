"""The whole path seen from the console: district IT pushes in the browser, the real agent
(a ``cedoka run`` process, virtual A4 printer) fetches and holds it, the resident's claim
code releases it at the kiosk with hand-over, and the console's timeline shows it printed
and handed over."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from playwright.sync_api import expect

from tests.agent.harness import Kiosk, wait_for
from tests.district.adminlab import OFFICE
from tests.district.console.conftest import Console
from tests.sim.district import make_pdf


def test_a_job_pushed_in_the_console_is_printed_by_the_agent_and_shown_handed_over(
    console: Console, tmp_path: Path
) -> None:
    admin = console.admin
    assert admin.call("POST", f"/devices/{admin.kiosk.device_id}/revoke", "admin").ok
    code = admin.call("POST", f"/offices/{OFFICE}/enroll-codes", "operator", json={})
    out = tmp_path / "printed"
    out.mkdir()
    kiosk = Kiosk(cast(Any, None), tmp_path / "kiosk", out)
    done = kiosk.cli("enroll", "--server", admin.url, "--code", code.json()["enroll_code"],
                     "--printer", f"a4=virtual:{out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    agent = kiosk.start()
    try:
        pdf = tmp_path / "kk.pdf"
        pdf.write_bytes(make_pdf(2))
        console.signed_in("operator")
        console.nav("push")
        console.by("push-resident").fill("Warga Uji")
        console.by("push-pick").set_input_files([pdf])
        expect(console.by("push-check-0")).to_have_text("2 halaman · ukuran A4")
        console.by("push-send").click()
        claim = console.by("claim-code").inner_text().replace(" ", "")
        job_id = console.by("pushed-job-id").inner_text()
        wait_for("held at the kiosk", lambda: kiosk.local_state(job_id) == "held")
        released = kiosk.cli("release", "--claim", claim, "--operator", "siti.s",
                             "--handed-over", "--json")  # fmt: skip
        assert released.returncode == 0, released.stderr
        assert [p.read_bytes() for p in kiosk.printed()] == [pdf.read_bytes()]
        state = lambda: admin.call("GET", f"/jobs/{job_id}", "viewer").json()["state"]  # noqa: E731
        wait_for("hand-over reported", lambda: state() == "purged")
        console.by("pushed-see-job").click()
        console.ready("job")
        timeline = console.by("job-timeline")
        for said in ("Dikirim oleh kabupaten", "Menunggu warga", "Tercetak", "Diserahkan"):
            expect(timeline).to_contain_text(said)
        expect(console.by("job-cancel")).to_have_count(0)  # printed: nothing to cancel
        console.shot("job-handed-over")
    finally:
        assert kiosk.stop(agent) == 0
