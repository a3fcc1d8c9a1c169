"""The middle test tier: the whole agent in one thread, in memory, on a fixed clock.

An ``Agent`` over a real enrolled home (SQLite spool, sealed-file store, device keys) whose
district link is the in-memory simulator (``tests.sim.district.DistrictSim``, production
signing code, no HTTP), whose A4 printer is the virtual printer (a folder) and whose clock
is the simulator's fixed ``now_s``. ``Agent.run_once()`` does one sync round, one dispatch
pass and one report delivery in the calling thread, so each test steps the service and
reads what the district received (``sim.events``): sync, verify, hold, release, print, hand
over and report, with no process, no server and no sleep. The real-process tests
(``test_agent.py``, ``test_crash.py``) stay next to these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import trust as trust_store
from agent.app import Agent
from agent.client import LinkDownError, LinkKind
from agent.keys import DeviceKeys
from agent.link import DistrictLink
from agent.settings import save_config
from agent.spool import Spool
from kiosk.claim import generate_claim_code
from kiosk.config import PrinterRole, parse_printer_target, validate_agent_config
from kiosk.errors import ClaimError, Reason, RejectedError, TransitionError
from kiosk.lifecycle import JobState
from kiosk.model import ReleaseMode
from kiosk.verify import TrustState, verify_keyring
from printers.virtual import VirtualPrinter
from tests.sim.district import DistrictSim, fixed_key, make_pdf

OPERATOR = "siti.s"


def enrolled_home(home: Path, sim: DistrictSim, out: Path) -> None:
    """Write an enrolled kiosk home around ``sim``'s keys (as ``SimKiosk`` does)."""
    DeviceKeys(fixed_key("device-auth"), sim.seal_key).save(home)
    keyring_token = sim.keyring_token()
    keyring = verify_keyring(keyring_token, district_code=sim.district_code,
                             root_key=sim.root.public_key(), current=None)  # fmt: skip
    spool = Spool(home / "spool.db")
    try:
        trust_store.pin(spool, TrustState(
            district_code=sim.district_code, device_id=sim.device_id,
            root_key=sim.root.public_key(), keyring=keyring, head=None, time_floor_s=0,
        ), keyring_token)  # fmt: skip
    finally:
        spool.close()
    save_config(home, validate_agent_config({
        "server_url": "http://127.0.0.1:9", "device_id": sim.device_id,
        "district_code": sim.district_code, "office_code": sim.office_code,
        "printers": {"a4": f"virtual:{out}"},
    }))  # fmt: skip


@pytest.fixture
def sim() -> DistrictSim:
    return DistrictSim()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "printed"
    folder.mkdir()
    return folder


@pytest.fixture
def agent(tmp_path: Path, sim: DistrictSim, out: Path) -> Iterator[Agent]:
    home = tmp_path / "home"
    enrolled_home(home, sim, out)
    link: DistrictLink = sim  # the simulator is a district link (checked by mypy here)
    a4 = VirtualPrinter(parse_printer_target(PrinterRole.A4, f"virtual:{out}"))
    agent = Agent(home, link=link, printers={PrinterRole.A4: a4}, clock=lambda: sim.now_s)
    try:
        yield agent
    finally:
        agent.close()


def printed(out: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in out.glob("*.pdf"))


def state(agent: Agent, job_id: str) -> JobState | None:
    row = agent.spool.job(job_id)
    return None if row is None else row.status.state


def test_a_claim_job_is_held_released_by_its_code_printed_handed_over_and_reported(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    code = generate_claim_code(secrets.token_bytes)
    pdf = make_pdf(2)
    job = sim.publish(sim.job(release=ReleaseMode.CLAIM, claim_code=code, docs=(("KK", pdf),)))
    job_id = job.manifest.job_id

    agent.run_once()
    assert state(agent, job_id) is JobState.HELD
    assert printed(out) == []
    assert sim.events_of(job_id) == [("verify_ok", None), ("hold", None)]

    assert agent.releaser.by_claim(code, operator=OPERATOR) == [job_id]
    agent.run_once()
    assert state(agent, job_id) is JobState.PRINTED
    assert printed(out) == [pdf]

    assert agent.dispatcher.hand_over(job_id, OPERATOR) is JobState.PURGED
    agent.run_once()
    assert [event for event, _ in sim.events_of(job_id)] == [
        "verify_ok", "hold", "release", "submit", "print_done", "hand_over", "purge",
    ]  # fmt: skip
    assert list((agent.home / "blobs").iterdir()) == []
    assert sim.heartbeats and sim.heartbeats[-1].spool  # a heartbeat each pass


def test_an_auto_job_is_printed_once(agent: Agent, sim: DistrictSim, out: Path) -> None:
    pdf = make_pdf(1)
    job_id = sim.publish(sim.job(release=ReleaseMode.AUTO, docs=(("KK", pdf),))).manifest.job_id
    for _ in range(3):
        agent.run_once()
    assert state(agent, job_id) is JobState.PRINTED
    assert printed(out) == [pdf]
    assert sim.events_of(job_id)[:2] == [("verify_ok", None), ("auto_release", None)]


def test_a_cancelled_job_is_never_printed(agent: Agent, sim: DistrictSim, out: Path) -> None:
    code = generate_claim_code(secrets.token_bytes)
    job_id = sim.publish(sim.job(release=ReleaseMode.CLAIM, claim_code=code)).manifest.job_id
    agent.run_once()
    assert state(agent, job_id) is JobState.HELD

    sim.cancelled.add(job_id)  # the next signed head names it
    sim.now_s += 60
    agent.run_once()
    assert state(agent, job_id) is JobState.PURGED
    assert sim.events_of(job_id)[-2:] == [("cancel", "cancelled"), ("purge", None)]
    with pytest.raises(ClaimError):  # the code opens nothing now
        agent.releaser.by_claim(code, operator=OPERATOR)
    agent.run_once()
    assert printed(out) == []


def test_a_replayed_job_is_never_printed_twice(agent: Agent, sim: DistrictSim, out: Path) -> None:
    first_pdf, second_pdf = make_pdf(1), make_pdf(3)
    job = sim.publish(sim.job(release=ReleaseMode.AUTO, docs=(("KK", first_pdf),)))
    job_id = job.manifest.job_id
    agent.run_once()
    assert state(agent, job_id) is JobState.PRINTED
    events = sim.events_of(job_id)

    # The next answer carries the first job's signed manifest again (a replay), next to a
    # new job: the replay is a known job id, a plain re-delivery; the new job prints.
    second = sim.publish(sim.job(release=ReleaseMode.AUTO, docs=(("KK", second_pdf),)))
    sim.published.append((second.manifest.seq, job.token))
    sim.now_s += 60
    for _ in range(2):
        agent.run_once()
    assert sim.feed_asks[-1] == second.manifest.seq  # the whole answer was taken
    assert state(agent, second.manifest.job_id) is JobState.PRINTED
    assert state(agent, job_id) is JobState.PRINTED
    assert printed(out) == sorted([first_pdf, second_pdf])  # the replayed job once
    assert sim.events_of(job_id) == events
    assert agent.errors.items() == ()  # a re-delivery is no error


def test_the_link_state_follows_each_pass_down_and_back(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    """What the screen, the doctor and the heartbeat show about the link comes from the
    sync round of each pass, as in ``cedoka run``; a job waits through the outage."""
    pdf = make_pdf(1)
    job_id = sim.publish(sim.job(release=ReleaseMode.AUTO, docs=(("KK", pdf),))).manifest.job_id
    sim.down = LinkKind.REFUSED
    with pytest.raises(LinkDownError):
        agent.run_once()
    assert (agent.link.error, agent.link.last_ok_s) == ("refused", 0)
    assert agent.spool.get_meta("link_error") == b"refused"
    assert state(agent, job_id) is None and printed(out) == []
    assert [reason for _, reason in agent.errors.items()] == ["refused"]

    sim.down, sim.now_s = None, sim.now_s + 60
    agent.run_once()
    assert (agent.link.error, agent.link.last_ok_s) == (None, sim.now_s)
    assert agent.spool.get_meta("link_error") == b""
    assert agent.spool.get_meta("link_ok_s") == str(sim.now_s).encode()
    assert state(agent, job_id) is JobState.PRINTED and printed(out) == [pdf]


def test_a_revoked_device_is_marked_revoked_and_prints_nothing(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    job_id = sim.publish(sim.job(release=ReleaseMode.AUTO)).manifest.job_id
    sim.revoked = True
    with pytest.raises(RejectedError) as caught:
        agent.run_once()
    assert caught.value.reason is Reason.DEVICE_REVOKED
    assert agent.link.revoked and agent.link.error == "device_revoked"
    assert state(agent, job_id) is None and printed(out) == []


def test_a_printed_job_the_district_cancels_is_never_handed_over_by_any_door(
    agent: Agent, sim: DistrictSim, out: Path
) -> None:
    """The dispatcher itself refuses (protocol §13), so ``cedoka release --handed-over``
    cannot hand over what the screen refuses."""
    job_id = sim.publish(sim.job(release=ReleaseMode.AUTO)).manifest.job_id
    agent.run_once()
    assert state(agent, job_id) is JobState.PRINTED
    sim.cancelled.add(job_id)
    sim.now_s += 60
    agent.run_once()
    with pytest.raises(TransitionError, match="job_cancelled"):
        agent.dispatcher.hand_over(job_id, OPERATOR)
    assert state(agent, job_id) is JobState.PRINTED
    assert "hand_over" not in [event for event, _ in sim.events_of(job_id)]
