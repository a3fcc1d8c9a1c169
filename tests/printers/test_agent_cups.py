"""The agent's whole path through the real print stack: push → verified → released → printed
by ``ippeveprinter`` through the private CUPS → reported to the district."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from kiosk.model import ReleaseMode
from tests.agent.harness import (
    OFFICE,
    Kiosk,
    assert_no_personal_data,
    district_events,
    district_state,
    push,
    wait_for,
)
from tests.district.conftest import Server
from tests.printers.cupslab import CupsLab


def _enrol(server: Server, tmp_path: Path, lab: CupsLab) -> Kiosk:
    kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path / "unused")
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                     "--printer", f"a4=cups:{lab.queue}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return kiosk


def test_released_and_printed_through_cups(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    agent = kiosk.start()
    try:
        job_id, claim, pdfs = push(server, ReleaseMode.CLAIM)
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        assert claim is not None and clean_lab.received() == []
        started = time.monotonic()
        done = kiosk.cli("release", "--claim", claim, "--operator", "siti.s", "--json")
        took = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["jobs"] == [{"job_id": job_id, "state": "printed"}]
        print(f"release -> printed through CUPS (2 documents, CLI process): {took:.2f} s")
        received = clean_lab.received()
        assert sorted(len(PdfReader(io.BytesIO(d)).pages) for d, _ in received) == sorted(
            len(PdfReader(io.BytesIO(p)).pages) for p in pdfs
        )
        for _, attrs in received:
            assert attrs["IPP_MEDIA"] == "iso_a4_210x297mm"
            assert attrs["IPP_PRINT_SCALING"] == "none"
            assert attrs["IPP_JOB_NAME"].startswith(job_id + ".1.")
        wait_for("printed at the district", lambda: district_state(server, job_id) == "printed")
        assert district_events(server, job_id) == [
            "verify_ok", "hold", "release", "submit", "print_done"]  # fmt: skip
    finally:
        kiosk.stop(agent)
    assert_no_personal_data(kiosk.home, kiosk.log_text())


def test_a_paused_queue_is_refused_before_printing_with_a_message(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    agent = kiosk.start()
    try:
        job_id, claim, _ = push(server, ReleaseMode.CLAIM)
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        clean_lab.command("cupsdisable", clean_lab.queue)
        assert claim is not None
        refused = json.loads(kiosk.cli("release", "--claim", claim, "--json").stdout)
        assert refused["error"]["code"] == "stopped"
        assert "Aktifkan printer" in refused["error"]["message_id"]
        assert refused["jobs"] == [{"job_id": job_id, "state": "released"}]
        assert clean_lab.received() == []
        clean_lab.command("cupsenable", clean_lab.queue)  # the service prints it now
        wait_for("printed", lambda: district_state(server, job_id) == "printed", 30)
        assert len(clean_lab.received()) == 2  # once each
    finally:
        kiosk.stop(agent)


def test_printers_command_shows_health_and_the_pre_flight_verdict(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    ready = kiosk.cli("printers", "--json")
    assert ready.returncode == 0, ready.stderr
    value = json.loads(ready.stdout)
    assert value["cups_queues"] == [clean_lab.queue]
    [a4] = value["roles"]
    assert (a4["role"], a4["backend"], a4["ready"], a4["accepting"]) == ("a4", "cups", True, True)
    clean_lab.kill_printer()
    off = kiosk.cli("printers", "--json")
    assert off.returncode == 1
    [a4] = json.loads(off.stdout)["roles"]
    assert a4["problem"] == "offline" and "nyalakan printer" in a4["message_id"]
    assert "NOT READY (offline)" in kiosk.cli("printers").stdout


@pytest.mark.parametrize("point", ["print.after_intent", "print.after_submit", "print.after_done"])
def test_a_crash_while_printing_through_cups_prints_nothing_twice(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:  # fmt: skip
    """After SIGKILL the agent asks CUPS what it has under each title: a submitted document
    is followed, not resubmitted; an intent CUPS never saw is submitted now."""
    import signal

    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    job_id, _, pdfs = push(server, ReleaseMode.AUTO)
    try:
        crashed = kiosk.start(crash_at=point)
        assert crashed.wait(timeout=60) == -signal.SIGKILL
        again = kiosk.start()
        wait_for("printed", lambda: district_state(server, job_id) == "printed", 60)
        kiosk.stop(again)
    finally:
        kiosk.stop_all()
    wait_for("both documents out", lambda: len(clean_lab.received()) >= len(pdfs), 30)
    time.sleep(1.5)  # anything duplicated would have arrived by now
    assert len(clean_lab.received()) == len(pdfs)
    names = [attrs["IPP_JOB_NAME"] for _, attrs in clean_lab.received()]
    assert len(set(names)) == len(names)


def test_a_job_cancelled_at_the_printer_fails_and_a_retry_prints_it(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The print job is cancelled while the printer works on it (someone pressed Cancel):
    CUPS reports it canceled, the job is ``failed`` with that reason (the district sees
    ``print_fail``), and a retry prints the bundle, once."""
    import subprocess

    from agent.app import Agent
    from agent.jobs import Step
    from kiosk.lifecycle import JobEvent

    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    job_id, claim, pdfs = push(server, ReleaseMode.CLAIM)
    first = kiosk.start()
    wait_for("held", lambda: kiosk.local_state(job_id) == "held")
    kiosk.stop(first)
    clean_lab.fault("slow", "5")
    clean_lab.fault("fail")  # whatever the printer still does with it: nothing comes out
    assert claim is not None
    release = subprocess.Popen(
        [str(kiosk_cli()), "--home", str(kiosk.home), "release", "--claim", claim, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for("the printer busy", lambda: any((clean_lab.dir / "ippeve").glob("*.pdf")), 30)
    log = clean_lab.dir / "log/ippeve.out"
    before = log.read_text(errors="replace").count("exited with status 1")
    clean_lab.command("cancel", "-a", clean_lab.queue)
    out, err = release.communicate(timeout=120)
    assert json.loads(out)["jobs"] == [{"job_id": job_id, "state": "failed"}], err
    wait_for("the printer done with the cancelled job",
             lambda: log.read_text(errors="replace").count("exited with status 1") > before,
             30)  # fmt: skip
    clean_lab.clear_faults()
    agent = Agent(kiosk.home)
    try:
        assert agent.book.step(job_id, Step(JobEvent.RETRY)) is not None  # staff: try again
        assert agent.dispatcher.print_job(job_id).value == "printed"
        agent.reporter.deliver()
    finally:
        agent.close()
    assert len(clean_lab.received()) == len(pdfs)
    events = district_events(server, job_id)
    assert events[-4:] == ["print_fail", "retry", "submit", "print_done"], events


def kiosk_cli() -> Path:
    from tests.agent.harness import CEDOKA

    return CEDOKA


def test_printers_command_covers_the_receipt_role(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.printers.escpos_listener import STATUS_OUT, EscposListener

    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    with EscposListener(status=STATUS_OUT) as receipt:
        kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path / "unused")
        code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
        done = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                         "--printer", f"a4=cups:{clean_lab.queue}",
                         "--printer", f"receipt={receipt.uri}")  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = kiosk.cli("printers", "--json")
    assert answer.returncode == 1  # one role is not ready
    roles = {r["role"]: r for r in json.loads(answer.stdout)["roles"]}
    assert roles["a4"]["ready"] is True
    assert roles["receipt"]["backend"] == "escpos" and roles["receipt"]["problem"] == "media_empty"
    assert "Kertas habis" in roles["receipt"]["message_id"]


def stick_a_job(kiosk: Kiosk, server: Server, lab: CupsLab) -> str:
    """An auto-released job that ``cedoka run`` is following while the A4 queue is paused
    (``cupsdisable``, as staff or a jam do) with its first document waiting in CUPS. The
    queue is paused while that document waits behind another print (a stranger's, slow):
    CUPS restarts an interrupted job from the start, so pausing under our own document
    would print it twice, by CUPS's doing, not ours. Returns the stuck job's id."""
    lab.fault("slow", "6")
    filler = lab.command("lp", "-d", lab.queue, "-t", "filler",
                         "/usr/share/cups/data/default-testpage.pdf")  # fmt: skip
    assert filler.returncode == 0, filler.stderr
    job_id, _, _ = push(server, ReleaseMode.AUTO)
    kiosk.start()

    def submitted() -> bool:
        with kiosk.spool() as conn:
            return conn.execute("SELECT count(*) FROM prints WHERE job_id = ? AND "
                                "state = 'submitted'", (job_id,)).fetchone()[0] == 1  # fmt: skip

    wait_for("the stuck job's first document in CUPS", submitted, 30)
    assert lab.command("cupsdisable", lab.queue).returncode == 0
    lab.clear_faults()
    assert kiosk.local_state(job_id) == "printing"
    return job_id


def test_a_release_while_another_job_is_stuck_answers_at_once(
    server: Server, clean_lab: CupsLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 (5): ``cedoka run`` follows a job on a paused queue (for up to its print
    deadline); ``cedoka release`` of another code must not wait on the printing lock: it
    answers at once that the printer is stuck on that job and why (exit 5), the job stays
    released; re-enabling the queue prints both, each document once."""
    monkeypatch.setenv("CUPS_SERVER", clean_lab.socket)
    kiosk = _enrol(server, tmp_path, clean_lab)
    try:
        held, claim, _ = push(server, ReleaseMode.CLAIM)
        stuck = stick_a_job(kiosk, server, clean_lab)
        wait_for("held", lambda: kiosk.local_state(held) == "held")
        assert claim is not None
        started = time.monotonic()
        answer = kiosk.cli("release", "--claim", claim, "--operator", "siti", "--json")
        took = time.monotonic() - started
        assert answer.returncode == 5, answer.stdout + answer.stderr
        assert took < 20, f"release waited {took:.1f} s"  # a CLI start, not a print deadline
        value = json.loads(answer.stdout)
        assert value["jobs"] == [{"job_id": held, "state": "released"}]
        error = value["error"]
        assert (error["code"], error["printing"]) == ("stopped", stuck)
        assert "tertahan pada dokumen lain" in error["message_id"]
        assert "Aktifkan printer" in error["message_id"]
        assert "stuck on another job" in error["message_en"]
        human = kiosk.cli("release", "--claim", claim)  # a used code: refused, no traceback
        assert "Traceback" not in human.stderr
        assert clean_lab.command("cupsenable", clean_lab.queue).returncode == 0
        for job_id in (stuck, held):
            wait_for(f"{job_id} printed", lambda j=job_id: district_state(server, j) == "printed",
                     60)  # fmt: skip
    finally:
        kiosk.stop_all()
    time.sleep(1.5)  # anything duplicated would have arrived by now
    names = [attrs["IPP_JOB_NAME"] for _, attrs in clean_lab.received()]
    ours = sorted(n for n in names if n != "filler")
    assert ours == sorted(f"{j}.1.{i}" for j in (stuck, held) for i in (0, 1)), names
