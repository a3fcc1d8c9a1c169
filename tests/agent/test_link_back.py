"""The sync backoff after a network failure (protocol §15.3): capped at 60 s whatever
``backoff_max_s`` says, and ended at once when the district's port accepts a connection
again. The real agent (``cedoka run``) against the real district server, which is stopped
and started again on the same port."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tomli_w
import uvicorn
from fastapi import FastAPI

from agent.client import LinkDownError, LinkKind
from agent.linkwatch import NETWORK_BACKOFF_MAX_S, LinkProbe, is_network_failure
from district.http import build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.service import DistrictService
from kiosk.backoff import Backoff
from kiosk.errors import TransportError
from kiosk.model import ReleaseMode
from tests.agent.harness import enrol, push, wait_for
from tests.district.conftest import Server


@contextmanager
def serving_on(port: int, app: FastAPI) -> Iterator[None]:
    """Serve ``app`` on 127.0.0.1:``port`` in a thread until the block ends (then the
    port refuses connections: the district is down)."""
    sock = socket.create_server(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on",
                                           timeout_graceful_shutdown=1))  # fmt: skip
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(server.serve(sockets=[sock]),), daemon=True)  # fmt: skip
    thread.start()
    wait_for("the server started", lambda: server.started, 10)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


def test_network_failures_are_capped_at_60_s_others_keep_the_configured_cap() -> None:
    backoff = Backoff(1.0, 3600.0, failures=20)
    top = lambda a, b: b  # noqa: E731 (the top of the jitter range)
    assert backoff.delay_s(top) == 3600.0
    assert backoff.delay_s(top, cap_s=NETWORK_BACKOFF_MAX_S) == 60.0
    assert backoff.delay_s(top, 120.0, cap_s=NETWORK_BACKOFF_MAX_S) == 120.0  # Retry-After
    assert Backoff(1.0, 10.0, failures=20).delay_s(top, cap_s=60.0) == 10.0  # never raised
    for kind in ("dns", "refused", "reset", "timeout", "network", "truncated", "deadline"):
        assert is_network_failure(LinkDownError(LinkKind(kind)))
    for kind in ("http_5xx", "rate_limited", "tls", "captive_portal", "bad_answer", "replayed"):
        assert not is_network_failure(LinkDownError(LinkKind(kind)))
    assert not is_network_failure(TransportError("no kind"))


def test_the_probe_ends_the_wait_when_the_port_listens_again() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    probe = LinkProbe(f"http://127.0.0.1:{port}")
    assert not probe.answers()  # refused
    stop = threading.Event()
    started = time.monotonic()
    assert probe.wait(stop, 1.5) is False  # nothing listened: the whole wait
    assert 1.4 < time.monotonic() - started < 3
    listener = socket.create_server(("127.0.0.1", port))
    try:
        started = time.monotonic()
        assert probe.wait(stop, 30) is True
        assert time.monotonic() - started < 2.5
    finally:
        listener.close()
    stop.set()
    assert probe.wait(stop, 30) is False  # stopping ends it too
    assert LinkProbe("http://name.invalid:80").answers() is False  # DNS failure


def _backoff_waits(log: str) -> list[float]:
    return [float(w) for w in re.findall(r"event=backoff kind=refused wait_s=([0-9.]+)", log)]


def test_the_agent_retries_at_once_when_the_district_comes_back(
    server: Server, tmp_path: Path
) -> None:
    """Backoff as long as an operator may configure it (first wait up to 60 s, cap one
    hour): the agent's next request still comes within about a second of the district's
    return — its job printed within a few seconds — not when its drawn wait runs out."""
    # A second server process of the same district on a port of our own, to stop and start.
    keys = Keys.open(server.home, server.db_url)
    store = Keys.open(server.home, server.db_url)
    try:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            own = holder.getsockname()[1]
        url = f"http://127.0.0.1:{own}"

        def app() -> FastAPI:
            return build_app(DistrictService(keys), FeedNotifier(store.store))

        with serving_on(own, app()):
            kiosk = enrol(server, tmp_path, url=url)
        config = kiosk.home / "agent.toml"
        raw = tomllib.loads(config.read_text())
        raw.update(backoff_initial_s=60.0, backoff_max_s=3600.0)
        config.write_text(tomli_w.dumps(raw))
        agent = kiosk.start()
        try:
            # The district is down: wait for a drawn backoff of at least 10 s to begin.
            long_wait = lambda: any(w >= 10 for w in _backoff_waits(kiosk.log_text()))  # noqa: E731
            wait_for("a long backoff", long_wait, 120)
            waits = _backoff_waits(kiosk.log_text())
            assert all(w <= NETWORK_BACKOFF_MAX_S for w in waits)
            push(server, ReleaseMode.AUTO)
            with serving_on(own, app()):
                back = time.monotonic()
                wait_for("printed", lambda: len(kiosk.printed()) == 2, 30)
                took = time.monotonic() - back
            assert took < 5, f"printed {took:.1f} s after the district came back"
            assert "event=link_back" in kiosk.log_text()
            print(f"district back -> job printed: {took:.2f} s (drawn wait {waits[-1]:.0f} s)")
        finally:
            kiosk.stop(agent)
    finally:
        keys.store.close()
        store.store.close()
