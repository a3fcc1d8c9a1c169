"""What goes over the wire between the agent and the district, for the benchmarks.

:class:`Forwarder` is a loopback TCP forwarder (the idea of ``tests/agent/proxy.py``) that
counts the payload bytes in both directions and meters the HTTP/1.1 messages it carries: per
message its endpoint, its size on the wire and its *essential* size (the request line, Host,
Authorization, Content-Type and Content-Length, the status line and the body: what the
protocol needs; every other header is overhead). TCP/IP headers and TLS are not counted (the
bench link is plain HTTP on loopback).

:class:`WiredStack` is :class:`bench.stack.Stack` with two knobs the benchmarks need: enrol
the agent through a forwarder (so every byte it exchanges passes the counters; the proofs
still verify: the server takes the origin from the Host header, which the forwarder passes
through unchanged), and start ``cedoka run`` later (after a pile of jobs has been pushed).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.stack import Stack
from ui.demo import free_port

# The headers the protocol needs; any other header is overhead (User-Agent, Date, Server …).
ESSENTIAL_HEADERS = frozenset({"host", "authorization", "content-type", "content-length"})
MAX_HEAD_BYTES = 64 * 1024  # a head longer than this is not HTTP: stop metering that stream
ENDPOINTS = {"feed": "/v1/feed", "blob": "/v1/blobs/", "events": "/v1/events",
             "heartbeat": "/v1/heartbeat", "enroll": "/v1/enroll"}  # fmt: skip


@dataclass(frozen=True)
class Message:
    """One HTTP message seen by the forwarder (``up``: kiosk -> district)."""

    at: float  # time.monotonic() when its last byte passed
    up: bool
    endpoint: str  # a key of ENDPOINTS, or "other"
    wire_bytes: int
    essential_bytes: int
    has_jobs: bool = False  # a feed answer with at least one manifest


def endpoint_of(target: str) -> str:
    for name, prefix in ENDPOINTS.items():
        if target.startswith(prefix):
            return name
    return "other"


class HttpMeter:
    """Message boundaries of one direction of one connection (HTTP/1.1, no pipelining)."""

    def __init__(self, up: bool, pending: deque[str], record: list[Message]) -> None:
        self.up, self._pending, self._record = up, pending, record
        self._head = bytearray()
        self._body_left = -1  # -1: reading a head; -2: until the connection closes
        self._chunked = False
        self._chunk_line = bytearray()
        self._chunk_left = 0  # data bytes (+2 for CRLF) left in the current chunk
        self._last_chunk = False
        self._wire = 0
        self._essential = 0
        self._endpoint = "other"
        self._sniff = bytearray()  # the first bytes of a feed answer body
        self.broken = False

    def feed(self, data: bytes, now: float) -> None:
        view = memoryview(data)
        while view and not self.broken:
            if self._body_left == -1:
                view = self._read_head(view, now)
            elif self._chunked:
                view = self._read_chunked(view, now)
            else:
                view = self._read_body(view, now)

    def close(self, now: float) -> None:
        if self._body_left == -2:  # a body delimited by the end of the connection
            self._done(now)

    def _read_head(self, view: memoryview, now: float) -> memoryview:
        start = max(0, len(self._head) - 3)
        self._head += view
        end = self._head.find(b"\r\n\r\n", start)
        if end < 0:
            if len(self._head) > MAX_HEAD_BYTES:
                self.broken = True
            return memoryview(b"")
        rest = memoryview(bytes(self._head[end + 4 :]))
        head = bytes(self._head[: end + 4])
        self._head.clear()
        lines = head[:-4].decode("latin-1").split("\r\n")
        headers = {}
        essential = len(lines[0]) + 4  # the first line's CRLF and the blank line
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
            if name.strip().lower() in ESSENTIAL_HEADERS:
                essential += len(line) + 2
        self._wire, self._essential = len(head), essential
        if self.up:
            parts = lines[0].split(" ")
            self._endpoint = endpoint_of(parts[1] if len(parts) > 1 else "")
            self._pending.append(self._endpoint)
        else:
            self._endpoint = self._pending.popleft() if self._pending else "other"
        self._sniff.clear()
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if self._chunked:
            self._essential += len(b"content-length: 0000000\r\n")  # what it would say instead
            self._chunk_line.clear()
            self._chunk_left, self._last_chunk = 0, False
        elif "content-length" in headers:
            self._body_left = int(headers["content-length"])
        else:
            self._body_left = 0 if self.up else -2
        if not self._chunked and self._body_left == 0:
            self._done(now)
        elif self._chunked:
            self._body_left = 0  # not -1: the chunked reader has the stream now
        return rest

    def _read_body(self, view: memoryview, now: float) -> memoryview:
        take = len(view) if self._body_left == -2 else min(len(view), self._body_left)
        self._count_body(view[:take], framing=0)
        if self._body_left != -2:
            self._body_left -= take
            if self._body_left == 0:
                self._done(now)
        return view[take:]

    def _read_chunked(self, view: memoryview, now: float) -> memoryview:
        if self._chunk_left > 0:
            take = min(len(view), self._chunk_left)
            data = min(take, max(0, self._chunk_left - 2))  # the trailing CRLF is framing
            self._chunk_left -= take
            self._count_body(view[:data], framing=take - data)
            if self._chunk_left == 0 and self._last_chunk:
                self._chunked = False
                self._body_left = 0
                self._done(now)
            return view[take:]
        end = bytes(view).find(b"\n")
        if end < 0:
            self._chunk_line += view
            self._wire += len(view)
            return memoryview(b"")
        self._chunk_line += view[: end + 1]
        self._wire += end + 1
        size = int(bytes(self._chunk_line).split(b";")[0].strip() or b"0", 16)
        self._chunk_line.clear()
        self._chunk_left = size + 2
        self._last_chunk = size == 0
        return view[end + 1 :]

    def _count_body(self, data: memoryview, *, framing: int) -> None:
        self._wire += len(data) + framing
        self._essential += len(data)
        if self._endpoint == "feed" and not self.up and len(self._sniff) < 4096:
            self._sniff += data[: 4096 - len(self._sniff)]

    def _done(self, now: float) -> None:
        has_jobs = self._endpoint == "feed" and not self.up and b'"jobs":[]' not in self._sniff
        self._record.append(
            Message(now, self.up, self._endpoint, self._wire, self._essential, has_jobs)
        )
        self._body_left = -1
        self._wire = self._essential = 0


class Forwarder:
    """127.0.0.1:<port> -> 127.0.0.1:<target_port>, counting and metering both ways."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.up_bytes = 0  # kiosk -> district
        self.down_bytes = 0  # district -> kiosk
        self.connections = 0
        self.messages: list[Message] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Forwarder:
        self._spawn(self._accept)
        return self

    def counters(self) -> tuple[int, int, int]:
        """(up bytes, down bytes, connections accepted) so far."""
        with self._lock:
            return self.up_bytes, self.down_bytes, self.connections

    def messages_between(self, start: float, end: float) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if start <= m.at <= end]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):  # as both ends do: no Nagle delay added here
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._socks += [client, upstream]
                self.connections += 1
            pending: deque[str] = deque()
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                stream = HttpMeter(up, pending, self.messages)
                self._spawn(self._pipe, src, dst, stream)

    def _pipe(self, src: socket.socket, dst: socket.socket, stream: HttpMeter) -> None:
        try:
            while data := src.recv(256 * 1024):
                with self._lock:
                    if stream.up:
                        self.up_bytes += len(data)
                    else:
                        self.down_bytes += len(data)
                    try:
                        stream.feed(data, time.monotonic())
                    except (ValueError, IndexError):  # not HTTP as we know it: count only
                        stream.broken = True
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                stream.close(time.monotonic())
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class WiredStack(Stack):
    """A :class:`Stack` whose agent may talk through a :class:`Forwarder` (``forward``) and
    may be started later (``agent=False``, then :meth:`start_agent`)."""

    def __init__(self, root: Path, *, forward: bool = False, agent: bool = True) -> None:
        super().__init__(root)
        self._forward, self._agent_now = forward, agent
        self.forwarder: Forwarder | None = None

    def __enter__(self) -> WiredStack:
        try:
            self.demo.prepare()
            if self._forward:  # the kiosk's URL is the forwarder's: the server is told so
                port = free_port()
                self.forwarder = Forwarder(port).start()
                self.server_url = self.demo.start_district(port=port, public_url=self.forwarder.url)
                enrol_url = self.forwarder.url
            else:
                self.server_url = enrol_url = self.demo.start_district()
            self.device_id = self.demo.enrol(enrol_url)
            if self._agent_now:
                self.start_agent()
        except BaseException:
            self._close()
            raise
        return self

    def start_agent(self) -> None:
        self.screen_url = self.demo.start_agent()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self._close()

    def _close(self) -> None:
        try:
            self.demo.shutdown()
        finally:
            if self.forwarder is not None:
                self.forwarder.close()
