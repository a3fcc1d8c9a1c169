"""Serve the kiosk's local API (and, once written, its screens) for a running agent: on
127.0.0.1 only, in a thread of the agent's process, with a fresh secret per launch. The
window's URL (secret in the fragment) goes to ``<home>/kiosk-url``, mode 0600, for the
``kiosk`` command of the same user (other users cannot read the 0700 home); or, in a
production install, to $CEDOKA_KIOSK_URL_FILE, mode 0640, for the staff's desktop session
in the service's group (see :func:`ui.window.window_url_file`)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from agent.app import Agent
from agent.files import remove_durably, write_atomic
from ui.api import build_api
from ui.guard import Guard
from ui.window import URL_FILE_ENV, window_url_file

log = logging.getLogger("cedoka.ui")
STATIC_DIR = Path(__file__).with_name("static")


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
    app = build_api(agent, guard, static_dir=static)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2))  # fmt: skip
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
