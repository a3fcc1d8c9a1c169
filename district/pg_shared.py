"""What several server processes on one PostgreSQL database must share (ADR 0027): the
proof replay cache and the rate limits, in tables of :mod:`district.pg_store`'s schema 5.

- :class:`PgReplayCache`: ``proof_replays`` with ``jti`` as its primary key; ``add`` is one
  ``INSERT … ON CONFLICT`` (atomic check-and-insert across processes), committed before the
  request goes on, so no process's crash loses an accepted proof: ``since_s`` is None (it
  holds every proof ever accepted) and no state file is handed over. Expired rows are
  deleted in batches, at most every :data:`PRUNE_INTERVAL_S` per process.
- :class:`PgRateLimiter`: ``rate_hits``, one row per counted hit, the same sliding minute
  as :class:`district.ratelimit.RateLimiter`; one key's check and insert run under a
  transaction-level advisory lock on the key, so two processes never both let the
  ``per_minute``-th + 1 hit through.
"""

from __future__ import annotations

import threading
import time

from district.pg_db import PgDatabase, pg_errors_as
from district.ratelimit import WINDOW_S
from kiosk.errors import RateLimitedError, StoreError

PRUNE_INTERVAL_S = 10.0
PRUNE_BATCH = 5000


class _Pruner:
    """Runs ``prune`` at most once per interval, from whichever thread comes first."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                return False
            self._next = now + self._interval_s
            return True


@pg_errors_as(StoreError)
class PgReplayCache:
    """The replay cache of :mod:`district.replay`, shared through PostgreSQL."""

    since_s: int | None = None  # every accepted proof is committed: nothing is ever lost

    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        self._pruner = _Pruner(PRUNE_INTERVAL_S)

    def add(self, jti: str, *, expires_s: int, now_s: int) -> bool:
        """Record ``jti``; False when another request (in any process) recorded it and it
        has not expired. Atomic: of two racing requests exactly one gets True."""
        if self._pruner.due():
            self.prune(now_s=now_s)
        with self._db.write() as conn:
            return (
                conn.execute(
                    "INSERT INTO proof_replays (jti, expires_s) VALUES (%s, %s) "
                    "ON CONFLICT (jti) DO UPDATE SET expires_s = excluded.expires_s "
                    "WHERE proof_replays.expires_s < %s",
                    (jti, expires_s, now_s),
                ).rowcount
                == 1
            )

    def prune(self, *, now_s: int) -> int:
        """Delete expired ids, in batches of :data:`PRUNE_BATCH`; return how many."""
        total = 0
        while True:
            with self._db.write() as conn:
                deleted = conn.execute(
                    "DELETE FROM proof_replays WHERE jti IN (SELECT jti FROM proof_replays "
                    "WHERE expires_s < %s LIMIT %s FOR UPDATE SKIP LOCKED)",
                    (now_s, PRUNE_BATCH),
                ).rowcount
            total += deleted
            if deleted < PRUNE_BATCH:
                return total

    def __len__(self) -> int:
        row = self._db.connection().execute("SELECT count(*) FROM proof_replays").fetchone()
        return 0 if row is None else int(row[0])


@pg_errors_as(StoreError)
class PgRateLimiter:
    """At most ``per_minute`` hits per key in any 60 s, counted by every process."""

    def __init__(self, db: PgDatabase, scope: str, *, per_minute: int) -> None:
        self._db, self._scope, self._per_minute = db, scope, per_minute
        self._pruner = _Pruner(WINDOW_S)

    def hit(self, key: str, *, now_s: float) -> None:
        """Count one hit for ``key`` at ``now_s`` (Unix seconds).

        Raises:
            RateLimitedError: ``key`` had ``per_minute`` hits in the last 60 s (this one is
                not counted), with the seconds until the oldest leaves the window.
            StoreError: the database failed.
        """
        full = f"{self._scope}:{key}"
        if self._pruner.due():  # keys never hit again: their rows go within a minute
            with self._db.write() as conn:
                conn.execute("DELETE FROM rate_hits WHERE at_s <= %s", (now_s - WINDOW_S,))
        with self._db.write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (full,))
            conn.execute(
                "DELETE FROM rate_hits WHERE key = %s AND at_s <= %s", (full, now_s - WINDOW_S)
            )
            row = conn.execute(
                "SELECT count(*), min(at_s) FROM rate_hits WHERE key = %s", (full,)
            ).fetchone()
            count, oldest = (0, None) if row is None else (int(row[0]), row[1])
            if count >= self._per_minute and oldest is not None:
                raise RateLimitedError(int(float(oldest) + WINDOW_S - now_s) + 1)
            conn.execute("INSERT INTO rate_hits (key, at_s) VALUES (%s, %s)", (full, now_s))
