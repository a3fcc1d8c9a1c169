"""Crash tests: the real ``cedoka run`` killed with SIGKILL at each point of a job's life,
then started again. No job may be lost, none printed twice, every event delivered once.

The points (``agent/failpoints.py``) sit between the durable steps: after the job is
tombstoned, between the documents of a bundle, after they are stored, after verification,
after ``submit`` but before the print intent, between intent and submission, between
submission and its record, between "the printer is done" and its record, after
``print_done`` (events not yet delivered), between sending events and recording the
delivery, and in the middle of a purge.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from agent.failpoints import POINTS
from kiosk.model import ReleaseMode
from tests.agent.harness import (
    assert_no_personal_data,
    district_events,
    district_state,
    enrol,
    push,
    wait_for,
)
from tests.district.conftest import Server

PRINT_FLOW = [
    "sync.after_accept", "sync.between_docs", "sync.after_store", "sync.after_verify",
    "print.after_submit_state", "print.after_intent", "print.after_submit", "print.after_done",
    "print.after_printed", "report.before_mark",
]  # fmt: skip


def test_every_crash_point_is_tested() -> None:
    # the root-pinning points are tested in test_root_rotation.py
    root = {"sync.before_root_pinned", "sync.after_root_pinned"}
    seal = {"seal.after_store", "seal.after_send"}  # tests/agent/test_seal_rotation.py
    assert set(PRINT_FLOW) | {"purge.mid"} | root | seal == POINTS


@pytest.mark.parametrize("point", PRINT_FLOW)
def test_crash_then_restart_prints_once(server: Server, tmp_path: Path, point: str) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, _, pdfs = push(server, ReleaseMode.AUTO)
    try:
        crashed = kiosk.start(crash_at=point)
        assert crashed.wait(timeout=60) == -signal.SIGKILL, kiosk.log_text()
        again = kiosk.start()
        wait_for("printed at the district", lambda: district_state(server, job_id) == "printed")
        wait_for("outbox delivered", lambda: kiosk.outbox_pending() == 0)
        assert kiosk.stop(again) == 0
    finally:
        kiosk.stop_all()
    assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(pdfs)  # each once
    assert_no_personal_data(kiosk.home, kiosk.log_text())
    events = district_events(server, job_id)
    assert events == ["verify_ok", "auto_release", "submit", "print_done"], events
    with kiosk.spool() as conn:
        outbox = Counter(r[0] for r in conn.execute("SELECT event_id FROM outbox"))
    assert set(outbox.values()) == {1}


def test_crash_in_the_middle_of_a_purge(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, _, _ = push(server, ReleaseMode.CLAIM)
    try:
        first = kiosk.start()
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        assert kiosk.stop(first) == 0
        server.admin.cancel(job_id, reason="other")
        crashed = kiosk.start(crash_at="purge.mid")
        assert crashed.wait(timeout=60) == -signal.SIGKILL
        assert kiosk.local_state(job_id) == "cancelled"  # documents gone, purge not recorded
        again = kiosk.start()
        wait_for("purged", lambda: kiosk.local_state(job_id) == "purged")
        wait_for("reported", lambda: district_state(server, job_id) == "purged")
        assert kiosk.stop(again) == 0
    finally:
        kiosk.stop_all()
    assert list((kiosk.home / "blobs").iterdir()) == []
    assert district_events(server, job_id) == ["verify_ok", "hold", "cancel", "purge"]
    assert kiosk.printed() == []
