"""The staff's desk (``agent.desk``) over a real spool, in one thread: the agent of the
middle tier (real home, in-memory district, virtual printer, fixed clock), driven through
the desk's methods as the kiosk screen drives them, without HTTP."""

# ruff: noqa: F811 (the middle tier's fixtures, imported, are the tests' arguments)
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import pytest

from agent.app import Agent
from agent.desk import RECHECK_S, DeskError
from agent.jobs import Step
from agent.operators import Operator
from kiosk.claim import generate_claim_code
from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import ReleaseMode
from tests.agent.test_middle_tier import agent, out, printed, sim  # noqa: F401 (fixtures)
from tests.sim.district import DistrictSim, make_pdf

STAFF = ("siti", "Siti Aminah", "2580")


@pytest.fixture
def staff(agent: Agent) -> Operator:
    operator_id, name, pin = STAFF
    return agent.operators.add(operator_id, name=name, role="staff", pin=pin)


def held_job(agent: Agent, sim: DistrictSim) -> tuple[str, str, bytes]:
    code = generate_claim_code(secrets.token_bytes)
    pdf = make_pdf(1)
    job = sim.publish(sim.job(release=ReleaseMode.CLAIM, claim_code=code, docs=(("KK", pdf),)))
    agent.run_once()
    return job.manifest.job_id, code, pdf


def actions(agent: Agent) -> list[str]:
    return [entry.entry.action for entry in reversed(agent.desk.history().entries)]


def test_a_code_opens_the_job_which_prints_and_is_handed_over(
    agent: Agent,
    sim: DistrictSim,
    out: Path,
    staff: Operator,
) -> None:
    desk = agent.desk
    job_id, code, pdf = held_job(agent, sim)
    [view] = desk.queue()
    assert (view.job_id, view.state, view.actions) == (job_id, JobState.HELD, ("release",))
    assert [d.doc_type for d in view.documents or ()] == ["KK"]

    [matched] = desk.match_code(code, staff)
    assert matched.job_id == job_id
    [result] = desk.release((job_id,), staff, by_code=True)
    assert result.state is JobState.PRINTED and printed(out) == [pdf]
    assert desk.job(job_id).actions == ("hand_over", "spoil")

    handed = desk.hand_over(job_id, staff)
    assert (handed.state, handed.receipt) == (JobState.PURGED, "none")  # no receipt printer
    assert actions(agent) == ["preview", "release_code", "print", "handover"]


def test_refusals_are_one_error_type(
    agent: Agent,
    sim: DistrictSim,
    staff: Operator,
) -> None:
    desk = agent.desk
    job_id, _, _ = held_job(agent, sim)
    cases = [
        (lambda: desk.match_code("not a code", staff), ("claim", "claim_malformed")),
        (lambda: desk.job("job_nothing"), ("staff", "no_job")),
        (lambda: desk.hand_over(job_id, staff), ("staff", "not_allowed")),
        (lambda: desk.retry(job_id, staff), ("staff", "not_allowed")),
        (lambda: desk.sign_in(STAFF[0], "0000"), ("staff", "pin_wrong")),
        (lambda: desk.supervisor.unlock_settings(staff, STAFF[2]), ("staff", "not_supervisor")),
        (lambda: desk.document_pdf(job_id, 0, ticketed=False), ("staff", "no_job")),
    ]
    for call, (kind, code) in cases:
        with pytest.raises(DeskError) as caught:
            call()
        assert (caught.value.kind, caught.value.code) == (kind, code)
    assert desk.document_pdf(job_id, 0, ticketed=True).startswith(b"%PDF-")
    assert actions(agent) == ["login_failed", "settings"]  # a wrong PIN; not a supervisor


def test_the_print_wait_wakes_on_the_dispatchers_notice(
    agent: Agent,
    sim: DistrictSim,
) -> None:
    """A job another thread is printing: the desk wakes when the dispatcher notifies, long
    before its recheck for other processes (``RECHECK_S``)."""
    job_id, _, _ = held_job(agent, sim)
    agent.releaser.by_staff(job_id, operator=STAFF[0])
    agent.book.step(job_id, Step(JobEvent.SUBMIT))
    states: list[JobState] = []
    waiter = threading.Thread(target=lambda: states.append(agent.desk._wait_printed(job_id)))
    started = time.monotonic()
    waiter.start()
    agent.book.step(job_id, Step(JobEvent.PRINT_DONE))
    with agent.dispatcher.changed:
        agent.dispatcher.changed.notify_all()
    waiter.join(timeout=RECHECK_S)
    assert states == [JobState.PRINTED] and time.monotonic() - started < RECHECK_S / 2


def test_a_held_job_the_district_cancels_shows_as_cancelled_and_is_never_handed_over(
    agent: Agent,
    sim: DistrictSim,
    out: Path,
    staff: Operator,
) -> None:
    """Issue 16 (broken 3): the resident's code was matched, then the district cancelled the
    job before staff released it. The queue says so (no actions, no resident: its documents
    are gone); releasing it, confirming a staff release or handing it over is refused as
    ``job_cancelled``, and nothing is printed."""
    desk = agent.desk
    job_id, code, _ = held_job(agent, sim)
    kept_id, _, _ = held_job(agent, sim)
    [matched] = desk.match_code(code, staff)
    assert matched.job_id == job_id

    sim.cancelled.add(job_id)
    agent.run_once()
    assert sim.events_of(job_id)[-2:] == [("cancel", "cancelled"), ("purge", None)]
    queue = {view.job_id: view for view in desk.queue()}
    assert set(queue) == {job_id, kept_id}
    cancelled = queue[job_id]
    assert (cancelled.state, cancelled.reason, cancelled.actions) == (
        JobState.CANCELLED,
        "cancelled",
        (),
    )
    assert cancelled.resident_masked is None
    assert [(d.doc_type, d.title) for d in cancelled.documents or ()] == [("KK", "Kartu Keluarga")]
    assert queue[kept_id].state is JobState.HELD

    for refused in (
        lambda: desk.release((job_id,), staff, by_code=True),
        lambda: desk.release((kept_id, job_id), staff, by_code=False, reason="no_phone"),
        lambda: desk.check_staff_release(job_id, STAFF[2], staff),
        lambda: desk.hand_over(job_id, staff),
    ):
        with pytest.raises(DeskError) as error:
            refused()
        assert (error.value.kind, error.value.code) == ("staff", "job_cancelled")
    assert printed(out) == [] and desk.job(kept_id).state is JobState.HELD
    assert "release_code" not in actions(agent) and "handover" not in actions(agent)


def test_a_printed_job_the_district_cancels_is_never_handed_over_staff_destroy_it(
    agent: Agent,
    sim: DistrictSim,
    out: Path,
    staff: Operator,
) -> None:
    """The cancel arrives when the paper is out (the district had not heard yet): the kiosk
    cannot cancel a printed job, so it shows the district's cancel on it, refuses the
    hand-over and a reprint, and staff record that they destroyed the sheets (protocol 13):
    spoil, cancel, purge, nothing printed again."""
    desk = agent.desk
    job_id, code, pdf = held_job(agent, sim)
    desk.match_code(code, staff)
    [result] = desk.release((job_id,), staff, by_code=True)
    assert result.state is JobState.PRINTED and printed(out) == [pdf]

    sim.cancelled.add(job_id)
    agent.run_once()
    view = desk.job(job_id)
    assert (view.state, view.district_cancelled, view.actions) == (
        JobState.PRINTED,
        True,
        ("discard",),
    )
    for refused in (
        lambda: desk.hand_over(job_id, staff),
        lambda: desk.spoil(job_id, "jammed", staff),
    ):
        with pytest.raises(DeskError) as error:
            refused()
        assert (error.value.kind, error.value.code) == ("staff", "job_cancelled")

    assert desk.discard(job_id, staff) is JobState.PURGED
    agent.run_once()
    assert sim.events_of(job_id)[-3:] == [
        ("spoil", "spoiled_cancelled"),
        ("cancel", "cancelled"),
        ("purge", None),
    ]
    [shown] = desk.queue()
    assert (shown.job_id, shown.state, shown.actions) == (job_id, JobState.CANCELLED, ())
    assert printed(out) == [pdf]  # nothing reprinted
    assert actions(agent)[-1] == "spoil" and "handover" not in actions(agent)
    with pytest.raises(DeskError) as error:
        desk.discard(job_id, staff)
    assert error.value.code == "not_allowed"


def test_a_spoil_reprints_the_named_documents_through_a_failure_and_retry(
    agent: Agent,
    sim: DistrictSim,
    out: Path,
    staff: Operator,
) -> None:
    """Only the spoiled document goes out again; when that reprint fails at the printer, a
    retry prints it (and nothing else); a spoil taken before spoils named their documents
    (no journal row marked) still reprints the whole bundle."""
    kk, akta = make_pdf(1), make_pdf(2)
    job = sim.publish(sim.job(release=ReleaseMode.STAFF, docs=(("KK", kk), ("AKTA_LAHIR", akta))))
    agent.run_once()
    job_id = job.manifest.job_id
    desk = agent.desk
    desk.release((job_id,), staff, by_code=False, reason="no_phone")
    assert printed(out) == sorted([kk, akta])

    (out / "FAIL").touch()  # the reprint jams at the printer
    assert desk.spoil(job_id, "jammed", staff, (1,)).state is JobState.FAILED
    assert printed(out) == sorted([kk, akta])
    assert [d.print for d in desk.job(job_id).documents or ()] == ["kept", "failed"]
    assert desk.retry(job_id, staff).state is JobState.PRINTED
    assert printed(out) == sorted([kk, akta, akta])

    agent.book.step(job_id, Step(JobEvent.SPOIL, reason="spoiled_blank", operator=STAFF[0]))
    assert agent.dispatcher.print_job(job_id) is JobState.PRINTED
    assert printed(out) == sorted([kk, kk, akta, akta, akta])
    with pytest.raises(DeskError) as caught:
        desk.spoil(job_id, "blank", staff, (2,))  # no third document
    assert caught.value.code == "no_job"
