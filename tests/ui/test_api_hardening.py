"""The kiosk's local API under attack (issue 14): wrong PINs and claim codes sent in parallel
cannot pass the lockouts, a removed operator's open session ends at once, and the settings
screen cannot send documents or receipts to a folder outside a demo/test home — all through
the real API served by uvicorn over a live agent (:mod:`tests.ui.conftest`)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from agent.operators import PIN_POLICY
from kiosk.model import ReleaseMode
from tests.agent.harness import push
from tests.district.conftest import Server
from tests.ui.conftest import STAFF, Api
from tests.ui.test_api import WRONG
from ui.guard import SECRET_HEADER

PARALLEL = 16  # more than any lockout's max_failures, all sent at the same moment


def _parallel(api: Api, path: str, body: dict[str, Any], *, session: str | None = None,
              n: int = PARALLEL) -> list[requests.Response]:  # fmt: skip
    """``n`` POSTs of ``body``, each on its own connection, released together by a barrier."""
    barrier = threading.Barrier(n)
    headers = {SECRET_HEADER: api.guard.secret}
    if session is not None:
        headers["x-cedoka-session"] = session

    def one(_: int) -> requests.Response:
        with requests.Session() as http:
            http.trust_env = False
            barrier.wait(timeout=30)
            return http.post(api.url + path, json=body, headers=headers, timeout=120)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _codes(answers: list[requests.Response]) -> Counter[str]:
    return Counter(a.json()["error"]["code"] for a in answers)


# --- item 14: lockouts are atomic ----------------------------------------------------------


def test_parallel_wrong_pins_cannot_pass_the_operator_lockout(api: Api) -> None:
    """Each attempt is counted before the slow PIN hash, in one transaction: of 16 wrong PINs
    sent at once, at most ``max_failures`` are checked; then even the right PIN is refused."""
    answers = _parallel(api, "/api/login", {"operator": STAFF[0], "pin": "9999"})
    codes = _codes(answers)
    assert set(codes) <= {"pin_wrong", "operator_locked"}, codes
    # pin_wrong: checked and not locked; the attempt that reached max_failures answers
    # operator_locked after its check; every other one was refused before hashing.
    assert codes["pin_wrong"] <= PIN_POLICY.max_failures - 1, codes
    right = api.login(STAFF[0], STAFF[2])
    assert right.status_code == 423, right.text
    assert right.json()["error"]["code"] == "operator_locked"
    assert right.json()["error"]["retry_after_s"] > 0


def test_parallel_wrong_claim_codes_cannot_pass_the_claim_lockout(api: Api, server: Server) -> None:
    """The same for claim codes (the Argon2id match): at most ``max_failures`` of 16 parallel
    wrong codes are tried; then the right code is refused — through the API and through
    ``cedoka release``, which share the lockout."""
    _, claim, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert claim is not None
    answers = _parallel(api, "/api/claim", {"code": WRONG}, session=api.token)
    codes = _codes(answers)
    assert set(codes) <= {"claim_wrong", "claim_locked"}, codes
    # claim_wrong: a code that was tried (the one that reached max_failures included)
    assert codes["claim_wrong"] <= api.agent.config.lockout.max_failures, codes
    right = api.call("POST", "/api/claim", json={"code": claim})
    assert right.status_code == 423 and right.json()["error"]["code"] == "claim_locked"
    cli = api.kiosk.cli("release", "--claim", claim, "--operator", STAFF[0], "--json")
    assert cli.returncode == 1 and json.loads(cli.stdout)["error"]["code"] == "claim_locked"


# --- item 15: removing an operator ends their sessions -------------------------------------


def test_removing_an_operator_ends_their_open_session_at_once(api: Api) -> None:
    """``cedoka operator remove`` is another process than the API's: every session check asks
    the spool whether the operator still exists, so the next call is refused."""
    assert api.call("GET", "/api/jobs").status_code == 200
    removed = api.kiosk.cli("operator", "remove", STAFF[0])
    assert removed.returncode == 0, removed.stderr
    refused = api.call("POST", "/api/claim", json={"code": WRONG})
    assert refused.status_code == 401, refused.text
    error = refused.json()["error"]
    assert error["code"] == "operator_removed"
    assert error["message_id"] == "Petugas ini sudah dihapus — sesi berakhir."
    assert error["message_en"] == "This operator was removed — the session ended."
    for method, path in (("GET", "/api/jobs"), ("POST", "/api/logout")):  # the session is gone
        assert api.call(method, path, json={}).status_code == 401
    assert api.call("GET", "/api/state").json()["operator"] is None
    assert api.login(STAFF[0], STAFF[2]).json()["error"]["code"] == "not_found"
