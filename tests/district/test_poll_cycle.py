"""The cheaper poll cycle (issue 18 item 3, ADR 0029) over real HTTP on 127.0.0.1: the
jittered long-poll timeout, 503 + Retry-After for held polls when ``serve`` stops (and the
agent's client taking it as a link failure to retry no sooner than Retry-After), "last seen"
written in batches, and caches that never hide a revocation or a rotation."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agent.client import DistrictClient, LinkDownError, LinkKind
from district.keyring import Keys
from district.service import DistrictService
from kiosk.b64 import b64u_decode
from kiosk.backoff import Backoff
from kiosk.feed import parse_feed
from kiosk.jose import read_unverified_header
from kiosk.proof import RequestFacts
from kiosk.strictjson import loads_object
from tests.district.conftest import Kiosk, Server, enrolled, execute_raw
from tests.district.test_restart import CLI, OFFICE, Served

STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


def _code(answer: requests.Response) -> str:
    return str(loads_object(answer.content, max_bytes=4096)["error"]["code"])  # type: ignore[index]


def test_a_timed_out_poll_is_held_between_three_quarters_of_wait_and_wait(
    server: Server,
) -> None:
    kiosks = [enrolled(server) for _ in range(6)]
    took: list[float] = []

    def poll(kiosk: Kiosk) -> None:
        started = time.monotonic()
        answer = kiosk.feed(wait=4)
        took.append(time.monotonic() - started)
        assert answer.status_code == 200 and parse_feed(answer.content).jobs == ()
        kiosk.take_head(answer)  # a fresh, valid head for this device

    threads = [threading.Thread(target=poll, args=(kiosk,)) for kiosk in kiosks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(took) == len(kiosks)
    assert all(2.95 <= t <= 4.5 for t in took), took  # 0.75 x 4 … 4 s, plus the round trip
    assert max(took) - min(took) > 0.1, took  # polls that began together end apart


def test_a_timed_out_answer_has_a_head_signed_at_the_answer(server: Server) -> None:
    kiosk = enrolled(server)
    before = int(time.time())
    answer = kiosk.feed(wait=2)
    after = int(time.time())
    head = parse_feed(answer.content).head
    claims = loads_object(b64u_decode(head.decode().split(".")[1]), max_bytes=4096)
    iat = claims["iat"]
    assert isinstance(iat, int) and before + 1 <= iat <= after, (before, iat, after)


def test_a_revocation_holds_at_once_for_a_held_and_a_next_poll(server: Server) -> None:
    kiosk = enrolled(server)
    assert kiosk.feed().status_code == 200  # the device's key is parsed and cached now
    answers: list[requests.Response] = []
    poll = threading.Thread(target=lambda: answers.append(kiosk.feed(wait=30)))
    poll.start()
    deadline = time.monotonic() + 5
    while server.notifier.waiting == 0:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    server.admin.revoke(kiosk.device_id)  # through its own Keys: as another process would
    poll.join(timeout=10)
    assert answers and answers[0].status_code == 403 and _code(answers[0]) == "device_revoked"
    answer = kiosk.feed()
    assert answer.status_code == 403 and _code(answer) == "device_revoked"


def test_a_rotation_by_another_process_signs_the_next_head(server: Server) -> None:
    kiosk = enrolled(server)
    first = parse_feed(kiosk.feed().content).head
    kid = server.keys.rotate(now_s=int(time.time()))  # the admin's Keys, not the server's
    answer = parse_feed(kiosk.feed(kr=2).content)
    assert read_unverified_header(first, max_bytes=4096)["kid"] != kid
    assert read_unverified_header(answer.head, max_bytes=4096)["kid"] == kid


def test_last_seen_is_written_in_batches(server: Server) -> None:
    """Requests only note the time; ``flush_touches`` writes them in one transaction (the
    server calls it every few seconds and at shutdown); one note per device per minute."""
    kiosk = enrolled(server)
    keys = Keys.open(server.home, server.db_url)
    try:
        service = DistrictService(keys)
        target = "/v1/feed?after=0&kr=1&wait=0"

        def authenticate() -> None:
            token = kiosk.proof("GET", target).split(" ", 1)[1].encode()
            service.authenticate(token, RequestFacts(kiosk.base_url, "GET", target, b""))

        execute_raw(server, "UPDATE devices SET last_seen_s = NULL")
        authenticate()
        assert keys.store.device(kiosk.device_id).last_seen_s is None  # type: ignore[union-attr]
        assert service.flush_touches() == 1
        seen = keys.store.device(kiosk.device_id).last_seen_s  # type: ignore[union-attr]
        assert seen is not None and abs(seen - time.time()) <= 2
        authenticate()  # within the minute: nothing more to write
        assert service.flush_touches() == 0
    finally:
        keys.store.close()


@pytest.fixture
def serve(tmp_path: Path, db_url: str | None) -> Iterator[Served]:
    assert CLI.exists(), f"{CLI} missing: the package is not installed in this venv"
    served = Served(tmp_path / "district", tmp_path / "serve.log", db_url)
    served.cli("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    served.cli("office", "add", OFFICE, "--name", "Desa Pitulua")
    served.start()
    try:
        yield served
    finally:
        if served.proc is not None:
            served.stop()


def test_sigterm_answers_held_polls_503_with_a_short_retry_after(serve: Served) -> None:
    kiosks = [Kiosk(serve.base_url) for _ in range(4)]
    for kiosk in kiosks:
        assert kiosk.enroll(serve.cli("enroll-code", OFFICE).strip()).status_code == 200
    agent_kiosk, raw_kiosks = kiosks[0], kiosks[1:]
    client = DistrictClient(base_url=serve.base_url, device_id=agent_kiosk.device_id,
                            auth_key=agent_kiosk.auth, request_timeout_s=10)  # fmt: skip
    answers: list[requests.Response] = []
    agent_errors: list[BaseException] = []

    def agent_poll() -> None:
        try:
            client.feed(after=0, keyring_version=1, wait_s=60)
        except LinkDownError as error:
            agent_errors.append(error)

    threads = [threading.Thread(target=lambda k=k: answers.append(k.feed(wait=60)))
               for k in raw_kiosks] + [threading.Thread(target=agent_poll)]  # fmt: skip
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # every poll held
    assert all(thread.is_alive() for thread in threads)
    stopped = time.monotonic()
    assert serve.proc is not None
    serve.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=10)
    took = time.monotonic() - stopped
    serve.proc.wait(timeout=15)
    serve.proc = None
    assert took < 3, took  # at once, not after the poll's 60 s nor the graceful 3 s
    assert len(answers) == len(raw_kiosks)
    for answer in answers:
        assert answer.status_code == 503 and _code(answer) == "unavailable"
        retry = loads_object(answer.content, max_bytes=4096)["error"]["retry_after_s"]  # type: ignore[index]
        assert answer.headers["Retry-After"] == str(retry) and 1 <= int(retry) <= 5
    [error] = agent_errors
    assert isinstance(error, LinkDownError) and error.kind is LinkKind.HTTP_5XX
    assert error.retry_after_s is not None and 1 <= error.retry_after_s <= 5
    # the agent's backoff takes Retry-After as a lower bound
    backoff = Backoff(initial_s=1, max_s=300).failed()
    assert backoff.delay_s(lambda low, high: low, error.retry_after_s) == error.retry_after_s
    # the "last seen" noted by these polls was written at shutdown (not 5 s later, never)
    devices = json.loads(serve.cli("devices", "--json"))
    assert len(devices) == len(kiosks)
    assert all(isinstance(d["last_seen_s"], int) for d in devices), devices
