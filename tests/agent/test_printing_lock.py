"""The printing lock is never waited for (issue 16, item 5; ADR 0024): the middle tier's
agent (real home and spool, in-memory district, virtual printer, fixed clock) with the
lock held by the test, as a print round of ``cedoka run`` following a stuck job holds it."""

# ruff: noqa: F811 (the middle tier's fixtures, imported, are the tests' arguments)
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent.app import Agent
from agent.dispatch import PrinterBusyError
from agent.files import exclusive_lock
from agent.home import HomeLayout
from agent.jobs import Step
from agent.operators import Operator
from kiosk.lifecycle import JobEvent, JobState
from tests.agent.test_desk import STAFF, held_job, staff  # noqa: F401 (fixture)
from tests.agent.test_middle_tier import agent, out, printed, sim, state  # noqa: F401
from tests.sim.district import DistrictSim


def released_job(agent: Agent, sim: DistrictSim) -> str:
    job_id, _, _ = held_job(agent, sim)
    assert agent.releaser.by_staff(job_id, operator=STAFF[0])
    return job_id


def stuck_job(agent: Agent, sim: DistrictSim) -> str:
    """A job in ``printing`` whose round is not running (as after a crash)."""
    job_id = released_job(agent, sim)
    assert agent.book.step(job_id, Step(JobEvent.SUBMIT)) is not None
    return job_id


def test_a_print_answers_at_once_while_another_round_holds_the_printer(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    stuck = stuck_job(agent, sim)
    waiting = released_job(agent, sim)
    (out / "PAUSED").touch()  # the stuck job's queue is stopped
    with exclusive_lock(HomeLayout(agent.home).printing_lock):
        started = time.monotonic()
        with pytest.raises(PrinterBusyError) as busy:
            agent.dispatcher.print_job(waiting)
        assert time.monotonic() - started < 1
        assert (busy.value.reason, busy.value.printing) == ("stopped", stuck)
        (out / "PAUSED").unlink()
        with pytest.raises(PrinterBusyError) as busy:
            agent.dispatcher.print_job(waiting)
        assert (busy.value.reason, busy.value.printing) == ("busy", stuck)
        agent.dispatcher.print_released()  # the service's pass: it waits for the next one
        assert state(agent, waiting) is JobState.RELEASED and printed(out) == []
    agent.dispatcher.print_released()
    assert state(agent, waiting) is JobState.PRINTED


def test_the_start_up_sweep_is_put_off_while_the_lock_is_held(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    """``cedoka run`` starting while ``cedoka release`` prints: the sweep does not wait (nor
    take that job for a crash's orphan); the next print pass runs it."""
    orphan = stuck_job(agent, sim)
    with exclusive_lock(HomeLayout(agent.home).printing_lock):
        started = time.monotonic()
        assert agent.dispatcher.recover() is False
        assert time.monotonic() - started < 1
        agent.dispatcher.print_released()
        assert state(agent, orphan) is JobState.PRINTING and printed(out) == []
    agent.dispatcher.print_released()
    assert state(agent, orphan) is JobState.PRINTED and len(printed(out)) == 1


def test_the_screen_sees_why_jobs_do_not_come_out_and_the_desk_prints_in_turn(
    agent: Agent, sim: DistrictSim, out: Path, staff: Operator
) -> None:
    stuck = stuck_job(agent, sim)
    waiting, _, _ = held_job(agent, sim)
    (out / "PAUSED").touch()
    desk = agent.desk
    view = desk.job(stuck)
    assert (view.held_up, view.behind) == ("stopped", None)
    time.sleep(0.01)
    lock = HomeLayout(agent.home).printing_lock
    held = threading.Event()
    free = threading.Event()

    def round_of_the_stuck_job() -> None:  # the service following the stuck job
        with exclusive_lock(lock):
            held.set()
            free.wait(10)
            agent.book.step(stuck, Step(JobEvent.PRINT_DONE))
        with agent.dispatcher.changed:
            agent.dispatcher.changed.notify_all()

    service = threading.Thread(target=round_of_the_stuck_job)
    service.start()
    held.wait(5)
    (out / "PAUSED").unlink()
    agent.desk._printer_checked = (float("-inf"), None)  # no cached verdict
    results: list[JobState] = []
    assert agent.releaser.by_staff(waiting, operator=staff.operator_id)
    releasing = threading.Thread(
        target=lambda: results.append(desk._print_now(waiting, staff)))  # fmt: skip
    releasing.start()
    time.sleep(0.3)
    view = desk.job(waiting)
    assert (view.state, view.held_up, view.behind) == (JobState.RELEASED, "busy", stuck)
    free.set()
    service.join(10)
    releasing.join(10)
    assert results == [JobState.PRINTED]
    assert desk.job(waiting).held_up is None


def test_cedoka_release_says_at_once_which_job_holds_the_printer_and_why(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    """The command line in words (a subprocess on the same home): exit 5, the job released,
    one line naming the stuck job and the printer's reason in English and Indonesian."""
    import subprocess

    from tests.agent.harness import CEDOKA

    stuck = stuck_job(agent, sim)
    waiting, code, _ = held_job(agent, sim)
    (out / "PAUSED").touch()
    with exclusive_lock(HomeLayout(agent.home).printing_lock):
        started = time.monotonic()
        done = subprocess.run(
            [str(CEDOKA), "--home", str(agent.home), "release", "--claim", code],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        took = time.monotonic() - started
    assert done.returncode == 5, done.stdout + done.stderr
    assert took < 30, f"release waited {took:.1f} s"
    assert done.stdout == f"job {waiting}: released\n"
    [line] = done.stderr.splitlines()
    assert line.startswith(f"cedoka: stopped (the printer is on job {stuck}): The printer is "
                           "stuck on another job;"), line  # fmt: skip
    assert "Printer tertahan pada dokumen lain" in line and "Aktifkan printer" in line
    assert state(agent, waiting) is JobState.RELEASED and printed(out) == []
