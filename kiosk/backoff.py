"""Retry backoff: exponential, capped, with full jitter (docs/protocol.md section 15.3).

An immutable value object: ``failed()`` and ``succeeded()`` return a new ``Backoff``, and
``delay_s`` draws the wait from an injected ``uniform`` (e.g. ``random.uniform``), so the
core never reads a clock or a random source and tests never sleep::

    backoff = Backoff(initial_s=1.0, max_s=300.0)
    try:
        fetch()
        backoff = backoff.succeeded()
    except TransportError as error:
        backoff = backoff.failed()
        sleep(backoff.delay_s(random.uniform, retry_after_s=error.retry_after_s))

Before attempt *n* (``failures`` = *n* ≥ 1) the wait is uniform in
[0, min(``max_s``, ``initial_s`` * 2**(*n* - 1))] (``cap_s``, when given, lowers the cap for
this one wait: the agent's 60 s for a network failure); a server's ``Retry-After`` is a lower
bound on it. No failure yet (``failures`` = 0) means no wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

# 2**63 times the smallest configurable initial delay (0.1 s) is far beyond any cap, so
# counting further changes nothing; the cap keeps 2**(failures - 1) a small float.
MAX_COUNTED_FAILURES = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before the next attempt, after ``failures`` failures in a row."""

    initial_s: float
    max_s: float
    failures: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s > 0):
            raise ValueError("initial_s must be a positive number")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            raise ValueError("max_s must be a number not below initial_s")
        if not 0 <= self.failures <= MAX_COUNTED_FAILURES:
            raise ValueError(f"failures must be 0..{MAX_COUNTED_FAILURES}")

    @property
    def ceiling_s(self) -> float:
        """The upper end of the jitter range: 0 before any failure."""
        if self.failures == 0:
            return 0.0
        return min(self.max_s, self.initial_s * 2.0 ** (self.failures - 1))

    def delay_s(
        self, uniform: Callable[[float, float], float], retry_after_s: float | None = None,
        *, cap_s: float | None = None,
    ) -> float:  # fmt: skip
        """The wait before the next attempt, in seconds (full jitter).

        ``uniform(a, b)`` returns a number in [a, b] (``random.uniform``); it is not
        called when there is nothing to draw. ``retry_after_s`` (the server's
        ``Retry-After`` or ``error.retry_after_s``) is a lower bound on the result;
        ``cap_s`` lowers the ceiling for this wait (it never raises it).
        """
        ceiling = self.ceiling_s if cap_s is None else min(self.ceiling_s, cap_s)
        jittered = uniform(0.0, ceiling) if ceiling > 0 else 0.0
        if retry_after_s is None:
            return jittered
        return max(jittered, retry_after_s)

    def failed(self) -> Backoff:
        """One more failure in a row (the count stops at ``MAX_COUNTED_FAILURES``)."""
        return replace(self, failures=min(self.failures + 1, MAX_COUNTED_FAILURES))

    def succeeded(self) -> Backoff:
        """A success resets the count: the next failure waits at most ``initial_s``."""
        return replace(self, failures=0)
