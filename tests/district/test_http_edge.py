"""The district server's HTTP edge, attacked over raw sockets on 127.0.0.1 (issue 14, items 8
and 9): request bodies are counted while they arrive, a request with both Content-Length and
Transfer-Encoding is refused and nothing after it runs, slow clients are closed and the
connections of one address are capped, while a real enrolled kiosk keeps being served."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from district.http import MAX_BODY_BYTES
from tests.district.conftest import Server

OFFICE = "74.08.01.2002"
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
