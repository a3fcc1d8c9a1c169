"""Wake long-polling kiosks within tens of milliseconds of a change to their feed.

A push is written by another process (the command line) straight into the database, so the
server cannot be told in-process. It polls the store's ``data_version()`` (SQLite's
``PRAGMA data_version``, which changes only when another connection commits; on PostgreSQL
the devices' summed feed versions, ADR 0026) every ``poll_s`` and, on a change, reads each
device's ``feed_version`` and wakes the waiters whose version moved. LISTEN/NOTIFY can
replace the poll on PostgreSQL behind the same ``wait`` interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from district.store import DistrictStore

log = logging.getLogger("cedoka.district.notifier")


class FeedNotifier:
    """Per-device wake-ups for the long-poll."""

    def __init__(self, store: DistrictStore, *, poll_s: float = 0.02) -> None:
        self._store = store
        self._poll_s = poll_s
        self._waiters: dict[str, list[tuple[asyncio.Event, int]]] = {}
        self._versions: dict[str, int] = {}  # as of the last change seen
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.changed_at = 0.0  # time.monotonic() when the last change was seen

    @property
    def closing(self) -> bool:
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
            self._task = asyncio.get_running_loop().create_task(self._run())

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

    async def _run(self) -> None:
        last = -1
        while True:
            try:
                current = self._store.data_version()
                if current != last:
                    last = current
                    self.changed_at = time.monotonic()
                    self._versions = self._store.feed_versions()
                    self._wake(self._versions)
            except Exception:  # the loop must survive a locked or briefly missing database
                log.exception("event=notifier_poll_failed")
            await asyncio.sleep(self._poll_s)

    def _wake(self, versions: dict[str, int]) -> None:
        for device_id, waiters in self._waiters.items():
            version = versions.get(device_id)
            for event, seen in waiters:
                if version != seen:
                    event.set()
