"""Wake long-polling kiosks within tens of milliseconds of a change to their feed.

A push is written by another process (the command line, or another server process) straight
into the database, so the server cannot be told in-process. How it learns, incrementally
(ADR 0027):

- SQLite: it polls the store's ``data_version()`` (``PRAGMA data_version``, which changes
  only when another connection commits) every ``poll_s``; on a change it reads the rows
  ``feed_changes`` gained since its cursor (a trigger writes one per changed
  ``feed_version``) and wakes only those devices' waiters.
- PostgreSQL (``listen_url``): one connection of its own ``LISTEN``s on the store's
  channel; a trigger sends ``"<device_id> <feed_version>"`` at each commit that changes a
  feed (``"*"``: many changed, read them all). On every (re)connection it reads every
  device's version once, after ``LISTEN``, so nothing committed while it was away is missed.

Either way it keeps each device's newest version seen, so a waiter that registers just
after its change was processed is answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from district.store import DistrictStore

log = logging.getLogger("cedoka.district.notifier")
APPLICATION_NAME = "cedoka-notifier"  # the LISTEN connection, in pg_stat_activity
RECONNECT_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # the waits between LISTEN connection attempts


class FeedNotifier:
    """Per-device wake-ups for the long-poll."""

    def __init__(
        self, store: DistrictStore, *, poll_s: float = 0.02, listen_url: str | None = None
    ) -> None:
        """``listen_url``: the store's PostgreSQL URL, to be told of changes by ``NOTIFY``
        (None: poll the SQLite store)."""
        self._store = store
        self._poll_s = poll_s
        self._listen_url = listen_url
        self._waiters: dict[str, list[tuple[asyncio.Event, int]]] = {}
        self._versions: dict[str, int] = {}  # the newest version seen of each device
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.changed_at = 0.0  # time.monotonic() when the last change was seen

    @property
    def closing(self) -> bool:
        """True once :meth:`release_all` was called (the server is shutting down)."""
        return self._closing

    def release_all(self) -> None:
        """The server is shutting down: end every long-poll now (the HTTP layer answers
        each 503 with a short Retry-After) and every later one at once, so connections
        drain in milliseconds, not after the graceful-shutdown timeout. Call it on the event
        loop's thread."""
        self._closing = True
        for waiters in self._waiters.values():
            for event, _ in waiters:
                event.set()

    def start(self) -> None:
        if self._task is None:
            run = self._listen() if self._listen_url is not None else self._poll()
            self._task = asyncio.get_running_loop().create_task(run)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def waiting(self) -> int:
        """How many requests are waiting now (for health and benchmarks)."""
        return sum(len(w) for w in self._waiters.values())

    async def wait(self, device_id: str, seen_version: int, *, timeout_s: float) -> bool:
        """Wait until the device's feed version differs from ``seen_version``; False on
        timeout."""
        event = asyncio.Event()
        entry = (event, seen_version)
        self._waiters.setdefault(device_id, []).append(entry)
        known = self._versions.get(device_id)
        if self._closing or (known is not None and known != seen_version):
            # A change committed between the caller's read and this registration was
            # already processed: without this check it would sleep through it.
            event.set()
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(device_id, [])
            if entry in waiters:
                waiters.remove(entry)
            if not waiters:
                self._waiters.pop(device_id, None)

    # --- SQLite: data_version, then the new rows of feed_changes ----------------------------
    async def _poll(self) -> None:
        last, cursor = -1, -1
        while True:
            try:
                current = self._store.data_version()
                if current != last:
                    last = current
                    changes = self._store.feed_changes(cursor)
                    cursor = changes.cursor
                    self._apply(changes.versions, complete=changes.complete)
            except Exception:  # the loop must survive a locked or briefly missing database
                log.exception("event=notifier_poll_failed")
            await asyncio.sleep(self._poll_s)

    # --- PostgreSQL: LISTEN/NOTIFY --------------------------------------------------------
    async def _listen(self) -> None:
        import psycopg

        from district.pg_db import redact
        from district.pg_store import NOTIFY_CHANNEL

        assert self._listen_url is not None
        failures = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._listen_url, autocommit=True, connect_timeout=10,
                    application_name=APPLICATION_NAME,
                )  # fmt: skip
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    # after LISTEN: a change committed from now on is also notified
                    rows = await (await conn.execute("SELECT device_id, feed_version "
                                                     "FROM devices")).fetchall()  # fmt: skip
                    self._apply({str(d): int(v) for d, v in rows}, complete=True)
                    if failures:
                        log.info("event=notifier_listening again=1")
                    failures = 0
                    async for note in conn.notifies():
                        self._note(note.payload)
            except Exception as error:  # a lost connection, a restarting server: again
                wait_s = RECONNECT_S[min(failures, len(RECONNECT_S) - 1)]
                failures += 1
                log.warning("event=notifier_listen_failed db=%s error=%s retry_s=%.1f",
                            redact(self._listen_url), type(error).__name__, wait_s)  # fmt: skip
                await asyncio.sleep(wait_s)

    def _note(self, payload: str) -> None:
        if payload == "*":  # many feeds changed at once (a new keyring): read them all
            self._apply(self._store.feed_versions(), complete=True)
            return
        device_id, _, version = payload.partition(" ")
        try:
            self._apply({device_id: int(version)}, complete=False)
        except ValueError:
            log.warning("event=notifier_bad_payload")

    # --- both -------------------------------------------------------------------------------
    def _apply(self, versions: dict[str, int], *, complete: bool) -> None:
        """Take newer versions in and wake the waiters whose version moved (every waiter
        when ``versions`` is complete, else only those of the devices in it)."""
        if not versions and not complete:
            return
        self.changed_at = time.monotonic()
        known = self._versions
        for device_id, version in versions.items():
            if version > known.get(device_id, -1):  # a late, older notice changes nothing
                known[device_id] = version
        devices = self._waiters.keys() if complete else versions.keys() & self._waiters.keys()
        for device_id in list(devices):
            version_now = known.get(device_id)
            for event, seen in self._waiters.get(device_id, ()):
                if version_now != seen:
                    event.set()
