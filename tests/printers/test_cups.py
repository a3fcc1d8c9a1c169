"""The CUPS backend against the real stack: a private cupsd and an IPP Everywhere printer
(``ippeveprinter``) that records what it printed. Each fault is played by the printer or
the queue, never by a mock."""

from __future__ import annotations

import io
import time

import pytest
from pypdf import PdfReader

from kiosk.config import PrinterRole, parse_printer_target
from kiosk.model import PrintTicket, Sides
from printers.base import Phase, PrinterNotReadyError, PrintStatus, PrintSubmitError
from printers.cups import CupsPrinter, list_queues
from tests.printers.cupslab import CupsLab
from tests.sim.district import make_pdf


def _printer(lab: CupsLab, queue: str | None = None) -> CupsPrinter:
    return CupsPrinter(parse_printer_target(PrinterRole.A4, f"cups:{queue or lab.queue}"))


def _until_final(printer: CupsPrinter, title: str, timeout_s: float = 30) -> PrintStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = printer.status(title)
        if status.phase in {Phase.DONE, Phase.FAILED}:
            return status
        assert time.monotonic() < deadline, f"{title} still {status}"
        time.sleep(0.1)


def test_the_document_arrives_a4_unscaled_with_copies_and_sides(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    printer.preflight()
    ticket = PrintTicket(sides=Sides.TWO_SIDED_LONG_EDGE)
    started = time.monotonic()
    printer.submit(make_pdf(3), title="job_01TEST.1.0", copies=2, ticket=ticket)
    assert _until_final(printer, "job_01TEST.1.0").phase is Phase.DONE
    print(f"submit -> completed through CUPS: {time.monotonic() - started:.2f} s")
    [(document, attrs)] = clean_lab.received()
    assert len(PdfReader(io.BytesIO(document)).pages) == 3
    assert attrs["IPP_MEDIA"] == "iso_a4_210x297mm"
    assert attrs["IPP_PRINT_SCALING"] == "none"
    assert attrs["IPP_COPIES"] == "2"
    assert attrs["IPP_SIDES"] == "two-sided-long-edge"
    assert attrs["IPP_JOB_NAME"] == "job_01TEST.1.0"  # opaque: the job id only
    time.sleep(0.5)  # the scheduler removes the spooled copy once the job is done
    spooled = [p.name for p in (clean_lab.dir / "spool").iterdir() if p.name.startswith("d")]
    assert spooled == []  # PreserveJobFiles No: no copy of the document left in CUPS's spool


def test_health_of_a_ready_printer_with_its_supplies(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.fault("markers", "marker-names=Black marker-levels=7")  # low ink, still prints
    printer.submit(make_pdf(), title="job_01MARK.1.0", copies=1, ticket=PrintTicket())
    assert _until_final(printer, "job_01MARK.1.0").phase is Phase.DONE
    health = printer.health()
    assert health.backend == "cups" and health.accepting and health.state in {"idle", "processing"}
    assert [(m.name, m.level) for m in health.markers] == [("Black", 7)]
    assert clean_lab.queue in list_queues()


def test_a_paused_queue_blocks_and_can_be_re_enabled(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.command("cupsdisable", clean_lab.queue)
    with pytest.raises(PrinterNotReadyError) as caught:
        printer.preflight()
    assert caught.value.reason == "stopped"
    assert printer.health().state == "stopped"
    printer.enable()
    printer.preflight()


def test_a_rejecting_queue_blocks_and_refuses_submission(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.command("cupsreject", clean_lab.queue)
    with pytest.raises(PrinterNotReadyError) as caught:
        printer.preflight()
    assert caught.value.reason == "not_accepting"
    with pytest.raises(PrintSubmitError) as refused:
        printer.submit(make_pdf(), title="job_01REJ.1.0", copies=1, ticket=PrintTicket())
    assert refused.value.reason == "not_accepting"
    assert printer.status("job_01REJ.1.0").phase is Phase.NOT_FOUND  # nothing half-queued


# A job the printer fails ends "canceled" or "aborted" in CUPS — or, racing CUPS's ipp
# backend on a busy machine, "completed" (measured: about half the time under load). Either
# way nothing came out; that is why staff confirm the paper before a hand-over, and why
# these tests assert what arrived rather than CUPS's verdict alone.


def test_out_of_paper_prints_nothing_and_then_blocks(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.fault("media-empty")
    printer.submit(make_pdf(), title="job_01PAPER.1.0", copies=1, ticket=PrintTicket())
    status = _until_final(printer, "job_01PAPER.1.0")
    if status.phase is Phase.FAILED:
        assert status.reason in {"canceled", "aborted"}
    assert clean_lab.received() == []
    health = printer.health()  # the printer itself says so (asked over IPP)
    assert any(r.startswith("media-empty") for r in health.reasons), health.reasons
    with pytest.raises(
        PrinterNotReadyError
    ) as caught:  # the next release is blocked before printing
        printer.preflight()
    assert caught.value.reason == "media_empty"


def test_a_printer_error_prints_nothing(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.fault("fail")
    printer.submit(make_pdf(), title="job_01JAM.1.0", copies=1, ticket=PrintTicket())
    status = _until_final(printer, "job_01JAM.1.0")
    if status.phase is Phase.FAILED:
        assert status.reason in {"canceled", "aborted"}
    assert clean_lab.received() == []


def test_a_slow_printer_stays_active_then_completes(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.fault("slow", "3")
    printer.submit(make_pdf(), title="job_01SLOW.1.0", copies=1, ticket=PrintTicket())
    time.sleep(1.0)
    assert printer.status("job_01SLOW.1.0").phase is Phase.ACTIVE  # never "done" early
    assert _until_final(printer, "job_01SLOW.1.0").phase is Phase.DONE


def test_a_switched_off_printer_is_offline_before_printing(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    clean_lab.kill_printer()
    try:
        with pytest.raises(PrinterNotReadyError) as caught:
            printer.preflight()
        assert caught.value.reason == "offline"
        assert printer.health().state == "offline"
        printer.submit(make_pdf(), title="job_01OFF.1.0", copies=1, ticket=PrintTicket())
        status = _until_final(printer, "job_01OFF.1.0", timeout_s=60)
        assert status.phase is Phase.FAILED and status.reason == "aborted"
    finally:
        clean_lab.start_printer()


def test_status_follows_the_submitted_job_id_and_falls_back_to_the_title(
    clean_lab: CupsLab,
) -> None:
    """The printer asks CUPS for the job it submitted, by the id ``createJob`` gave; a
    printer that did not submit the title (the agent restarted since) finds it by title:
    the newest job of that name in CUPS's history."""
    printer = _printer(clean_lab)
    title = "job_01BYID.1.0"
    printer.submit(make_pdf(), title=title, copies=1, ticket=PrintTicket())
    assert _until_final(printer, title).phase is Phase.DONE
    # Another job of the same name, still printing: not the one this printer submitted.
    clean_lab.fault("slow", "3")
    document = clean_lab.dir / "again.pdf"
    document.write_bytes(make_pdf())
    document.chmod(0o644)
    done = clean_lab.command("lp", "-d", clean_lab.queue, "-t", title, str(document))
    assert done.returncode == 0, done.stderr
    time.sleep(0.5)
    assert printer.status(title).phase is Phase.DONE  # its own job, by id
    after_restart = _printer(clean_lab)  # knows no job id: the title scan
    assert after_restart.status(title).phase is Phase.ACTIVE  # the newest of that name
    assert _until_final(after_restart, title).phase is Phase.DONE


def test_unknown_titles_and_queues(clean_lab: CupsLab) -> None:
    printer = _printer(clean_lab)
    assert printer.status("job_01NEVER.1.0").phase is Phase.NOT_FOUND
    missing = _printer(clean_lab, "no-such-queue")
    with pytest.raises(PrinterNotReadyError) as caught:
        missing.preflight()
    assert caught.value.reason == "no_queue"
    assert missing.health().state == "unknown"


@pytest.mark.parametrize("size", ["na_legal_8.5x14in", "na_letter_8.5x11in"])
def test_paper_that_is_not_a4_blocks_before_printing(clean_lab: CupsLab, size: str) -> None:
    """F4/Folio (Legal-sized here) or Letter in the tray: a signed A4 document would come out
    cut off or mis-scaled, so the release is refused until A4 is loaded."""
    printer = _printer(clean_lab)
    assert printer.health().media == "iso_a4_210x297mm"
    clean_lab.load_media(size)
    with pytest.raises(PrinterNotReadyError) as caught:
        printer.preflight()
    assert caught.value.reason == "media_not_a4"
    assert printer.health().media == size
    clean_lab.load_media("iso_a4_210x297mm")
    printer.preflight()
