"""The kiosk's local API served for real (uvicorn on 127.0.0.1) over a live agent that is
enrolled with the real district server and prints to the virtual printer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import uvicorn

from agent.app import Agent
from tests.agent.harness import Kiosk, enrol
from tests.district.conftest import Server, server
from ui.api import build_api
from ui.guard import SECRET_HEADER, Guard

__all__ = ["server"]


@dataclass
class Api:
    url: str
    guard: Guard
    agent: Agent
    kiosk: Kiosk
    session: requests.Session

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {SECRET_HEADER: self.guard.secret, **dict(kwargs.pop("headers", {}))}  # type: ignore[call-overload]
        return self.session.request(method, self.url + path, headers=headers, timeout=60,
                                    **kwargs)  # type: ignore[arg-type]  # fmt: skip

    def sync(self) -> None:
        self.agent.syncer.round(1)


@pytest.fixture
def api(server: Server, tmp_path: Path) -> Iterator[Api]:
    kiosk = enrol(server, tmp_path)
    agent = Agent(kiosk.home)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    guard = Guard(port)
    app = build_api(agent, guard)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(uv.serve(sockets=[sock]),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    session = requests.Session()
    session.trust_env = False
    try:
        yield Api(f"http://127.0.0.1:{port}", guard, agent, kiosk, session)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()
        session.close()
        agent.close()
