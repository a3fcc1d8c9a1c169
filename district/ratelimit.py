"""A sliding one-minute rate limit per key, in a table of bounded size.

Used for enrolment attempts (per client address and per ``code_id``). The table never
grows past ``max_keys``: windows older than a minute are dropped as they are met, and when
the table is full the key seen least recently is forgotten, so a flood of new keys costs
memory in proportion to ``max_keys``, not to the flood. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Protocol

from kiosk.errors import RateLimitedError

WINDOW_S = 60


class Limiter(Protocol):
    """A rate limit: this in-process one, or one shared by several server processes
    (:class:`district.pg_shared.PgRateLimiter`, ADR 0027)."""

    def hit(self, key: str, *, now_s: float) -> None: ...  # raises RateLimitedError


class RateLimiter:
    """At most ``per_minute`` hits per key in any 60 s."""

    def __init__(self, *, per_minute: int, max_keys: int = 100_000) -> None:
        self._per_minute = per_minute
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()  # least recently hit first
        self._lock = threading.Lock()

    def hit(self, key: str, *, now_s: float) -> None:
        """Count one hit for ``key`` at ``now_s`` (Unix seconds).

        Raises:
            RateLimitedError: ``key`` had ``per_minute`` hits in the last 60 s (this one is
                not counted); ``retry_after_s`` says when the oldest of them leaves the window.
        """
        with self._lock:
            self._forget_old(now_s)
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now_s - WINDOW_S:
                hits.popleft()
            self._hits[key] = hits  # now the most recently hit
            if len(hits) >= self._per_minute:
                raise RateLimitedError(int(hits[0] + WINDOW_S - now_s) + 1)
            hits.append(now_s)
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)

    def _forget_old(self, now_s: float) -> None:
        """Drop the keys whose last hit left the window (they are at the front)."""
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > now_s - WINDOW_S:
                return
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)
