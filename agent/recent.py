"""The agent's recent errors (reason codes and times only), for the heartbeat's
``last_errors`` and the screen's banner. In memory: a restart starts a fresh list."""

from __future__ import annotations

import threading
from collections import deque


class RecentErrors:
    def __init__(self, size: int = 10) -> None:
        self._items: deque[tuple[int, str]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def note(self, at_s: int, reason: str) -> None:
        with self._lock:
            if not self._items or self._items[-1][1] != reason:  # a repeat is one entry
                self._items.append((at_s, reason))

    def items(self) -> tuple[tuple[int, str], ...]:
        with self._lock:
            return tuple(self._items)
