"""The proof replay cache: each ``jti`` is accepted once within its lifetime.

In memory, for one server process (the SQLite deployment): a write per request into SQLite
made the long-poll path contend on the database's single writer lock (measured: thousands
of polls queued behind busy-waits). Server processes on one PostgreSQL database share
:class:`district.pg_shared.PgReplayCache` instead, behind the same :class:`ProofReplays`
interface (ADR 0027).

A cache in memory is lost when the process ends, so it says since when it holds every
proof it accepted (``since_s``; protocol section 5.2: a proof with ``iat`` earlier than
``since_s`` + 60 s is refused, as one the lost cache may have held). A clean stop hands the
cache to the next start through a state file in the district's home (``save_replay_cache``
then ``open_replay_cache``): no outage on a restart or an upgrade. After a crash the state
file still says "open", and the next start holds everything only from its own next second.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
from pathlib import Path
from typing import Protocol

from cedoka_io.files import write_atomic

log = logging.getLogger("cedoka.district")
STATE_FILE = "proof-replay.json"  # in the district's home
_MAX_STATE_BYTES = 256 * 1024 * 1024


class ProofReplays(Protocol):
    """A replay cache as :class:`district.service.DistrictService` uses it."""

    @property
    def since_s(self) -> int | None: ...  # it holds every proof accepted from then on

    def add(self, jti: str, *, expires_s: int, now_s: int) -> bool: ...


class ReplayCache:
    """Remember ids until they expire; ``add`` is atomic check-and-insert.

    ``since_s``: every proof accepted from this second on is in the cache (None: every
    proof ever accepted, e.g. in a home where no server ran before).
    """

    def __init__(self, *, max_entries: int = 1_000_000, since_s: int | None = None) -> None:
        self._seen: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._closed = False
        self.since_s = since_s

    def add(self, jti: str, *, expires_s: int, now_s: int) -> bool:
        """Record ``jti``; False when it is already known (a replay), or when the cache was
        closed (its contents were handed over: it can vouch for nothing new).

        Raises:
            OverflowError: the cache holds ``max_entries`` live ids.
        """
        with self._lock:
            if self._closed:
                return False
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

    def close(self) -> dict[str, int]:
        """Stop accepting ids; return the ids held, each with its expiry."""
        with self._lock:
            self._closed = True
            return dict(self._seen)

    def __len__(self) -> int:
        return len(self._seen)


def open_replay_cache(path: Path, *, now_s: int, max_entries: int = 1_000_000) -> ReplayCache:
    """The cache for a server starting now: the one the last clean stop saved in ``path``,
    else (a crash, or an unreadable file) an empty one that holds everything from the next
    second on; an empty one holding everything if ``path`` never existed (no server ran
    in this home before). Marks ``path`` "open" until :func:`save_replay_cache`.

    Raises:
        OSError: ``path`` cannot be written.
    """
    cache = ReplayCache(max_entries=max_entries, since_s=now_s + 1)
    try:
        text = path.read_bytes()[:_MAX_STATE_BYTES]
    except FileNotFoundError:
        cache.since_s = None
    else:
        saved = _saved_state(text)
        if saved is None:
            log.warning("event=replay_cache_lost action=refuse_older_proofs window_s=60")
        else:
            cache.since_s = saved[0]
            for jti, expires_s in saved[1].items():
                if expires_s >= now_s:
                    cache.add(jti, expires_s=expires_s, now_s=now_s)
    _write(path, {"v": 1, "state": "open"})
    return cache


def save_replay_cache(path: Path, cache: ReplayCache) -> None:
    """Close ``cache`` and save it for the next start (call once the server stopped).

    Raises:
        OSError: ``path`` cannot be written.
    """
    seen = cache.close()
    _write(path, {"v": 1, "state": "closed", "since_s": cache.since_s, "seen": seen})


def _saved_state(text: bytes) -> tuple[int | None, dict[str, int]] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("v") != 1 or value.get("state") != "closed":
        return None
    since, seen = value.get("since_s"), value.get("seen")
    if not (since is None or type(since) is int) or not isinstance(seen, dict):
        return None
    if not all(isinstance(k, str) and type(v) is int for k, v in seen.items()):
        return None
    return since, seen


def _write(path: Path, value: object) -> None:
    """Atomically, durably, mode 0600 (:func:`cedoka_io.files.write_atomic`)."""
    write_atomic(path, json.dumps(value, separators=(",", ":")).encode())
