"""Serve the kiosk's local API (and, once written, its screens) for a running agent: on
127.0.0.1 only, in a thread of the agent's process, with a fresh secret per launch. The
window's URL (secret in the fragment) goes to ``<home>/kiosk-url``, mode 0600, for the
``kiosk`` command of the same user (other users cannot read the 0700 home); or, in a
production install, to $CEDOKA_KIOSK_URL_FILE, mode 0640, for the staff's desktop session
in the service's group (see :func:`ui.window.window_url_file`).

The socket listens from the start, but the API itself (FastAPI, pydantic: ~20 MiB) is built
at the first request (:class:`LazyApi`): an agent whose screen is not open — a headless
kiosk, or before the window starts — never loads it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from agent.app import Agent
from agent.files import remove_durably, write_atomic
from ui.guard import Guard
from ui.window import URL_FILE_ENV, window_url_file

log = logging.getLogger("cedoka.ui")
STATIC_DIR = Path(__file__).with_name("static")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class LazyApi:
    """An ASGI app that builds the real one (``build()``) at its first request, once: the
    import of FastAPI and the route table cost ~20 MiB and ~0.3 s, paid when the screen
    first asks, not while nobody looks. The built app has no lifespan handlers, so the
    server runs with ``lifespan="off"``."""

    def __init__(self, build: Callable[[], Asgi]) -> None:
        self._build = build
        self._app: Asgi | None = None
        self._lock = threading.Lock()

    def app(self) -> Asgi:
        """The real app, built now if it was not yet."""
        with self._lock:
            if self._app is None:
                started = time.monotonic()
                self._app = self._build()
                log.info("event=kiosk_api_built ms=%.0f", (time.monotonic() - started) * 1000)
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app or self.app()
        await app(scope, receive, send)


@dataclass
class RunningApi:
    guard: Guard
    url_file: Path
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket
    _loop: asyncio.AbstractEventLoop

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        if not self._thread.is_alive():
            self._loop.close()
        remove_durably(self.url_file)


def start_api(agent: Agent, *, port: int = 0) -> RunningApi:
    # IPPROTO_TCP, not socket()'s 0: asyncio sets TCP_NODELAY only on such sockets, and
    # without it every kept-alive answer waits ~40 ms (Nagle + the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    guard = Guard(int(sock.getsockname()[1]))
    static = str(STATIC_DIR) if (STATIC_DIR / "index.html").exists() else None

    def build() -> Asgi:
        from ui.api import build_api  # FastAPI: only once a request comes

        return build_api(agent, guard, static_dir=static)

    server = uvicorn.Server(uvicorn.Config(LazyApi(build), log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2, lifespan="off",
                                           interface="asgi3"))  # fmt: skip
    loop = asyncio.new_event_loop()
    serving = server.serve(sockets=[sock])
    thread = threading.Thread(target=loop.run_until_complete, args=(serving,), name="ui",
                              daemon=True)  # fmt: skip
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the kiosk API did not start")
        time.sleep(0.01)
    url_file = window_url_file(agent.home)
    shared = os.environ.get(URL_FILE_ENV) is not None
    write_atomic(url_file, guard.window_url().encode(), mode=0o640 if shared else 0o600)
    log.info("event=kiosk_api_started port=%d", guard.port)
    return RunningApi(guard, url_file, server, thread, sock, loop)
