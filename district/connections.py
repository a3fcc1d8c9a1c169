"""The district server's connection guard: uvicorn's h11 protocol with read timeouts and a
cap on the connections of one address (``run_server`` passes :func:`protocol_class` to
``uvicorn.Config(http=...)``).

uvicorn bounds only the idle time between two requests (``timeout_keep_alive``): a client
that sends part of a request head, or stops in the middle of a body, holds its connection
and a file descriptor for ever, and a thousand of them exhaust the server. Per connection:

* **head deadline** (``header_timeout_s``): the request head must be complete within this
  time of the connection's start, or of the first byte of a next request on a kept-alive
  connection. A deadline, not a gap: trickling one byte a second does not stretch it.
* **body timeout** (``body_timeout_s``): the longest silence while a request body arrives.
  While the server itself has paused reading (the application has not yet taken the last
  64 KiB), the wait is the server's and does not count.
* **cap per address** (``max_connections_per_address``, 0: none): the connections open at
  once from one IPv4 address or one IPv6 /64 (one IPv6 host commonly holds a whole /64).
  The one over the cap is closed at once, before anything is read. The address is the TCP
  peer: behind a reverse proxy every connection is the proxy's.

Neither timer runs while a request waits for its answer (a feed long-poll holds its
connection up to 60 s after its head is complete) or while the answer is sent. A TLS
handshake is bounded by asyncio (60 s) before this protocol sees the connection. h11 caps a
request head at 16 KiB. A request the parser refuses is answered with the protocol's error
body (400 ``malformed``, docs/protocol.md section 15.1), not uvicorn's plain text.

Timeouts are not logged one by one (an attack would flood the journal): at most one line a
minute, ``event=slow_clients_closed head=N body=M``; a refused address is logged once until
all its connections are gone.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from kiosk.feed import ErrorBody, error_body

log = logging.getLogger("cedoka.district.connections")
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 0.1, 3600.0
MAX_CONNECTIONS_CAP = 1_000_000
_IPV6_PREFIX = 64
_SUMMARY_EVERY_S = 60.0


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many connections one address may hold.

    Raises ValueError (from the constructor) for a value out of its range.
    """

    header_timeout_s: float = (
        20.0  # connection start (or a next request's first byte) → head complete
    )
    body_timeout_s: float = 20.0  # longest silence while a request body arrives
    max_connections_per_address: int = 256  # open at once per IPv4 address / IPv6 /64; 0: no cap

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s"):
            value = getattr(self, name)
            if not MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S:
                raise ValueError(
                    f"{name} must be {MIN_TIMEOUT_S}…{MAX_TIMEOUT_S:.0f} s, not {value}"
                )
        cap = self.max_connections_per_address
        if isinstance(cap, bool) or not 0 <= cap <= MAX_CONNECTIONS_CAP:
            raise ValueError(
                f"max_connections_per_address must be 0 (no cap)…{MAX_CONNECTIONS_CAP}, not {cap}"
            )


def address_key(host: str) -> str:
    """What the cap counts a peer as: its IPv4 address (also when written IPv4-mapped), the
    /64 of an IPv6 address, or the text itself when it is no IP address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((int(address), _IPV6_PREFIX), strict=False)
        return str(network)
    return str(address)


class _ServerTable:
    """The state shared by one server's connections (its event loop is the only user)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open: Counter[str] = Counter()
        self.refused_logged: set[str] = set()
        self.closed = Counter[str]()
        self.summary_at = 0.0

    def admit(self, key: str) -> bool:
        if self.open[key] >= self.cap:
            if key not in self.refused_logged:
                self.refused_logged.add(key)
                log.warning("event=connection_refused peer=%s reason=per_address_cap cap=%d",
                            key, self.cap)  # fmt: skip
            return False
        self.open[key] += 1
        return True

    def release(self, key: str) -> None:
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
            self.refused_logged.discard(key)

    def closed_slow(self, phase: str) -> None:
        self.closed[phase] += 1
        now = time.monotonic()
        if now >= self.summary_at:
            self.summary_at = now + _SUMMARY_EVERY_S
            log.warning("event=slow_clients_closed head=%d body=%d",
                        self.closed["head"], self.closed["body"])  # fmt: skip
            self.closed.clear()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the head deadline, the body timeout and the address cap.

    Use :func:`protocol_class`: it gives each server its own limits and table.
    """

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    table: ClassVar[_ServerTable] = _ServerTable(ConnectionLimits().max_connections_per_address)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.table.cap and self.client is not None:
            key = address_key(self.client[0])
            if not self.table.admit(key):
                self.transport.close()  # at once: nothing read, nothing answered
                return
            self._counted_as = key
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._counted_as is not None:
            self.table.release(self._counted_as)
            self._counted_as = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow(head_begun=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # a pipelined request already buffered has begun its head; else keep-alive rules
        self._follow(head_begun=bool(self.conn.trailing_data[0]))

    def send_400_response(self, msg: str) -> None:
        """The parser refused the request: the protocol's error body, then close."""
        body = error_body(ErrorBody("malformed", "request does not parse"))
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:  # an answer had already begun: only close
            pass
        self.transport.close()

    # --- the timers ---------------------------------------------------------------------

    def _follow(self, *, head_begun: bool) -> None:
        """Arm or cancel the timers for what the client is doing now."""
        state = self.conn.their_state
        if self.transport.is_closing():
            self._cancel_timers()
        elif state is h11.IDLE:  # waiting for a request head
            self._cancel_body_timer()
            if head_begun:
                self._arm_head_deadline()
        elif state is h11.SEND_BODY:
            self._cancel_head_deadline()
            self._restart_body_timer()
        else:  # the request is whole: it waits for its answer, or the connection ends
            self._cancel_timers()

    def _arm_head_deadline(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_late)

    def _restart_body_timer(self) -> None:
        self._cancel_body_timer()
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_silent)

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._close_slow("head")

    def _body_silent(self) -> None:
        self._body_timer = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server's own wait, not the client's silence
            self._restart_body_timer()
            return
        self._close_slow("body")

    def _close_slow(self, phase: str) -> None:
        self.table.closed_slow(phase)
        self.transport.close()

    def _cancel_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_deadline()
        self._cancel_body_timer()


def protocol_class(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """The protocol class for one server: ``limits`` and a table of its open connections."""
    chosen = limits

    class ServerProtocol(GuardedH11Protocol):
        limits = chosen
        table = _ServerTable(chosen.max_connections_per_address)

    return ServerProtocol
