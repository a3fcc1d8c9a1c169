"""Village staff managed from the district (ADR 0034, protocol 6.6), end to end: district IT
adds, resets and disables an office's operators (the command line, both stores); a real
enrolled agent receives the signed, sealed list through a proxy the test can switch off;
the clerk signs in through the real kiosk API over HTTP. A forged or older list is refused;
a supervisor's local operator is reported and listed at the district."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.app import Agent
from agent.client import LinkDownError
from district import cli
from district.operators import DistrictOperators, operator_list_token
from district.reach import parse_public_url
from kiosk.b64 import b64u_decode
from kiosk.feed import FeedResponse, feed_body
from kiosk.issue import Signer, sign_head
from kiosk.keys import parse_x25519_jwk
from kiosk.model import FeedHead
from kiosk.operator_list import OperatorList, issue_operator_list
from tests.agent.harness import CEDOKA, Kiosk, enrol
from tests.agent.proxy import Proxy
from tests.district.conftest import Server, enrolled
from tests.ui.conftest import SUPERVISOR, Api, serving_api

STORES = ("sqlite", "postgresql")
OFFICE = "74.08.01.2002"


@dataclasses.dataclass
class Office:
    api: Api
    proxy: Proxy
    staff: DistrictOperators


@pytest.fixture
def office(server: Server, tmp_path: Path) -> Iterator[Office]:
    """A kiosk enrolled through a switchable proxy, its agent and kiosk API served on
    127.0.0.1 (nobody signed in); one local supervisor."""
    proxy = Proxy(int(server.base_url.rsplit(":", 1)[1]))
    proxy.up()
    assert server.app is not None
    server.app.state.public_url = parse_public_url(proxy.url)  # the proofs name the proxy
    kiosk: Kiosk = enrol(server, tmp_path, url=proxy.url)
    agent = Agent(kiosk.home)
    agent.operators.add(SUPERVISOR[0], name=SUPERVISOR[1], role="supervisor", pin=SUPERVISOR[2])
    try:
        with serving_api(agent) as (base_url, guard), requests.Session() as session:
            session.trust_env = False
            api = Api(base_url, guard, agent, kiosk, session, tmp_path)
            yield Office(api, proxy, DistrictOperators(server.keys))
    finally:
        agent.close()
        proxy.down()


def _code(answer: requests.Response) -> str:
    return str(answer.json()["error"]["code"])


def _on_screen(api: Api) -> set[str]:
    return {o["id"] for o in api.call("GET", "/api/operators").json()["operators"]}


def test_added_reset_and_disabled_centrally_offline_keeps_the_last_list(office: Office) -> None:
    api, staff = office.api, office.staff
    given = staff.add(OFFICE, "ani", name="Ani  Wulandari", role="staff")
    api.sync()
    assert "ani" in _on_screen(api)
    assert api.agent.spool.operators_version() == given.version
    api.agent.reporter.heartbeat()  # the district sees which version the kiosk holds
    assert [k["operators_version"] for k in staff.kiosks(OFFICE)] == [given.version]
    # The one-time PIN is right, but must be changed before anything else.
    first = api.login("ani", given.pin)
    assert first.status_code == 409 and _code(first) == "pin_change_required", first.text
    changed = api.call("POST", "/api/pin", json={"operator": "ani", "pin": given.pin,
                                                 "new_pin": "5827"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert _code(api.login("ani", given.pin)) == "pin_wrong"  # it worked once
    assert api.login("ani", "5827").status_code == 200
    # A later list (another change) leaves the clerk's own PIN alone.
    staff.add(OFFICE, "dewi", name="Dewi", role="staff")
    api.sync()
    assert api.login("ani", "5827").status_code == 200
    # A reset replaces the local PIN with a new one-time PIN.
    reset = staff.reset(OFFICE, "ani")
    api.sync()
    assert _code(api.login("ani", "5827")) == "pin_wrong"
    assert _code(api.login("ani", reset.pin)) == "pin_change_required"
    same = api.call("POST", "/api/pin", json={"operator": "ani", "pin": reset.pin,
                                              "new_pin": reset.pin})  # fmt: skip
    assert same.status_code == 400 and _code(same) == "pin_same"
    assert api.call("POST", "/api/pin", json={"operator": "ani", "pin": reset.pin,
                                              "new_pin": "6038"}).status_code == 200  # fmt: skip
    # The district is unreachable: the kiosk keeps working with the list it holds.
    office.proxy.down()
    staff.disable(OFFICE, "ani")
    with pytest.raises(LinkDownError):
        api.sync()
    assert api.login("ani", "6038").status_code == 200
    # Back online: a central disable beats the local PIN.
    office.proxy.up()
    api.sync()
    refused = api.login("ani", "6038")
    assert refused.status_code == 403 and _code(refused) == "operator_disabled"
    assert "ani" not in _on_screen(api) and "dewi" in _on_screen(api)
    _, records = staff.list(OFFICE)
    assert {r.operator_id: r.state for r in records} == {"ani": "disabled", "dewi": "active"}


def test_a_forged_or_older_list_is_refused(office: Office, server: Server) -> None:
    api, staff = office.api, office.staff
    staff.add(OFFICE, "ani", name="Ani", role="staff")
    api.sync()
    stored = api.agent.spool.operators_version()
    device = server.keys.store.active_device_for_office(OFFICE)
    assert device is not None
    now = int(time.time())
    # The list as the district serves it, kept; then a newer version.
    _, old_token = operator_list_token(server.keys, device, now_s=now)
    assert old_token is not None
    staff.add(OFFICE, "dewi", name="Dewi", role="staff")
    api.sync()
    assert api.agent.spool.operators_version() == stored + 1
    signer = server.keys.active_signer(now_s=now)
    later = int(time.time()) + 1  # after the head the kiosk holds (a head is never older)
    head = FeedHead(device.device_id, "74.08", device.seq, later, later + 600, frozenset(), 1)
    seal_key = parse_x25519_jwk(json.loads(device.seal_jwk))
    forged = issue_operator_list(
        OperatorList("74.08", device.device_id, OFFICE, stored + 5, now, now + 600, ()),
        seal_key=seal_key, signer=Signer(signer.kid, Ed25519PrivateKey.generate()),
    )  # fmt: skip
    for token, reason in ((old_token, "operators_replayed"), (forged, "operators_bad_signature")):
        api.agent.syncer.process(feed_body(FeedResponse(
            head=sign_head(head, signer), jobs=(), keyring=None, operators=token)))  # fmt: skip
        assert reason in [why for _, why in api.agent.errors.items()]
    assert api.agent.spool.operators_version() == stored + 1
    assert {"ani", "dewi"} <= _on_screen(api)
    # The claims are public, the list is sealed: no name or PIN hash in the clear.
    payload = b64u_decode(old_token.split(b".")[1].decode())
    assert b"Ani" not in payload and b"scrypt" not in payload


def test_a_supervisors_local_operator_is_reported_and_listed(office: Office,
                                                            server: Server) -> None:  # fmt: skip
    api, staff = office.api, office.staff
    # Before any central change: a local operator is listed, the list has no version.
    early = subprocess.run([str(CEDOKA), "--home", str(api.kiosk.home), "operator", "add", "eka",
                            "--name", "Eka", "--pin-stdin"], input="2749\n", capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert early.returncode == 0, early.stderr
    api.agent.reporter.deliver()
    assert [(r.operator_id, r.origin) for r in staff.list(OFFICE)[1]] == [("eka", "local")]
    assert staff.list(OFFICE)[0] == 0
    staff.add(OFFICE, "ani", name="Ani", role="staff")
    api.sync()
    assert api.login(*SUPERVISOR[::2]).status_code == 200
    unlocked = api.call("POST", "/api/settings/unlock", json={"pin": SUPERVISOR[2]})
    assert unlocked.status_code == 200, unlocked.text
    settings = {"x-cedoka-settings": unlocked.json()["settings_ticket"]}
    added = api.call(
        "POST",
        "/api/operators",
        headers=settings,
        json={"operator": "rudi", "name": "Rudi", "role": "staff", "pin": "3972"},
    )
    assert added.status_code == 200, added.text
    central = api.call("DELETE", "/api/operators/ani", headers=settings)
    assert central.status_code == 409 and _code(central) == "operator_central"
    api.token = None
    assert api.login("rudi", "3972").status_code == 200
    # The kiosk's command line reports too; it does not remove a central operator.
    home = api.kiosk.home
    tono = subprocess.run([str(CEDOKA), "--home", str(home), "operator", "add", "tono", "--name",
                           "Tono", "--supervisor", "--pin-stdin"], input="4826\n",
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert tono.returncode == 0, tono.stderr
    kept = subprocess.run([str(CEDOKA), "--home", str(home), "operator", "remove", "ani"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert kept.returncode == 1 and "operator_central" in kept.stderr
    assert kept.stderr.count("\n") == 1
    api.agent.reporter.deliver()
    _, records = staff.list(OFFICE)
    by_id = {r.operator_id: r for r in records}
    assert by_id["rudi"].origin == "local" and by_id["rudi"].role == "staff"
    assert by_id["rudi"].device_id is not None and by_id["rudi"].name == ""
    assert by_id["tono"].origin == "local" and by_id["tono"].role == "supervisor"
    assert by_id["ani"].origin == "central"
    # A local removal is reported as well.
    assert api.login(*SUPERVISOR[::2]).status_code == 200
    unlocked = api.call("POST", "/api/settings/unlock", json={"pin": SUPERVISOR[2]})
    settings = {"x-cedoka-settings": unlocked.json()["settings_ticket"]}
    removed = api.call("DELETE", "/api/operators/rudi", headers=settings)
    assert removed.status_code == 200, removed.text
    api.agent.reporter.deliver()
    rudi = server.keys.store.operators.operator(OFFICE, "rudi")
    assert rudi is not None and rudi.state == "removed"
    # The command line lists central and local staff.
    args = ["--home", str(server.home)] + ([] if server.db_url is None else ["--db", server.db_url])
    listed = _run_cli([*args, "operators", "list", "--office", OFFICE, "--json"])
    origins = {o["id"]: o["origin"] for o in listed["operators"]}
    assert origins["rudi"] == "local" and origins["ani"] == "central"


def _run_cli(argv: list[str]) -> dict[str, object]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    return dict(json.loads(out.getvalue()))


def test_an_older_agent_gets_no_list_and_a_newer_list_wakes_a_poll(server: Server) -> None:
    """``ov`` absent (an agent older than ADR 0034): no ``operators``, no head ``ov``, and a
    list is never news (its poll is held as before); ``ov`` given: the list when newer, and a
    central change wakes a held poll at once."""
    kiosk = enrolled(server)
    staff = DistrictOperators(server.keys)
    staff.add(OFFICE, "ani", name="Ani", role="staff")

    def feed(target: str) -> tuple[dict[str, object], dict[str, object], float]:
        started = time.monotonic()
        answer = kiosk.call("GET", target)
        assert answer.status_code == 200, answer.text
        body = json.loads(answer.content)
        head = json.loads(b64u_decode(body["head"].split(".")[1]))
        return body, head, time.monotonic() - started

    body, head, _ = feed("/v1/feed?after=0&kr=1&wait=0")
    assert "operators" not in body and "ov" not in head
    body, head, took = feed("/v1/feed?after=0&kr=1&wait=2")  # held: nothing new for it
    assert "operators" not in body and took >= 1.4
    body, head, took = feed("/v1/feed?after=0&kr=1&ov=0&wait=30")  # news: answered at once
    assert isinstance(body["operators"], str) and head["ov"] == 1 and took < 10
    body, head, _ = feed("/v1/feed?after=0&kr=1&ov=1&wait=0")
    assert "operators" not in body and head["ov"] == 1
    woken: list[float] = []

    def poll() -> None:
        _, polled, took = feed("/v1/feed?after=0&kr=1&ov=1&wait=30")
        woken.append(took if polled["ov"] == 2 else -1)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1)
    staff.disable(OFFICE, "ani")
    thread.join(timeout=40)
    assert woken and 0 < woken[0] < 20
