"""The kiosk's local API served for real (uvicorn on 127.0.0.1) over a live agent that is
enrolled with the real district server and prints to the virtual printer (A4) and the
virtual receipt printer; two operators exist (``STAFF`` and ``SUPERVISOR``) and the staff
member is signed in."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
STAFF = ("siti", "Siti Aminah", "2580")
SUPERVISOR = ("budi", "Budi Santoso", "1470")
STATIC_DIR = Path(__file__).parents[2] / "ui" / "static"


@dataclass
class Api:
    url: str
    guard: Guard
    agent: Agent
    kiosk: Kiosk
    session: requests.Session
    receipts: Path
    token: str | None = None

    def call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        mine = {SECRET_HEADER: self.guard.secret}
        if self.token is not None:
            mine["x-cedoka-session"] = self.token
        headers = {**mine, **dict(kwargs.pop("headers", {}))}  # type: ignore[call-overload]
        return self.session.request(method, self.url + path, headers=headers, timeout=60,
                                    **kwargs)  # type: ignore[arg-type]  # fmt: skip

    def sync(self) -> None:
        self.agent.syncer.round(1)

    def login(self, operator: str, pin: str) -> requests.Response:
        answer = self.call("POST", "/api/login", json={"operator": operator, "pin": pin})
        if answer.status_code == 200:
            self.token = answer.json()["session"]
        return answer


@contextmanager
def serving_api(agent: Agent) -> Iterator[tuple[str, Guard]]:
    """The kiosk API over ``agent`` served on 127.0.0.1 in a thread, as ``ui.server`` does
    (a free port bound first, the guard made for it); yields the base URL and the guard."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as ui.server
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    guard = Guard(port)
    app = build_api(agent, guard, static_dir=str(STATIC_DIR) if STATIC_DIR.is_dir() else None)
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
    try:
        yield f"http://127.0.0.1:{port}", guard
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


@pytest.fixture
def api(server: Server, tmp_path: Path) -> Iterator[Api]:
    receipts = tmp_path / "receipts"
    receipts.mkdir()
    kiosk = enrol(server, tmp_path, "--printer", f"receipt=virtual:{receipts}")
    agent = Agent(kiosk.home)
    for (operator_id, name, pin), role in ((STAFF, "staff"), (SUPERVISOR, "supervisor")):
        agent.operators.add(operator_id, name=name, role=role, pin=pin)
    try:
        with serving_api(agent) as (base_url, guard), requests.Session() as session:
            session.trust_env = False
            api = Api(base_url, guard, agent, kiosk, session, receipts)
            assert api.login(STAFF[0], STAFF[2]).status_code == 200
            yield api
    finally:
        agent.close()
