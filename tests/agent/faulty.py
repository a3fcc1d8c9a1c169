"""A small, scriptable, misbehaving HTTP/1.1 server on 127.0.0.1 for the client's tests.

Raw sockets in threads, so a test can do what no well-behaved framework does: send half a
body and reset the connection (SO_LINGER 0), trickle one byte at a time, lie in
Content-Length, answer HTML, redirect, or never answer. Each connection carries one
request; the test's ``handler`` gets an :class:`Exchange` with the parsed request and the
socket, and the server closes the socket when the handler returns. Every request is kept in
``requests`` and every body byte sent is counted in ``body_bytes_sent``.

Loopback only; TEST-ONLY.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType

_REASONS = {
    200: "OK", 206: "Partial Content", 302: "Found", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 409: "Conflict", 416: "Range Not Satisfiable", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
_MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Seen:
    """One request as the server received it (header names in lower case)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    """One request and the means to answer it, well or badly."""

    request: Seen
    conn: socket.socket
    server: FaultyServer
    index: int  # 0 for the server's first request, 1 for the second, …
    head_sent: bool = field(default=False)

    def send_head(self, status: int, headers: Mapping[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        all_headers = {"Date": formatdate(usegmt=True), "Connection": "close", **headers}
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        self.conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.head_sent = True

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)
        self.server.count_sent(len(data))

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        """A complete, well-framed answer (Content-Length = the body's length)."""
        all_headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        self.send_head(status, all_headers)
        self.send(body)

    def error(
        self, status: int, code: str, headers: Mapping[str, str] | None = None, **extra: int
    ) -> None:
        """The protocol's error body."""
        inner = f'"code":"{code}","message":"scripted failure"'
        inner += "".join(f',"{name}":{value}' for name, value in extra.items())
        self.respond(status, ("{" + f'"error":{{{inner}}}' + "}").encode(), headers)

    def reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False if it is."""
        return not self.server.stopping.wait(seconds)


Handler = Callable[[Exchange], object]


class FaultyServer:
    """``with FaultyServer() as server: server.handler = …; …server.base_url…``"""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler: Handler = lambda exchange: exchange.error(500, "internal")
        self.requests: list[Seen] = []
        self.body_bytes_sent = 0
        self.stopping = threading.Event()
        self._tls = tls
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._failures: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> FaultyServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._acceptor.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()
        if self._failures and kind is None:
            raise AssertionError("the scripted handler failed") from self._failures[0]

    def count_sent(self, n: int) -> None:
        with self._lock:
            self.body_bytes_sent += n

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            raw.settimeout(10)
            if self._tls is not None:
                conn = self._tls.wrap_socket(raw, server_side=True)
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                index = len(self.requests)
                self.requests.append(request)
            self.handler(Exchange(request, conn, self, index))
        except OSError:
            pass  # the client went away (or refused our certificate): part of the script
        except BaseException as error:  # a bug in the test's handler: reported at exit
            self._failures.append(error)
        finally:
            try:
                conn.close()
            finally:
                raw.close()


def _read_request(conn: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > _MAX_HEAD_BYTES:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return Seen(method, target, headers, body)


def trickle(exchange: Exchange, data: bytes, *, every_s: float) -> None:
    """Send ``data`` one byte at a time (after a head the caller sent)."""
    for i in range(len(data)):
        if not exchange.sleep(every_s):
            return
        exchange.send(data[i : i + 1])


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
