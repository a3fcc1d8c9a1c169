"""The service loops' wait after a failed request (protocol §15.3).

A **network failure** — the request never got an HTTP answer: the name did not resolve, the
connection was refused, reset or timed out, the network was unreachable, a body was cut
short, the overall deadline passed (:data:`NETWORK_FAILURES`) — waits at most
:data:`NETWORK_BACKOFF_MAX_S` (60 s) whatever ``backoff_max_s`` says: a village link that
comes back after an hour-long outage must not leave the kiosk idle for five more minutes.
While it waits, the agent opens a TCP connection to the district's host and port about once
a second (:data:`PROBE_INTERVAL_S`; closed at once, no byte of payload sent): the first one
that connects ends the wait, and the loop retries at once. Every other failure (a 5xx, a
429, a TLS or captive-portal failure, a refusal) waits as configured, with no probe: the
district answered, so the link is up and the wait is the district's or the configuration's.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from agent.client import LinkKind

log = logging.getLogger("cedoka.agent.link")

NETWORK_FAILURES = frozenset(
    {
        LinkKind.DNS,
        LinkKind.REFUSED,
        LinkKind.RESET,
        LinkKind.TIMEOUT,
        LinkKind.NETWORK,
        LinkKind.TRUNCATED,
        LinkKind.DEADLINE,
    }
)
NETWORK_BACKOFF_MAX_S = 60.0
PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 1.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_network_failure(error: BaseException | None) -> bool:
    """Whether ``error`` is a request that got no HTTP answer at all."""
    return getattr(error, "kind", None) in NETWORK_FAILURES


class LinkProbe:
    """Asks whether the district's host and port accept a TCP connection again."""

    def __init__(
        self, server_url: str, *, timeout_s: float = PROBE_TIMEOUT_S,
        connect: Callable[[tuple[str, int], float], socket.socket] = socket.create_connection,
    ) -> None:  # fmt: skip
        parts = urlsplit(server_url)
        self._address: tuple[str, int] | None = None
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        if parts.hostname and port:
            self._address = (parts.hostname, port)
        self._timeout_s, self._connect = timeout_s, connect

    def answers(self) -> bool:
        """True when a TCP connection to the district opens now (DNS included)."""
        if self._address is None:
            return False
        try:
            self._connect(self._address, self._timeout_s).close()
        except (OSError, UnicodeError):
            return False
        return True

    def wait(self, stop: threading.Event, delay_s: float) -> bool:
        """Wait ``delay_s`` seconds, or until ``stop`` is set, or until the district's port
        accepts a connection (probed every :data:`PROBE_INTERVAL_S`); True when the link
        came back before the wait was over."""
        deadline = time.monotonic() + delay_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or stop.wait(min(PROBE_INTERVAL_S, left)):
                return False
            if deadline - time.monotonic() <= 0:
                return False
            if self.answers():
                log.info("event=link_back waited_s=%.1f", delay_s - (deadline - time.monotonic()))
                return True
