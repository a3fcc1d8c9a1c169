"""``cedoka-district serve --workers N``: N server processes on one listening socket
(ADR 0027).

The parent binds the address once (a port in use is one clear error, and nobody else can
join the port as ``SO_REUSEPORT`` would let any process of the same user do) and starts N
children (``spawn``: fresh interpreters, no state copied from the parent), each handed the
socket and running the whole server on it (:func:`district.http.run_server`: its own
notifier, webhook deliverer, connections to the database). The kernel gives each new
connection to whichever child accepts it first, so an idle child takes more.

The parent supervises: a child that ends while nobody asked it to is started again (after
``RESTART_BACKOFF_S`` when it ran less than ``QUICK_EXIT_S``; after ``MAX_QUICK_EXITS``
such quick ends in a row the parent stops the others and exits 1: a child that cannot
start will not start by retrying). SIGTERM and SIGINT are forwarded to every child as
SIGTERM (children live in their own process group, so a terminal's Ctrl-C reaches only the
parent), and the parent exits once all have ended. A child whose parent is gone stops
itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("cedoka.district.workers")
QUICK_EXIT_S = 10.0
MAX_QUICK_EXITS = 5
RESTART_BACKOFF_S = 1.0
STOP_TIMEOUT_S = 30.0  # after SIGTERM, then SIGKILL


def bind(host: str, port: int, *, backlog: int = 4096) -> socket.socket:
    """The listening socket the children share (IPv6 for a ``:`` host)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _child(index: int, sock: socket.socket, target: Callable[..., None],
           kwargs: dict[str, Any]) -> None:  # fmt: skip
    """A child's start: its own process group, a watch on its parent, then the server."""
    os.setpgrp()
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)  # orphaned: stop as on a clean stop

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    target(sock=sock, worker=index, **kwargs)


def supervise(
    workers: int, sock: socket.socket, target: Callable[..., None], kwargs: dict[str, Any]
) -> int:
    """Run ``target(sock=sock, worker=i, **kwargs)`` in ``workers`` child processes until
    SIGTERM or SIGINT; return the exit status (0: stopped on a signal)."""
    supervisor = _Supervisor(sock, target, kwargs)
    previous = {s: signal.signal(s, supervisor.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(workers):
            supervisor.start(index)
        supervisor.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return supervisor.status


class _Supervisor:
    def __init__(
        self, sock: socket.socket, target: Callable[..., None], kwargs: dict[str, Any]
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._sock, self._target, self._kwargs = sock, target, kwargs
        self._procs: dict[int, tuple[multiprocessing.process.BaseProcess, float]] = {}
        self._stopping = False
        self._quick_exits = 0
        self.status = 0

    def start(self, index: int) -> None:
        proc = self._context.Process(
            target=_child, args=(index, self._sock, self._target, self._kwargs),
            name=f"cedoka-serve-{index}",
        )  # fmt: skip
        proc.start()
        self._procs[index] = (proc, time.monotonic())
        log.info("event=worker_started worker=%d pid=%d", index, proc.pid or 0)

    def stop_all(self) -> None:
        self._stopping = True
        for proc, _ in self._procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        if not self._stopping:
            log.info("event=workers_stopping signal=%s", signal.Signals(sig).name)
        self.stop_all()

    def run(self) -> None:
        """Until every child ended: restart those that end unasked."""
        stop_deadline: float | None = None
        while self._procs:
            sentinels = [proc.sentinel for proc, _ in self._procs.values()]
            multiprocessing.connection.wait(sentinels, timeout=1.0)
            if self._stopping and stop_deadline is None:
                stop_deadline = time.monotonic() + STOP_TIMEOUT_S
            for index, (proc, started) in list(self._procs.items()):
                if not proc.is_alive():
                    proc.join()
                    del self._procs[index]
                    if not self._stopping:
                        self._ended(index, proc, time.monotonic() - started)
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                for proc, _ in self._procs.values():
                    proc.kill()

    def _ended(self, index: int, proc: multiprocessing.process.BaseProcess, ran_s: float) -> None:
        log.warning("event=worker_ended worker=%d pid=%d exitcode=%s ran_s=%.1f",
                    index, proc.pid or 0, proc.exitcode, ran_s)  # fmt: skip
        self._quick_exits = self._quick_exits + 1 if ran_s < QUICK_EXIT_S else 0
        if self._quick_exits >= MAX_QUICK_EXITS:
            log.error("event=workers_failing quick_exits=%d", self._quick_exits)
            self.status = 1
            self.stop_all()
            return
        if ran_s < QUICK_EXIT_S:
            time.sleep(RESTART_BACKOFF_S)
        if not self._stopping:
            self.start(index)
