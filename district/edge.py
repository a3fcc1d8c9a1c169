"""The district server's edge: two pure ASGI middlewares (``build_app`` installs them around
every route): :class:`RequestLog`, outermost, logs one line per request; inside it
:class:`RequestFraming` checks the framing. Pure ASGI (no Starlette ``BaseHTTPMiddleware``):
no extra task, queue or response object per request.

Before any route runs:

* a request with both ``Content-Length`` and ``Transfer-Encoding`` is answered 400
  ``malformed`` and its connection closed: the two framings disagree, a proxy in front may
  have framed it by the other one, and the bytes after the body must never run as a request
  of their own (request smuggling; RFC 9112 section 6.1 lets a server refuse it);
* a declared ``Content-Length`` above the cap is answered 413 ``too_large`` at once;
* a request head over 16 KiB (target and headers) is answered 400 ``malformed``: h11 caps
  only the part of a head it has to wait for, so a head that arrives in one read could be
  as long as that read (256 KiB);
* a request target holding a NUL byte (``%00``) is answered 400 ``malformed``: no identifier
  or filter value of the protocol or the admin API can hold one, and PostgreSQL cannot even
  be asked for it (a text value with NUL is an error there, not a miss).

While a route reads the body, its bytes are counted as each ``http.request`` message
arrives; the message that passes the cap raises :class:`~kiosk.errors.WireError`
(``too_large``), which the application answers 413, and nothing more is read. A chunked body
therefore costs at most the cap plus one read (uvicorn pauses the socket at 64 KiB) however
long it is.

Invariant: an answer that starts before the request's body has ended carries
``Connection: close``, so the server closes the connection after it instead of reading and
discarding the rest (a 413, or a route that reads no body, such as the feed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiosk.errors import Reason, WireError
from kiosk.feed import ErrorBody, error_body

_CLOSE = (b"connection", b"close")
MAX_HEAD_BYTES = 16 * 1024  # request target and header fields (h11's own bound on a partial head)


@dataclass(frozen=True)
class Refusal:
    """An answer given at the edge, before the application sees the request."""

    status: int
    code: str
    message: str


def framing_refusal(
    target: bytes, headers: list[tuple[bytes, bytes]], *, max_body_bytes: int
) -> Refusal | None:
    """The refusal of a request head (names in lower case, as ASGI gives them), or None."""
    if len(target) + sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEAD_BYTES:
        return Refusal(400, "malformed", "request head too large")
    if b"%00" in target or b"\x00" in target:
        return Refusal(400, "malformed", "NUL in the request target")
    names = {name for name, _ in headers}
    if b"content-length" in names and b"transfer-encoding" in names:
        return Refusal(400, "malformed", "Content-Length and Transfer-Encoding together")
    declared = next((value for name, value in headers if name == b"content-length"), None)
    if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
        return Refusal(413, "too_large", "request body too large")
    return None


def _body_expected(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class RequestFraming:
    """The ASGI middleware: framing refused at the head, the body counted as it arrives."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 larger: Mapping[tuple[str, str], int] | None = None) -> None:  # fmt: skip
        """``larger``: (method, path) -> a larger cap for that route alone (the admin API's
        document upload)."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        target = bytes(scope.get("raw_path") or b"") + b"?" + bytes(scope["query_string"])
        cap = self.larger.get((scope["method"], scope["path"]), self.max_body_bytes)
        refusal = framing_refusal(target, headers, max_body_bytes=cap)
        if refusal is not None:
            await _answer(send, refusal)
            return
        body = _CountedBody(receive, cap, ended=not _body_expected(headers))

        async def send_closing_early(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.ended:
                message = {**message, "headers": _with_close(message.get("headers", []))}
            await send(message)

        await self.app(scope, body.receive, send_closing_early)


class RequestLog:
    """One log line per request, as its answer starts (or when the route failed with no
    answer): ``event=request method=… path=… status=… device=… ms=…``, ``ms`` the time to
    the answer's start. ``device`` is what the route left in the request state
    (``request.state.device_id``), else ``-``."""

    def __init__(self, app: ASGIApp, *, logger: logging.Logger) -> None:
        self.app = app
        self.log = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        logged = False

        def line(status: int) -> None:
            nonlocal logged
            logged = True
            state = scope.get("state") or {}
            self.log.info(
                "event=request method=%s path=%s status=%d device=%s ms=%.1f",
                scope["method"], scope["path"], status, state.get("device_id", "-"),
                (time.perf_counter() - started) * 1000,
            )  # fmt: skip

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start" and not logged:
                line(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            if not logged:
                line(500)


class _CountedBody:
    """``receive`` with a running count of the body bytes."""

    def __init__(self, receive: Receive, max_bytes: int, *, ended: bool) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.count = 0
        self.ended = ended

    async def receive(self) -> Message:
        """The next message; raises WireError (``too_large``) once the count passes the cap."""
        message = await self._receive()
        if message["type"] == "http.request":
            self.count += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.ended = True
            if self.count > self.max_bytes:
                raise WireError(Reason.TOO_LARGE, f"request body over {self.max_bytes} bytes")
        elif message["type"] == "http.disconnect":
            self.ended = True
        return message


def _with_close(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"connection"]
    return [*kept, _CLOSE]


async def _answer(send: Send, refusal: Refusal) -> None:
    body = error_body(ErrorBody(refusal.code, refusal.message, None))
    await send({
        "type": "http.response.start", "status": refusal.status,
        "headers": [(b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), _CLOSE],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
