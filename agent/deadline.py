"""An overall deadline on every byte of an answer, under requests (a part of
:mod:`agent.client`'s boundary; nothing else uses it).

requests and urllib3 time out per socket read: a server (or anything on the path) that
sends one byte a little before each read timeout holds a request for ever — in the status
line and headers, which the caller never gets to watch, as in the body. Here every socket
read of an answer goes through :class:`_DeadlineReader`, which first sets the socket's
timeout to the smaller of the read timeout and the time left until the request's
deadline, and raises :class:`DeadlineExceededError` (a ``TimeoutError``) once that has passed.

The deadline is given with :func:`deadline_scope` around ``Session.request`` on a session
that mounted :class:`DeadlineAdapter`; the answer keeps it for the reads of its body.
Setting up a connection stays bounded step by step by the connect timeout: the TCP
connect, and the TLS handshake as a whole (CPython bounds a handshake by the socket's
timeout). A session is for one thread at a time, as the client is.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import urllib3
import urllib3.connection
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter

from kiosk.errors import TransportError

_scope = threading.local()


class DeadlineExceededError(TransportError, TimeoutError):
    """The request's overall deadline passed while its answer was awaited or read."""


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Answers whose reading starts inside this block must be read by ``deadline``
    (``time.monotonic()``; None: no overall deadline)."""
    previous = getattr(_scope, "deadline", None)
    _scope.deadline = deadline
    try:
        yield
    finally:
        _scope.deadline = previous


class _DeadlineReader(io.RawIOBase):
    """A socket's raw reader that never waits past ``deadline``."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._raw, self._sock, self._deadline = raw, sock, deadline
        self._read_timeout_s = sock.gettimeout()  # the per-read timeout urllib3 set

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left_s = self._deadline - time.monotonic()
        if left_s <= 0:
            raise DeadlineExceededError("the answer's deadline passed")
        by_deadline = self._read_timeout_s is None or left_s < self._read_timeout_s
        self._sock.settimeout(left_s if by_deadline else self._read_timeout_s)
        try:
            return self._raw.readinto(buffer)
        except TimeoutError:
            if by_deadline:
                raise DeadlineExceededError("the answer's deadline passed") from None
            raise

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's answer, reading its socket through a :class:`_DeadlineReader` when a
    deadline is in scope (nothing has been read when ``__init__`` runs)."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
        url: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(sock, debuglevel, method, url)
        deadline = getattr(_scope, "deadline", None)
        if deadline is not None:
            raw = self.fp.detach()
            self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline))


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections read answers under :func:`deadline_scope`."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK,
        **pool_kwargs: Any,
    ) -> None:  # fmt: skip
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
