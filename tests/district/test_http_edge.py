"""The district server's HTTP edge, attacked over raw sockets on 127.0.0.1 (issue 14, items 8
and 9): request bodies are counted while they arrive, a request with both Content-Length and
Transfer-Encoding is refused and nothing after it runs, slow clients are closed and the
connections of one address are capped, while a real enrolled kiosk keeps being served."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from district import cli
from district.admin import DistrictAdmin
from district.connections import ConnectionLimits, address_key, protocol_class
from district.http import MAX_BODY_BYTES, build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.service import DistrictService
from tests.district.conftest import Kiosk, Server, enrolled

OFFICE = "74.08.01.2002"
STORES = ("sqlite", "postgresql")  # every test using the server runs on both stores
POST_PATHS = ["/v1/enroll", "/v1/events", "/v1/heartbeat", "/v1/device/seal-key"]
CHUNK = b"x" * 65536


# --- raw HTTP/1.1 over a socket ------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def code(self) -> str:
        assert self.headers["content-type"] == "application/json; charset=utf-8", self.headers
        return str(json.loads(self.body)["error"]["code"])


def _connect(base_url: str, timeout_s: float = 10) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)


def _parse(data: bytes) -> tuple[Answer, bytes]:
    """One answer from the start of ``data`` (which holds its whole head), and what follows."""
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    return Answer(int(status_line.split()[1]), headers, rest[:length]), rest[length:]


def _read_answer(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data or len(_parse(data)[0].body) < int(
        _parse(data)[0].headers.get("content-length", "0")
    ):
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a whole answer: {data!r}"
        data += chunk
    return _parse(data)[0]


def _until_closed(sock: socket.socket, timeout_s: float = 10) -> bytes:
    """Whatever the server still sends until it closes the connection (AssertionError if it
    keeps it open for ``timeout_s``)."""
    data, deadline = b"", time.monotonic() + timeout_s
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open; it sent {data!r}") from None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _wait_for(what: str, predicate: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --- a server with the connection guard ------------------------------------------------------


@dataclass
class Guarded:
    server: Server
    uv: uvicorn.Server

    @property
    def open_connections(self) -> int:
        return len(self.uv.server_state.connections)


@contextmanager
def guarded_server(tmp_path: Path, limits: ConnectionLimits) -> Iterator[Guarded]:
    """The real district app on 127.0.0.1:0 behind the connection guard with ``limits``."""
    home = tmp_path / "district"
    DistrictAdmin.init(home, name="Disdukcapil Kolaka Utara", code="74.08")
    keys = Keys.open(home)
    admin = DistrictAdmin(keys)
    admin.add_office(OFFICE, "Desa Pitulua")
    notifier = FeedNotifier(Keys.open(home).store)
    app = build_app(DistrictService(Keys.open(home)), notifier)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
        timeout_graceful_shutdown=1, http=protocol_class(limits),
    )  # fmt: skip
    uv = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(uv.serve(),), daemon=True)
    thread.start()
    _wait_for("the server to start", lambda: uv.started)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield Guarded(Server(f"http://127.0.0.1:{port}", home, keys, admin, notifier), uv)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        loop.close()


# --- item 8: bodies counted while they stream; no request smuggling ------------------------


@pytest.mark.parametrize("path", POST_PATHS)
def test_a_streamed_body_past_the_cap_is_refused_before_the_rest_is_read(
    server: Server, path: str
) -> None:
    """A chunked body that never ends: the 413 must come once the count passes the cap, not
    after the whole body (which used to be read, 300 MiB into memory, before any check)."""
    with _connect(server.base_url, timeout_s=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(MAX_BODY_BYTES // len(CHUNK) + 2):  # past the cap; the body never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        answer = _read_answer(sock)
        assert (answer.status, answer.code) == (413, "too_large")
        assert answer.headers["connection"] == "close"
        _until_closed(sock)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/feed?after=0"), ("POST", "/v1/events"), ("PUT", "/nowhere")]
)
def test_a_declared_length_past_the_cap_is_refused_on_every_path(
    server: Server, method: str, path: str
) -> None:
    with _connect(server.base_url) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
            + CHUNK
        )
        answer = _read_answer(sock)
        assert (answer.status, answer.code) == (413, "too_large")
        assert answer.headers["connection"] == "close"
        _until_closed(sock)


def test_an_answer_given_before_the_body_ended_closes_the_connection(server: Server) -> None:
    """The feed reads no body: the server must not go on reading (and discarding) the rest
    of one after its answer, nor keep the connection."""
    with _connect(server.base_url) as sock:
        sock.sendall(
            b"GET /v1/feed?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
        )
        answer = _read_answer(sock)
        assert (answer.status, answer.code) == (401, "proof_invalid")
        assert answer.headers["connection"] == "close"
        _until_closed(sock)


def test_a_body_within_the_cap_keeps_the_connection(server: Server) -> None:
    """The guard costs a well-formed request nothing: two requests on one connection."""
    with _connect(server.base_url) as sock:
        for _ in range(2):
            sock.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(CHUNK), CHUNK)
            )
            answer = _read_answer(sock)
            assert (answer.status, answer.code) == (401, "proof_invalid")
            assert "connection" not in answer.headers


SMUGGLED = b"GET /v1/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "framing"),
    [
        ("POST", b"Content-Length: %d\r\nTransfer-Encoding: chunked" % (5 + len(SMUGGLED))),
        ("POST", b"Transfer-Encoding: chunked\r\nContent-Length: 0"),
        ("GET", b"transfer-encoding: CHUNKED\r\ncontent-length: 5"),
    ],
    ids=["cl-then-te", "te-then-cl", "lower-case-get"],
)
def test_content_length_with_transfer_encoding_is_refused_and_nothing_is_smuggled(
    server: Server, method: str, framing: bytes
) -> None:
    """A proxy that frames by Content-Length would take the second request for body bytes;
    the server (framing by Transfer-Encoding) used to run it as a request of its own."""
    target = b"/v1/events" if method == "POST" else b"/v1/feed?after=0"
    with _connect(server.base_url) as sock:
        sock.sendall(
            method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing
            + b"\r\n\r\n0\r\n\r\n" + SMUGGLED
        )  # fmt: skip
        everything = _until_closed(sock)
    assert everything.count(b"HTTP/1.1 ") == 1, everything  # one answer: the second never ran
    answer, _ = _parse(everything)
    assert (answer.status, answer.code) == (400, "malformed")
    assert answer.headers["connection"] == "close"


# --- item 9: slow clients closed, connections per address capped --------------------------

SLOW_EACH = 100  # stalled heads, trickled heads and stalled bodies: 300 slow connections


def _kiosk_loop(kiosk: Kiosk, stop: threading.Event, statuses: list[int]) -> None:
    while not stop.is_set():
        statuses.append(kiosk.feed().status_code)


def _long_poll(kiosk: Kiosk, outcome: list[float]) -> None:
    started = time.monotonic()
    status = kiosk.feed(wait=4).status_code  # held 3-4 s (jitter): longer than both timeouts
    outcome.extend([status, time.monotonic() - started])


def test_slow_clients_are_closed_while_a_kiosk_keeps_being_served(tmp_path: Path) -> None:
    limits = ConnectionLimits(
        header_timeout_s=1.0, body_timeout_s=1.0, max_connections_per_address=0
    )
    with guarded_server(tmp_path, limits) as guarded:
        url = guarded.server.base_url
        polling, waiting = enrolled(guarded.server), enrolled(guarded.server)
        stop, statuses, long_poll = threading.Event(), list[int](), list[float]()
        threads = [
            threading.Thread(target=_kiosk_loop, args=(polling, stop, statuses)),
            threading.Thread(target=_long_poll, args=(waiting, long_poll)),
        ]
        for thread in threads:
            thread.start()
        head = b"GET /v1/feed?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 4000
        opened: dict[socket.socket, float] = {}
        trickled: dict[socket.socket, int] = {}
        try:
            for kind in ("stalled head", "trickled head", "stalled body"):
                for _ in range(SLOW_EACH):
                    sock = _connect(url)
                    opened[sock] = time.monotonic()
                    if kind == "stalled head":
                        sock.sendall(head[:40])
                    elif kind == "trickled head":
                        trickled[sock] = 0  # one more byte every 0.1 s: never a silent gap
                    else:
                        sock.sendall(
                            b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            b"Content-Length: 1000\r\n\r\n" + b"[" * 10
                        )
            closed_after = _watch_until_closed(opened, trickled, head, timeout_s=15)
            threads[1].join(timeout=30)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            for sock in opened:
                sock.close()
            for kiosk in (polling, waiting):
                kiosk.session.close()
        still_open = len(opened) - len(closed_after)
        assert still_open == 0, f"{still_open} of {len(opened)} slow connections still open"
        assert min(closed_after.values()) >= 0.95  # by the timeouts, not by something else
        assert long_poll[0] == 200 and long_poll[1] >= 3, long_poll  # not cut by a timer
        assert len(statuses) >= 10 and set(statuses) == {200}, statuses
        _wait_for("the server to hold only the kiosks' connections",
                  lambda: guarded.open_connections <= 2)  # fmt: skip


def _watch_until_closed(
    opened: dict[socket.socket, float],
    trickled: dict[socket.socket, int],
    head: bytes,
    *,
    timeout_s: float,
) -> dict[socket.socket, float]:
    """Trickle the head bytes and note when the server closes each connection (seconds after
    it was opened)."""
    closed: dict[socket.socket, float] = {}
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        for sock in opened:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        next_trickle = time.monotonic()
        while len(closed) < len(opened) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.05):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                with suppress(BlockingIOError):
                    try:
                        data = ready.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    assert data == b"", f"a slow connection got an answer: {data!r}"
                    closed[ready] = time.monotonic() - opened[ready]
                    selector.unregister(ready)
            if time.monotonic() >= next_trickle:
                next_trickle += 0.1
                for sock, sent in trickled.items():
                    if sock not in closed:
                        with suppress(OSError):
                            sock.send(head[sent : sent + 1])
                            trickled[sock] = sent + 1
    return closed


def test_the_connections_of_one_address_are_capped(tmp_path: Path) -> None:
    limits = ConnectionLimits(header_timeout_s=60, body_timeout_s=60, max_connections_per_address=3)
    with guarded_server(tmp_path, limits) as guarded:
        url = guarded.server.base_url
        held = [_connect(url) for _ in range(3)]
        try:
            _wait_for("three connections", lambda: guarded.open_connections == 3)
            with _connect(url) as fourth:
                assert _until_closed(fourth, timeout_s=5) == b""  # closed at once, unread
            held.pop().close()
            _wait_for("two connections", lambda: guarded.open_connections == 2)
            with _connect(url) as again:
                again.sendall(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert _read_answer(again).status == 404
        finally:
            for sock in held:
                sock.close()


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),  # the same /64
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 on a dual-stack socket
        ("not-an-address", "not-an-address"),
    ],
)
def test_connections_are_counted_per_ipv4_address_and_per_ipv6_64(peer: str, key: str) -> None:
    """One IPv6 host commonly holds a whole /64: counting single IPv6 addresses caps nothing."""
    assert address_key(peer) == key


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 17000 + b"\r\n\r\n",  # > 16 KiB
        b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n"
        b"Content-Length: 2\r\n\r\n{}",
    ],
    ids=["no-colon", "head-over-16-kib", "two-lengths"],
)
def test_a_request_the_parser_refuses_gets_the_protocols_error_body(
    tmp_path: Path, head: bytes
) -> None:
    with (
        guarded_server(tmp_path, ConnectionLimits()) as guarded,
        _connect(guarded.server.base_url) as sock,
    ):
        sock.sendall(head)
        answer = _read_answer(sock)
        assert (answer.status, answer.code) == (400, "malformed")
        _until_closed(sock)


@pytest.mark.parametrize(
    "settings",
    [
        {"header_timeout_s": 0.0},
        {"body_timeout_s": -1.0},
        {"header_timeout_s": 3601.0},
        {"max_connections_per_address": -1},
    ],
)
def test_connection_limits_refuse_nonsense(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ConnectionLimits(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [
        ["--header-timeout-s", "0"],
        ["--body-timeout-s", "soon"],
        ["--max-connections-per-address", "-3"],
    ],
)
def test_serve_refuses_bad_edge_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--home", str(tmp_path), "serve", "--listen", "127.0.0.1:8700", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and argv[0] in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_the_served_command_applies_the_limits(tmp_path: Path) -> None:
    """``cedoka-district serve`` (the composition root, in its own process) closes silent
    connections after --header-timeout-s and caps one address: its descriptors come back."""
    home = tmp_path / "district"
    DistrictAdmin.init(home, name="Disdukcapil Kolaka Utara", code="74.08")
    port = _free_port()
    command = Path(sys.executable).with_name("cedoka-district")
    proc = subprocess.Popen(
        [str(command), "--home", str(home), "serve", "--listen", f"127.0.0.1:{port}",
         "--header-timeout-s", "1", "--max-connections-per-address", "40"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            with suppress(OSError), _connect(url, timeout_s=1) as probe:
                probe.sendall(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return _read_answer(probe).status == 404
            return False

        _wait_for("the server to answer", answers, timeout_s=30)
        baseline = _fds(proc.pid)
        slow = [_connect(url) for _ in range(45)]
        try:
            for sock in slow:
                with suppress(OSError):  # refused ones may be closed already
                    sock.sendall(b"GET /v1/feed HTTP/1.1\r\n")  # never finished
            for sock in slow[40:]:  # the cap: 40 from one address
                assert _until_closed(sock, timeout_s=5) == b""
            for sock in slow[:40]:  # the header timeout
                assert _until_closed(sock, timeout_s=10) == b""
            _wait_for("the descriptors to come back", lambda: _fds(proc.pid) <= baseline)
        finally:
            for sock in slow:
                sock.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
