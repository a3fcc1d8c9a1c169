"""The kiosk's local API against a live agent: who may call it, and the release flow by
claim code (wrong code, lockout, previews, pre-flight block and retry, hand-over, spoil and
reprint)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from district.keyring import DATABASE
from kiosk.claim import generate_claim_code
from kiosk.model import ReleaseMode
from tests.agent.harness import FAKE_NIK, RESIDENT, push
from tests.district.conftest import Server
from tests.ui.conftest import STAFF, SUPERVISOR, Api
from ui.guard import SECRET_HEADER

DISTRICT_CLI = Path(sys.executable).with_name("cedoka-district")
WRONG = generate_claim_code(lambda n: bytes(range(7, 7 + n)))  # well-formed, matches nothing


def _claim_job(api: Api, server: Server) -> tuple[str, str, list[bytes]]:
    job_id, claim, pdfs = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert claim is not None
    return job_id, claim, pdfs


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "no_secret"),
        ({SECRET_HEADER: "x" * 43}, 401, "no_secret"),
        ({"Host": "evil.example:80"}, 421, "bad_host"),
        ({"Origin": "http://evil.example"}, 403, "bad_origin"),
        ({"Origin": "null"}, 403, "bad_origin"),
    ],
)
def test_only_this_window_may_call(api: Api, headers: dict[str, str], status: int,
                                   code: str) -> None:  # fmt: skip
    given = {SECRET_HEADER: api.guard.secret, **headers}
    if SECRET_HEADER in headers or not headers:
        given = dict(headers)
    answer = api.session.get(api.url + "/api/state", headers=given, timeout=10)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert "access-control-allow-origin" not in {k.lower() for k in answer.headers}


def test_state_and_queue(api: Api, server: Server) -> None:
    job_id, _, _ = _claim_job(api, server)
    state = api.call("GET", "/api/state").json()
    assert state["printers"][0]["role"] == "a4" and state["link"]["revoked"] is False
    [job] = api.call("GET", "/api/jobs").json()["jobs"]
    assert job["job_id"] == job_id and job["state"] == "held"
    assert job["resident_masked"] == "S*** N********"
    assert [d["type"] for d in job["documents"]] == ["KK", "AKTA_LAHIR"]
    assert "SITI" not in api.call("GET", "/api/jobs").text


def test_release_by_code_with_previews_then_hand_over(api: Api, server: Server) -> None:
    job_id, claim, pdfs = _claim_job(api, server)
    wrong = api.call("POST", "/api/claim", json={"code": WRONG})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "claim_wrong"
    assert wrong.json()["error"]["message_id"]
    found = api.call("POST", "/api/claim", json={"code": claim}).json()
    assert [j["job_id"] for j in found["jobs"]] == [job_id]
    hidden = api.call("GET", f"/api/jobs/{job_id}/docs/0/preview")
    assert hidden.status_code == 404  # no ticket: no preview of a held job
    for idx in (0, 1):
        png = api.call("GET", f"/api/jobs/{job_id}/docs/{idx}/preview",
                       headers={"x-cedoka-ticket": found["ticket"]})  # fmt: skip
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    done = api.call("POST", "/api/release", json={"ticket": found["ticket"]})
    assert done.json() == {"jobs": [{"job_id": job_id, "state": "printed"}]}
    assert sorted(p.read_bytes() for p in api.kiosk.printed()) == sorted(pdfs)
    again = api.call("POST", "/api/release", json={"ticket": found["ticket"]})
    assert again.status_code == 410  # a ticket releases once
    over = api.call("POST", f"/api/jobs/{job_id}/handover", json={})
    assert over.json() == {"job_id": job_id, "state": "purged", "receipt": "printed"}
    [receipt] = api.receipts.glob("receipt-*.txt")
    text = receipt.read_text()
    assert "Kartu Keluarga" in text or "KK" in text
    assert "Siti Aminah" in text and "SITI NURHALIZA" not in text.upper()


def test_repeated_wrong_codes_lock_release(api: Api, server: Server) -> None:
    _, claim, _ = _claim_job(api, server)
    for _ in range(api.agent.config.lockout.max_failures):
        assert api.call("POST", "/api/claim", json={"code": WRONG}).status_code == 403
    locked = api.call("POST", "/api/claim", json={"code": claim})
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "claim_locked"
    assert locked.json()["error"]["retry_after_s"] > 0


def test_out_of_paper_blocks_before_printing_then_retry(api: Api, server: Server) -> None:
    job_id, claim, _ = _claim_job(api, server)
    ticket = api.call("POST", "/api/claim", json={"code": claim}).json()["ticket"]
    (api.kiosk.out / "MEDIA_EMPTY").touch()
    blocked = api.call("POST", "/api/release", json={"ticket": ticket})
    assert blocked.status_code == 409
    error = blocked.json()["error"]
    assert error["code"] == "media_empty"
    assert error["message_id"] == "Kertas habis — isi kertas A4 lalu tekan Coba lagi."
    assert api.kiosk.local_state(job_id) == "held"  # nothing changed
    (api.kiosk.out / "MEDIA_EMPTY").unlink()
    done = api.call("POST", "/api/release", json={"ticket": ticket})
    assert done.json()["jobs"][0]["state"] == "printed"


def test_spoiled_sheets_are_reprinted(api: Api, server: Server) -> None:
    job_id, claim, _ = _claim_job(api, server)
    ticket = api.call("POST", "/api/claim", json={"code": claim}).json()["ticket"]
    api.call("POST", "/api/release", json={"ticket": ticket})
    assert len(api.kiosk.printed()) == 2
    again = api.call("POST", f"/api/jobs/{job_id}/spoil",
                     json={"reason": "jammed"})  # fmt: skip
    assert again.json() == {"job_id": job_id, "state": "printed"}
    assert len(api.kiosk.printed()) == 4  # the bundle once more, under new titles
    [job] = api.call("GET", "/api/jobs").json()["jobs"]
    assert job["reprints"] == 1 and job["state"] == "printed"


@pytest.mark.parametrize(
    "body",
    [{"code": 123}, {"code": ""}, {"code": "1234", "extra": 1}, {}],
)
def test_malformed_bodies_are_refused(api: Api, body: dict[str, object]) -> None:
    answer = api.call("POST", "/api/claim", json=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed"


def test_cedoka_run_serves_the_api_to_its_window_only(server: Server, tmp_path: Path) -> None:
    import requests

    from tests.agent.harness import enrol, wait_for

    kiosk = enrol(server, tmp_path)
    agent = kiosk.start()
    url_file = kiosk.home / "kiosk-url"
    try:
        wait_for("the kiosk URL", url_file.exists)
        assert url_file.stat().st_mode & 0o777 == 0o600
        url = url_file.read_text()
        base, _, fragment = url.partition("/#k=")
        assert base.startswith("http://127.0.0.1:") and len(fragment) >= 40
        session = requests.Session()
        session.trust_env = False
        ok = session.get(base + "/api/state", headers={SECRET_HEADER: fragment}, timeout=10)
        assert ok.status_code == 200 and ok.json()["printers"][0]["backend"] == "virtual"
        assert session.get(base + "/api/state", timeout=10).status_code == 401
    finally:
        assert kiosk.stop(agent) == 0
    assert not url_file.exists()


def test_sign_in_needs_the_right_pin_and_locks_after_wrong_ones(api: Api) -> None:
    api.call("POST", "/api/logout", json={})
    assert api.call("GET", "/api/jobs").json()["error"]["code"] == "session_expired"
    api.token = None
    assert api.call("GET", "/api/jobs").json()["error"]["code"] == "session_required"
    names = [o["name"] for o in api.call("GET", "/api/operators").json()["operators"]]
    assert names == ["Budi Santoso", "Siti Aminah"]
    unknown = api.login("nobody", "2580")
    assert unknown.status_code == 404
    for _ in range(4):
        wrong = api.login(STAFF[0], "9999")
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "pin_wrong"
    locked = api.login(STAFF[0], "9999")
    assert locked.status_code == 423 and locked.json()["error"]["retry_after_s"] == 300
    assert api.login(STAFF[0], STAFF[2]).status_code == 423  # even the right PIN, for now
    assert api.login(SUPERVISOR[0], SUPERVISOR[2]).status_code == 200  # others are not locked


def test_staff_release_without_a_code_needs_the_pin_and_a_reason(api: Api, server: Server) -> None:
    job_id, _, pdfs = _claim_job(api, server)
    body = {"job_id": job_id, "pin": "1111", "reason": "no_phone"}
    assert api.call("POST", "/api/staff-claim", json=body).json()["error"]["code"] == "pin_wrong"
    bad = api.call("POST", "/api/staff-claim", json={**body, "reason": "because"})
    assert bad.status_code == 400
    found = api.call("POST", "/api/staff-claim", json={**body, "pin": STAFF[2]}).json()
    png = api.call("GET", f"/api/jobs/{job_id}/docs/0/preview",
                   headers={"x-cedoka-ticket": found["ticket"]})  # fmt: skip
    assert png.content.startswith(b"\x89PNG")
    done = api.call("POST", "/api/release", json={"ticket": found["ticket"]}).json()
    assert done == {"jobs": [{"job_id": job_id, "state": "printed"}]}
    assert sorted(p.read_bytes() for p in api.kiosk.printed()) == sorted(pdfs)
    history = api.call("GET", "/api/history").json()["entries"]
    release = next(e for e in history if e["action"] == "release_staff" and e["outcome"] == "ok")
    assert release["reason"] == "no_phone" and release["operator_name"] == "Siti Aminah"
    assert release["doc_types"] == ["KK", "AKTA_LAHIR"] and release["job_id"] == job_id
    refused = [e for e in history if e["action"] == "release_staff" and e["outcome"] == "refused"]
    assert refused[0]["reason"] == "pin_wrong"


def test_the_audit_trail_is_chained_and_reaches_the_district(api: Api, server: Server) -> None:
    job_id, claim, _ = _claim_job(api, server)
    api.call("POST", "/api/claim", json={"code": WRONG})
    ticket = api.call("POST", "/api/claim", json={"code": claim}).json()["ticket"]
    api.call("POST", "/api/release", json={"ticket": ticket})
    api.call("POST", f"/api/jobs/{job_id}/handover", json={})
    actions = [e["action"] for e in reversed(api.call("GET", "/api/history").json()["entries"])]
    assert actions == [
        "login",
        "claim_wrong",
        "preview",
        "release_code",
        "print",
        "handover",
        "receipt",
    ]
    api.agent.reporter.deliver()
    api.agent.reporter.heartbeat()
    shown = subprocess.run(
        [str(DISTRICT_CLI), "--home", str(server.home), "audit", api.agent.config.device_id,
         "--json"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    audit = json.loads(shown.stdout)
    assert audit["problems"] == []
    assert [r["action"] for r in audit["records"]] == actions
    assert FAKE_NIK not in shown.stdout and RESIDENT not in shown.stdout
    # a record altered on the district's disk is found
    with sqlite3.connect(server.home / DATABASE) as conn:
        conn.execute("UPDATE audit SET record = CAST(replace(CAST(record AS TEXT), "
                     "'\"claim_wrong\"', '\"claim_locked\"') AS BLOB) WHERE seq = 2")  # fmt: skip
    broken = subprocess.run(
        [str(DISTRICT_CLI), "--home", str(server.home), "audit", api.agent.config.device_id],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert broken.returncode == 1 and "record 2" in broken.stderr


def test_settings_need_a_supervisor(api: Api) -> None:
    refused = api.call("POST", "/api/settings/unlock", json={"pin": STAFF[2]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_supervisor"
    assert api.call("GET", "/api/settings").json()["error"]["code"] == "settings_locked"
    api.login(SUPERVISOR[0], SUPERVISOR[2])
    ticket = api.call("POST", "/api/settings/unlock", json={"pin": SUPERVISOR[2]}).json()
    headers = {"x-cedoka-settings": ticket["settings_ticket"]}
    current = api.call("GET", "/api/settings", headers=headers).json()
    assert current["language"] == "id" and current["printers"]["a4"].startswith("virtual:")
    changed = api.call("POST", "/api/settings", headers=headers, json={"language": "en"})
    assert changed.json()["language"] == "en"
    assert api.call("GET", "/api/state").json()["language"] == "en"
    assert 'language = "en"' in (api.kiosk.home / "agent.toml").read_text()
    bad = api.call("POST", "/api/settings", headers=headers,
                   json={"printers": {"a4": "ipp://elsewhere.example/x"}})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "printers.a4"
    page = api.call("POST", "/api/settings/test-page", headers=headers, json={"role": "a4"})
    assert page.json() == {"role": "a4", "state": "submitted"}
    [printed] = api.kiosk.printed()
    assert printed.name.startswith("testpage.") and b"/Helvetica" in printed.read_bytes()
    slip = api.call("POST", "/api/settings/test-page", headers=headers, json={"role": "receipt"})
    assert slip.status_code == 200 and list(api.receipts.glob("receipt-TEST-*.txt"))
    removed = api.call("POST", "/api/settings", headers=headers, json={"printers": {"receipt": ""}})
    assert removed.json()["printers"]["receipt"] is None and api.agent.receipt is None


def test_the_served_api_answers_kept_alive_requests_without_nagle(api: Api) -> None:
    """asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets; a listening socket made with
    socket()'s protocol 0 left Nagle on and every kept-alive answer waited ~40 ms."""
    import socket

    from ui.server import start_api

    running = start_api(api.agent)
    try:
        assert running._sock.proto == socket.IPPROTO_TCP
    finally:
        running.stop()
