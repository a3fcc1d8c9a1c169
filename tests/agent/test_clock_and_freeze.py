"""The kiosk's trusted clock and the district's confirmations, with the real district server
on 127.0.0.1, the real agent (``agent.app.Agent``) over real SQLite, and the installed
``cedoka`` command line (issue 14 items 1 and 7):

- enrolment does not move the trusted-time floor (protocol 4.4 step 7): an enrolment answer
  whose ``server_time`` lies years ahead — a district clock that is wrong, or anyone holding
  the code, who can MAC any answer — must not make every honest head ``head_expired``; and a
  kiosk whose floor an older agent set that way accepts honest heads again;
- a frozen feed is visible (9.8): when the signed head expires or stops advancing,
  ``cedoka status --json`` says ``link.frozen`` with the time of the last confirmation and
  why the newest head was refused; the next fresh head thaws it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from agent import trust as trust_store
from agent.app import Agent
from agent.spool import Spool
from kiosk.enroll import enroll_response_body, parse_enroll_code, parse_enroll_response
from kiosk.model import FeedHead
from tests.agent.faulty import Exchange, FaultyServer
from tests.agent.harness import OFFICE, Kiosk, enrol, wait_for
from tests.agent.stale import district_head, feed_answer
from tests.district.conftest import Server

YEARS_AHEAD_S = 3 * 365 * 86400


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    with FaultyServer() as running:
        yield running


def _point_to(kiosk: Kiosk, url: str) -> None:
    from dataclasses import replace

    from agent.settings import load_config, save_config

    save_config(kiosk.home, replace(load_config(kiosk.home), server_url=url))


def _enrol_through(server: Server, faulty: FaultyServer, tmp_path: Path, shift_s: int) -> Kiosk:
    """Enrol with ``cedoka enroll`` through a middlebox that holds the code: it passes the
    request to the real district and re-MACs the answer with ``server_time`` moved."""
    code_text = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    code = parse_enroll_code(code_text)

    def forge(exchange: Exchange) -> None:
        sent = exchange.request
        answer = requests.post(
            server.base_url + sent.target, data=sent.body, timeout=10,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        nonce = json.loads(sent.body)["nonce"]
        real = parse_enroll_response(answer.content, code=code, nonce=nonce)
        moved = type(real)(**{**{k: getattr(real, k) for k in real.__dataclass_fields__},
                              "server_time_s": real.server_time_s + shift_s})  # fmt: skip
        exchange.respond(200, enroll_response_body(moved, nonce=nonce, code=code))

    faulty.handler = forge
    out = tmp_path / "printed"
    out.mkdir()
    kiosk = Kiosk(server, tmp_path / "kiosk", out)
    done = kiosk.cli("enroll", "--server", faulty.base_url, "--code", code_text,
                     "--printer", f"a4=virtual:{out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return kiosk


def _stored(home: Path) -> tuple[int, bytes | None, FeedHead | None]:
    """(the floor the trust state uses, the stored floor copy, the stored head)."""
    spool = Spool(home / "spool.db")
    try:
        trust = trust_store.load(spool)
        return trust.time_floor_s, spool.get_meta("time_floor"), trust.head
    finally:
        spool.close()


def _status(kiosk: Kiosk) -> dict[str, Any]:
    done = kiosk.cli("status", "--json")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    link: dict[str, Any] = json.loads(done.stdout)["link"]
    return link


# --- item 1: enrolment does not move the trusted clock -----------------------------------


def test_an_enrolment_answer_years_ahead_does_not_move_the_floor(
    server: Server, faulty: FaultyServer, tmp_path: Path
) -> None:
    kiosk = _enrol_through(server, faulty, tmp_path, shift_s=YEARS_AHEAD_S)
    floor, copy, head = _stored(kiosk.home)
    assert (floor, copy, head) == (0, b"0", None), "protocol 4.4 step 7: floor = 0, no head"

    _point_to(kiosk, server.base_url)  # the honest district from now on
    agent = Agent(kiosk.home)
    try:  # staff actions and event stamps do not use the old copy before the first head
        assert abs(agent.trusted_now_s() - time.time()) < 60
        agent.syncer.round(1)
        assert not agent.syncer.frozen
    finally:
        agent.close()
    floor, copy, head = _stored(kiosk.home)
    assert head is not None, "the honest head was refused"
    assert (
        abs(floor - time.time()) < 60
        and copy == str(floor).encode() == str(head.issued_at_s).encode()
    )


def test_a_floor_an_older_agent_set_at_enrolment_no_longer_blocks_honest_heads(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    spool = Spool(kiosk.home / "spool.db")
    try:  # what agents before issue 14 stored: the answer's server_time, here years ahead
        spool.set_meta({"time_floor": str(int(time.time()) + YEARS_AHEAD_S).encode()})
    finally:
        spool.close()
    agent = Agent(kiosk.home)
    try:  # staff actions and event stamps do not use the old copy before the first head
        assert abs(agent.trusted_now_s() - time.time()) < 60
        agent.syncer.round(1)
        assert not agent.syncer.frozen
    finally:
        agent.close()
    floor, copy, head = _stored(kiosk.home)
    assert head is not None and floor == head.issued_at_s and copy == str(floor).encode()
    assert abs(floor - time.time()) < 60


# --- item 7: a frozen feed is visible ------------------------------------------------------


def test_an_expired_head_freezes_the_feed_visibly_and_a_fresh_one_thaws_it(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    agent = Agent(kiosk.home)
    try:
        agent.syncer.round(1)
        _, _, confirmed = _stored(kiosk.home)
        assert confirmed is not None
        fresh = _status(kiosk)
        assert fresh["frozen"] is False and fresh["error"] is None
        assert fresh["confirmed_s"] == confirmed.issued_at_s
        assert fresh["confirmed_until_s"] == confirmed.expires_at_s

        # The district's key signed it, but it expired: the newest head is refused (H9).
        wait_for("a second after that head", lambda: time.time() >= confirmed.issued_at_s + 1)
        stale = district_head(server, agent.config.device_id, iat=confirmed.issued_at_s,
                              exp=confirmed.issued_at_s + 1)  # fmt: skip
        agent.syncer.process(feed_answer(stale))
        assert agent.syncer.frozen
        frozen = _status(kiosk)
        assert frozen["frozen"] is True
        assert frozen["error"] == frozen["head_refused"] == "head_expired"
        assert frozen["confirmed_s"] == confirmed.issued_at_s  # "no confirmation since" it
        text = kiosk.cli("status").stdout
        assert "no confirmation from the district since" in text, text
        assert "belum ada konfirmasi dari kabupaten sejak" in text

        agent.syncer.round(1)  # the honest district again: a fresh head thaws the feed
        assert not agent.syncer.freshness().frozen
    finally:
        agent.close()
    thawed = _status(kiosk)
    assert thawed["frozen"] is False and thawed["error"] is None
    assert thawed["head_refused"] is None and thawed["confirmed_s"] >= confirmed.issued_at_s


@pytest.mark.parametrize(
    ("served", "reason"), [("the_same_head", "head_expired"), ("an_older_head", "head_replayed")]
)
def test_a_head_that_stops_advancing_freezes_the_feed_once_the_last_one_expired(
    server: Server, tmp_path: Path, served: str, reason: str
) -> None:
    """The answers keep coming, but no newer head verifies: the last verified head (20 min
    old, lived 10 min) ran out, so the feed is frozen since its ``iat``."""
    kiosk = enrol(server, tmp_path)
    now = int(time.time())
    agent = Agent(kiosk.home)
    try:
        device = agent.config.device_id
        last = district_head(server, device, iat=now - 1200, exp=now - 600)
        trust = trust_store.load(agent.spool)  # as verified 20 minutes ago
        head = FeedHead(device_id=device, issuer=trust.district_code, seq=0,
                        issued_at_s=now - 1200, expires_at_s=now - 600, cancelled=frozenset(),
                        keyring_version=trust.keyring.version)  # fmt: skip
        trust_store.store_head(agent.spool, trust, head)
        again = last if served == "the_same_head" else (
            district_head(server, device, iat=now - 1300, exp=now + 600))  # fmt: skip
        agent.syncer.process(feed_answer(again))
        assert agent.syncer.frozen
    finally:
        agent.close()
    link = _status(kiosk)
    assert link["frozen"] is True and link["error"] == link["head_refused"] == reason
    assert (link["confirmed_s"], link["confirmed_until_s"]) == (now - 1200, now - 600)
