"""The sync's download one job ahead (issue 18): while one job's documents are verified and
stored, the next job's are downloaded by a helper thread; the spool is written by the sync
thread alone, in one transaction per job (VERIFY_OK + HOLD with the documents marked
stored). The agent's real parts against the district simulator over real HTTP."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.lifecycle import JobState
from tests.agent.simserver import Clock, SimKiosk, SimServer
from tests.sim.district import DistrictSim, fixed_key, make_pdf

pytestmark = pytest.mark.loopback


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[SimKiosk]:
    sim = DistrictSim()
    auth = fixed_key("device-auth")
    with SimServer(sim, device_key=auth.public_key()) as district:
        kiosk = SimKiosk(tmp_path / "kiosk", district, Clock(sim), auth=auth)
        try:
            yield kiosk
        finally:
            kiosk.close()


def _spool_fds(home: Path) -> int:
    """How many file descriptors of this process are open on the spool's database."""
    target = str(home / "spool.db")
    links = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
             if os.path.exists(f"/proc/self/fd/{fd}")]  # fmt: skip
    return links.count(target)


def test_the_download_helper_never_opens_the_spool(kiosk: SimKiosk) -> None:
    """The helper thread of each job must not get its own SQLite connection (one per thread:
    a connection, its cache and a file descriptor left behind for every job)."""
    district, sim = kiosk.district, kiosk.district.sim
    district.issue(sim.job())
    kiosk.syncer.round(1)
    before = _spool_fds(kiosk.home)
    for _ in range(6):
        district.issue(sim.job())
    kiosk.syncer.round(1)
    assert kiosk.spool.counts() == {"held": 7}
    assert _spool_fds(kiosk.home) == before


def test_the_next_job_is_downloaded_ahead_and_each_job_is_one_commit(
    kiosk: SimKiosk, caplog: pytest.LogCaptureFixture
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    jobs = [district.issue(sim.job(docs=(("KK", make_pdf(1)), ("AKTA_LAHIR", make_pdf(1)))))
            for _ in range(4)]  # fmt: skip
    gone = jobs[1].manifest.documents[1].doc_id
    district.blob_errors[gone] = [(404, "not_found")]  # one answer's failure, not the link's
    with caplog.at_level(logging.INFO, logger="cedoka.agent.sync"):
        kiosk.syncer.round(1)
    ids = [job.manifest.job_id for job in jobs]
    assert [kiosk.state(j) for j in ids] == [JobState.HELD, JobState.RECEIVED, JobState.HELD,
                                             JobState.HELD]  # fmt: skip
    fetched = [r for r in caplog.records if r.getMessage().startswith("event=blob_fetched")]
    threads = {r.getMessage().split()[1].removeprefix("job="): r.threadName for r in fetched}
    assert threads[ids[0]] == "MainThread"
    assert "prefetch" in {threads[ids[2]], threads[ids[3]]}  # downloaded while one was checked
    with sqlite3.connect(kiosk.home / "spool.db") as db:
        stored = dict(db.execute("SELECT job_id, min(stored) FROM docs GROUP BY job_id"))
    assert [stored[j] for j in ids] == [1, 0, 1, 1]  # with VERIFY_OK, in its transaction
    # The second document of job 2 is asked again after its backoff; the first is kept.
    asks = len(district.blob_asks)
    kiosk.clock.advance(2)
    kiosk.syncer.round(1)
    assert kiosk.state(ids[1]) is JobState.HELD
    assert district.blob_asks[asks:] == [gone]
