"""A claim code whose job is no longer held — released, printed, handed over, cancelled — is
answered for what it is (``claim_used``, ``claim_cancelled``), not as a wrong code, and is not
counted towards the lockout; nor does it wipe the wrong codes counted before it (protocol
§10.3). The lock running from earlier shows as the code screen opens (``GET /api/claim``)."""

from __future__ import annotations

import json
import sqlite3

from kiosk.claim import generate_claim_code
from kiosk.model import ReleaseMode
from tests.agent.harness import push
from tests.district.conftest import Server
from tests.ui.conftest import Api

WRONG = generate_claim_code(lambda n: bytes(range(7, 7 + n)))  # well-formed, matches nothing


def claim(api: Api, code: str) -> tuple[int, str, dict[str, object]]:
    answer = api.call("POST", "/api/claim", json={"code": code})
    body = answer.json()
    return answer.status_code, body.get("error", {}).get("code", ""), body


def handed_over(api: Api, server: Server) -> tuple[str, str]:
    job_id, code, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert code is not None
    status, _, body = claim(api, code)
    assert status == 200
    api.call("POST", "/api/release", json={"ticket": body["ticket"]})
    over = api.call("POST", f"/api/jobs/{job_id}/handover", json={})
    assert over.json()["state"] == "purged"
    return job_id, code


def test_a_used_code_says_so_and_is_no_guess(api: Api, server: Server) -> None:
    _, code = handed_over(api, server)
    status, reason, body = claim(api, code)
    assert (status, reason) == (409, "claim_used")
    error = body["error"]
    assert isinstance(error, dict) and error["message_id"].startswith("Kode sudah dipakai")
    assert "used already" in error["message_en"]
    history = api.call("GET", "/api/history").json()["entries"]
    assert {"action": "claim_wrong", "reason": "claim_used", "outcome": "refused"} in [
        {k: e[k] for k in ("action", "reason", "outcome")} for e in history
    ]

    max_failures = api.agent.config.lockout.max_failures
    for _ in range(max_failures - 1):
        assert claim(api, WRONG)[:2] == (403, "claim_wrong")
    for _ in range(3 * max_failures):  # the spent code, again and again: never counted
        assert claim(api, code)[:2] == (409, "claim_used")
    assert api.call("GET", "/api/claim").json() == {"retry_after_s": 0}
    # ... nor does it forgive the wrong codes before it: the next wrong one sets the lock
    assert claim(api, WRONG)[:2] == (403, "claim_wrong")
    locked = api.call("GET", "/api/claim").json()["retry_after_s"]
    assert 0 < locked <= api.agent.config.lockout.lock_s
    assert claim(api, code)[:2] == (423, "claim_locked")


def test_a_code_printed_but_not_handed_over_is_used(api: Api, server: Server) -> None:
    job_id, code, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert code is not None
    status, _, body = claim(api, code)
    assert status == 200
    api.call("POST", "/api/release", json={"ticket": body["ticket"]})
    assert api.call("GET", f"/api/jobs/{job_id}").json()["state"] == "printed"
    assert claim(api, code)[:2] == (409, "claim_used")


def test_a_cancelled_jobs_code_says_cancelled(api: Api, server: Server) -> None:
    job_id, code, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert code is not None
    server.admin.cancel(job_id, reason="resident_request")
    api.sync()
    assert api.agent.spool.job(job_id).status.state.value in {"cancelled", "purged"}  # type: ignore[union-attr]
    status, reason, body = claim(api, code)
    assert (status, reason) == (409, "claim_cancelled")
    assert "dibatalkan" in str(body)


def test_the_claim_lock_is_told_before_a_code_is_typed(api: Api, server: Server) -> None:
    assert api.call("GET", "/api/claim").json() == {"retry_after_s": 0}
    for _ in range(api.agent.config.lockout.max_failures):
        claim(api, WRONG)
    assert api.call("GET", "/api/claim").json()["retry_after_s"] > 0
    api.token = None
    assert api.call("GET", "/api/claim").status_code == 401  # staff only


def test_an_expired_jobs_code_says_expired(api: Api, server: Server) -> None:
    job_id, code = handed_over(api, server)
    with sqlite3.connect(api.agent.spool.path) as conn:  # as if it had expired unprinted
        conn.execute("UPDATE spent_claims SET outcome = 'expired' WHERE job_id = ?", (job_id,))
    status, reason, body = claim(api, code)
    assert (status, reason) == (409, "claim_expired")
    assert "Masa berlaku kode ini sudah habis" in str(body)


def test_cedoka_release_says_a_used_code_was_used(api: Api, server: Server) -> None:
    _, code = handed_over(api, server)
    done = api.kiosk.cli("release", "--claim", code, "--operator", "siti", "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "claim_used"
    plain = api.kiosk.cli("release", "--claim", code, "--operator", "siti")
    assert plain.returncode == 1
    assert "Kode sudah dipakai" in plain.stdout + plain.stderr
    assert "Traceback" not in plain.stderr
