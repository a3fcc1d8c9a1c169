"""The kiosk's local API under attack (issue 14): wrong PINs and claim codes sent in parallel
cannot pass the lockouts, a removed operator's open session ends at once, and the settings
screen cannot send documents or receipts to a folder outside a demo/test home — all through
the real API served by uvicorn over a live agent (:mod:`tests.ui.conftest`)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from agent.operators import PIN_POLICY
from agent.settings import load_config, save_config
from district.keyring import DATABASE
from kiosk.audit import AuditRecord, record_from_bytes
from kiosk.model import ReleaseMode
from tests.agent.harness import push
from tests.district.conftest import Server
from tests.ui.conftest import STAFF, SUPERVISOR, Api
from tests.ui.test_api import WRONG
from ui.guard import SECRET_HEADER

DISTRICT_CLI = Path(sys.executable).with_name("cedoka-district")
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


# --- item 16: settings cannot send documents to an arbitrary folder ------------------------


def _settings_headers(api: Api) -> dict[str, str]:
    api.login(SUPERVISOR[0], SUPERVISOR[2])
    ticket = api.call("POST", "/api/settings/unlock", json={"pin": SUPERVISOR[2]}).json()
    return {"x-cedoka-settings": ticket["settings_ticket"]}


def _district_audit(api: Api, server: Server) -> list[AuditRecord]:
    """The kiosk's records as the district holds them, after its own chain check passed
    (and as district IT's ``cedoka-district audit --json`` shows them)."""
    api.agent.reporter.deliver()
    checked = subprocess.run(
        [str(DISTRICT_CLI), "--home", str(server.home), "audit", api.agent.config.device_id,
         "--json"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    shown = json.loads(checked.stdout)
    assert shown["problems"] == []
    with sqlite3.connect(server.home / DATABASE) as conn:
        rows = conn.execute("SELECT record, hash FROM audit ORDER BY seq").fetchall()
    device = api.agent.config.device_id
    records = [record_from_bytes(bytes(r), str(h), device_id=device) for r, h in rows]
    assert [(r["action"], r["printer"], r["old"], r["new"]) for r in shown["records"]] == [
        (r.entry.action, r.entry.printer, r.entry.old, r.entry.new) for r in records
    ]
    return records


def test_a_production_kiosk_refuses_a_virtual_printer_from_the_settings(
    api: Api, server: Server, tmp_path: Path
) -> None:
    """Without ``allow_virtual_printers`` (every production install), the settings screen
    cannot point the A4 or the receipt role at a folder; the refusal is audited."""
    headers = _settings_headers(api)
    toml_before = (api.kiosk.home / "agent.toml").read_bytes()
    assert api.call("GET", "/api/settings", headers=headers).json()["backends"] == {
        "a4": ["cups"], "receipt": ["escpos"]}  # fmt: skip
    folder = tmp_path / "usb-stick"
    for role in ("a4", "receipt"):
        refused = api.call("POST", "/api/settings", headers=headers,
                           json={"printers": {role: f"virtual:{folder}"}})  # fmt: skip
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "printer_not_allowed" and error["field"] == f"printers.{role}"
        assert error["message_id"] and error["message_en"]
    assert (api.kiosk.home / "agent.toml").read_bytes() == toml_before
    assert str(folder) not in {t.uri for t in api.agent.config.printers}
    push(server, ReleaseMode.AUTO)
    api.sync()
    api.agent.dispatcher.print_released()
    assert not folder.exists() and len(api.kiosk.printed()) == 2  # still the test's printer
    records = [r.entry for r in _district_audit(api, server) if r.entry.action == "settings"]
    assert [(e.outcome, e.printer, e.reason, e.new) for e in records] == [
        ("refused", role, "printer_not_allowed", f"virtual:{folder}") for role in ("a4", "receipt")
    ]


def test_a_printer_change_is_audited_with_the_old_and_new_printer(
    api: Api, server: Server, tmp_path: Path
) -> None:
    """Every printer role changed is one ``settings`` record naming the role, the printer
    before and after (printer URIs: no personal data); the district's chain check passes."""
    headers = _settings_headers(api)
    old_a4 = next(t.uri for t in api.agent.config.printers if t.role.value == "a4")
    old_receipt = f"virtual:{api.receipts}"
    receipt = "escpos:tcp://127.0.0.1:9100"
    changed = api.call("POST", "/api/settings", headers=headers,
                       json={"printers": {"receipt": receipt}})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["printers"]["receipt"] == receipt
    removed = api.call("POST", "/api/settings", headers=headers, json={"printers": {"receipt": ""}})
    assert removed.status_code == 200
    # A demo or test home may use folders: its agent.toml says so (the screen cannot).
    home = api.kiosk.home
    save_config(home, replace(load_config(home), allow_virtual_printers=True))
    api.agent.config = load_config(home)
    other = tmp_path / "other"
    other.mkdir()
    moved = api.call("POST", "/api/settings", headers=headers,
                     json={"printers": {"a4": f"virtual:{other}"}, "language": "en"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert "allow_virtual_printers = true" in (home / "agent.toml").read_text()
    [shown, *_] = [e for e in api.call("GET", "/api/history").json()["entries"]
                   if e["action"] == "settings"]  # fmt: skip
    assert (shown["printer"], shown["old"], shown["new"]) == ("a4", old_a4, f"virtual:{other}")
    records = [r.entry for r in _district_audit(api, server) if r.entry.action == "settings"]
    assert [(e.outcome, e.printer, e.reason, e.old, e.new) for e in records] == [
        ("ok", "receipt", "printers", old_receipt, receipt),
        ("ok", "receipt", "printers", receipt, None),
        ("ok", None, "language", None, None),
        ("ok", "a4", "printers", old_a4, f"virtual:{other}"),
    ]
