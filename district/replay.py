"""The proof replay cache: each ``jti`` is accepted once within its lifetime.

In memory, for one server process (the SQLite deployment): a write per request into SQLite
made the long-poll path contend on the database's single writer lock (measured: thousands
of polls queued behind busy-waits). Several server instances need a shared cache (the
PostgreSQL issue: a table with a unique key, or Redis ``SET NX EX``) behind this interface.
"""

from __future__ import annotations

import heapq
import threading


class ReplayCache:
    """Remember ids until they expire; ``add`` is atomic check-and-insert."""

    def __init__(self, *, max_entries: int = 1_000_000) -> None:
        self._seen: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def add(self, jti: str, *, expires_s: int, now_s: int) -> bool:
        """Record ``jti``; False when it is already known (a replay)."""
        with self._lock:
            while self._expiry and self._expiry[0][0] < now_s:
                _, old = heapq.heappop(self._expiry)
                self._seen.pop(old, None)
            if jti in self._seen:
                return False
            if len(self._seen) >= self._max_entries:
                raise OverflowError("replay cache full")
            self._seen[jti] = expires_s
            heapq.heappush(self._expiry, (expires_s, jti))
            return True

    def __len__(self) -> int:
        return len(self._seen)
