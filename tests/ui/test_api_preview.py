"""The release screen's previews, as the live API serves them (issue 16): opening a held
job's documents is audited whether or not they print; every page can be looked at, at
full size, from memory only; the confirm screen knows how many sheets to expect; a spoil
reprints only the documents staff say were spoiled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kiosk.model import ReleaseMode
from tests.agent.harness import FAKE_NIK, RESIDENT, push
from tests.district.conftest import Server
from tests.ui.conftest import STAFF, Api

DISTRICT_CLI = Path(sys.executable).with_name("cedoka-district")


def _held_job(api: Api, server: Server) -> tuple[str, str]:
    job_id, claim, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert claim is not None
    return job_id, claim


def _district_records(api: Api, server: Server) -> list[dict[str, object]]:
    api.agent.reporter.deliver()
    shown = subprocess.run(
        [str(DISTRICT_CLI), "--home", str(server.home), "audit", api.agent.config.device_id,
         "--json"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    audit = json.loads(shown.stdout)
    assert audit["problems"] == []
    assert FAKE_NIK not in shown.stdout and RESIDENT not in shown.stdout
    records: list[dict[str, object]] = audit["records"]
    return records


def test_a_staff_preview_is_audited_even_when_nothing_prints(api: Api, server: Server) -> None:
    """*Cetak tanpa kode* → reason → PIN shows the pages; *Batal* used to leave no trace."""
    job_id, _ = _held_job(api, server)
    body = {"job_id": job_id, "pin": STAFF[2], "reason": "lost_code"}
    opened = api.call("POST", "/api/staff-claim", json=body).json()
    png = api.call("GET", f"/api/jobs/{job_id}/docs/0/preview",
                   headers={"x-cedoka-ticket": opened["ticket"]})  # fmt: skip
    assert png.content.startswith(b"\x89PNG")
    # Batal: nothing is released or printed
    assert api.kiosk.local_state(job_id) == "held" and api.kiosk.printed() == []
    history = api.call("GET", "/api/history").json()["entries"]
    [seen] = [e for e in history if e["action"] == "preview"]
    assert (seen["job_id"], seen["operator"], seen["reason"], seen["outcome"]) == (
        job_id, STAFF[0], "lost_code", "ok")  # fmt: skip
    assert seen["doc_types"] == ["KK", "AKTA_LAHIR"]
    [record] = [r for r in _district_records(api, server) if r["action"] == "preview"]
    assert (record["job_id"], record["operator"], record["reason"]) == (
        job_id,
        STAFF[0],
        "lost_code",
    )


def test_a_wrong_pin_opens_nothing_and_records_no_preview(api: Api, server: Server) -> None:
    job_id, _ = _held_job(api, server)
    body = {"job_id": job_id, "pin": "1111", "reason": "no_phone"}
    assert api.call("POST", "/api/staff-claim", json=body).status_code == 403
    history = api.call("GET", "/api/history").json()["entries"]
    assert [e for e in history if e["action"] == "preview"] == []


def test_a_matched_code_records_the_opening_too(api: Api, server: Server) -> None:
    """A code that matches shows the pages before anything prints: the record says who
    opened which job, with ``claim_code`` as the reason (the resident was there)."""
    job_id, claim = _held_job(api, server)
    api.call("POST", "/api/claim", json={"code": claim})
    history = api.call("GET", "/api/history").json()["entries"]
    [seen] = [e for e in history if e["action"] == "preview"]
    assert (seen["job_id"], seen["operator"], seen["reason"]) == (job_id, STAFF[0], "claim_code")
