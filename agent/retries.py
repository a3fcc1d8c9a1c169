"""Retry schedules of the sync service, one per key: when a job's blob may be asked for
again after a 404 or 410 (protocol 8.2, 15.1), when a sequence gap is re-asked (9.9).

Each schedule is a :class:`kiosk.backoff.Backoff` (exponential, capped, full jitter) plus
the time of its first failure and the earliest time of the next attempt, on the injected
clock and with the injected ``uniform``, so tests move time instead of sleeping. Kept in
memory: a restart starts every schedule afresh, which costs at most one early attempt per
key and restart (the spool holds the jobs and the feed position, so nothing is lost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kiosk.backoff import Backoff


@dataclass(frozen=True, slots=True)
class Schedule:
    """The failures of one key so far and when it may be tried again."""

    backoff: Backoff  # its ``failures`` counts the failures in a row
    first_failed_s: int  # when the first of them happened (local clock)
    next_at_s: float  # no attempt before this time (local clock)


class RetryBook:
    """Schedules by key. Not thread-safe: the sync thread owns it."""

    def __init__(
        self, *, initial_s: float, max_s: float, uniform: Callable[[float, float], float]
    ) -> None:
        self._start = Backoff(initial_s=initial_s, max_s=max_s)
        self._uniform = uniform
        self._schedules: dict[str, Schedule] = {}

    def get(self, key: str) -> Schedule | None:
        return self._schedules.get(key)

    def due(self, key: str, now_s: int) -> bool:
        """True when ``key`` has no schedule or its wait is over."""
        schedule = self._schedules.get(key)
        return schedule is None or now_s >= schedule.next_at_s

    def failed(self, key: str, now_s: int) -> Schedule:
        """Count one more failure of ``key`` at ``now_s``; the next attempt waits a
        jittered delay that doubles with every failure in a row, up to ``max_s``."""
        old = self._schedules.get(key)
        backoff = (self._start if old is None else old.backoff).failed()
        schedule = Schedule(
            backoff=backoff,
            first_failed_s=now_s if old is None else old.first_failed_s,
            next_at_s=now_s + backoff.delay_s(self._uniform),
        )
        self._schedules[key] = schedule
        return schedule

    def clear(self, key: str) -> None:
        """``key`` succeeded (or no longer needs trying): forget its schedule."""
        self._schedules.pop(key, None)

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget every schedule whose key is not in ``keys``."""
        wanted = set(keys)
        for key in [k for k in self._schedules if k not in wanted]:
            del self._schedules[key]
