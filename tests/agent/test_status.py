"""``cedoka status``: what district IT reads on a kiosk — times on the office's clock (never
epoch seconds) and the trust state its help promises."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.model import ReleaseMode
from tests.agent.harness import enrol, push, wait_for
from tests.district.conftest import Server

EPOCH = re.compile(r"\b1[6-9]\d{8}\b")  # seconds since 1970, 2020 … 2033
OFFICE_TIME = r"20\d\d-\d\d-\d\d \d\d:\d\d WITA"  # office 74.08.01.2002: Sulawesi, WITA


def test_status_shows_office_times_and_the_trust_state(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, _, _ = push(server, ReleaseMode.CLAIM)
    kiosk.start()
    try:
        wait_for("job fetched", lambda: kiosk.local_state(job_id) == "held")
        # the link state is recorded when the sync round ends, after the job is stored (and
        # after the round's sealing-key step): stopping before that would leave "never"
        wait_for("the round's link state", lambda: "link: ok" in kiosk.cli("status").stdout)
    finally:
        kiosk.stop_all()
    done = kiosk.cli("status")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert EPOCH.search(out) is None, out
    assert re.search(rf"^link: ok, last contact {OFFICE_TIME} \(\d+ (s|min)( \d+ s)? ago\)$",
                     out, re.MULTILINE), out  # fmt: skip
    trust = next(line for line in out.splitlines() if line.startswith("trust: "))
    assert "district 74.08, signing keys version 1" in trust
    feed = rf"feed head #1 signed {OFFICE_TIME} \(.* ago\), confirms until {OFFICE_TIME}"
    assert re.search(rf"{feed}; trusted clock not before {OFFICE_TIME}$", trust), trust
