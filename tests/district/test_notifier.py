"""The incremental notifier (ADR 0027) on both stores: SQLite's ``feed_changes`` rows
(written by a trigger, read from a cursor, a full read when the cursor fell behind) and
PostgreSQL's LISTEN/NOTIFY (one device per notice, ``*`` for many, a catch-up read after a
lost connection). A waiter wakes when its own device's feed moves, not for another's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from district.keyring import open_store
from district.notifier import APPLICATION_NAME, FeedNotifier
from district.pg_store import NOTIFY_EACH_MAX
from district.sqlite_store import FEED_CHANGES_KEPT
from district.store import DeviceRow, DistrictStore, EnrollCodeRow, OfficeRow

OFFICE = "74.08.01.2002"
STORES = ("sqlite", "postgresql")  # every test using db_url runs on both (conftest)


def _add_devices(store: DistrictStore, count: int, prefix: str = "dev_") -> list[str]:
    ids = []
    for n in range(count):
        code, device_id = f"code{prefix}{n}", f"{prefix}{n:04d}"
        store.add_enroll_code(EnrollCodeRow(code, "s", OFFICE, 1, 10**10, None, None, None))
        device = DeviceRow(device_id, OFFICE, "{}", "{}", 1, None, 0, 0, None, "cedoka/0.1", None)
        assert store.consume_enroll_code(code, device=device, nonce="n", digest="d",
                                         response=b"r", at_s=2)  # fmt: skip
        ids.append(device_id)
    return ids


@pytest.fixture
def stores(tmp_path: Path, db_url: str | None) -> Iterator[tuple[DistrictStore, DistrictStore]]:
    """Two stores on one database: the server's (read by the notifier) and a writer's (the
    command line, another server process)."""
    writer = open_store(tmp_path, db_url)  # the home: its district.sqlite
    writer.add_office(OfficeRow(OFFICE, "Desa Pitulua", 1))
    reader = open_store(tmp_path, db_url)
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()


T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: once a console test has started Playwright's
    session-wide sync API, this thread counts as running an event loop for the rest of the
    session, and ``asyncio.run`` here would refuse."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _bump(store: DistrictStore, device_id: str) -> None:
    assert store.revoke_device(device_id, at_s=5)  # a feed change like any other


async def _settle(notifier: FeedNotifier) -> None:
    """Let the notifier take its first full read (and LISTEN)."""
    deadline = time.monotonic() + 10
    while notifier.changed_at == 0.0:
        assert time.monotonic() < deadline, "the notifier never read the versions"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)


def _notifier(reader: DistrictStore, db_url: str | None) -> FeedNotifier:
    return FeedNotifier(reader, listen_url=db_url)


def test_a_waiter_wakes_for_its_own_device_only(
    stores: tuple[DistrictStore, DistrictStore], db_url: str | None
) -> None:
    reader, writer = stores
    mine, other = _add_devices(writer, 2)

    async def run() -> tuple[bool, bool, float]:
        notifier = _notifier(reader, db_url)
        notifier.start()
        try:
            await _settle(notifier)
            waiting = asyncio.create_task(notifier.wait(mine, 0, timeout_s=5))
            await asyncio.sleep(0.05)
            await asyncio.to_thread(_bump, writer, other)
            await asyncio.sleep(0.3)
            early = waiting.done()
            started = time.monotonic()
            await asyncio.to_thread(_bump, writer, mine)
            woken = await waiting
            return early, woken, time.monotonic() - started
        finally:
            await notifier.stop()

    early, woken, latency_s = _run(run())
    print(f"{'sqlite' if db_url is None else 'postgresql'}: woken {latency_s * 1000:.1f} ms "
          "after the change was committed by another connection")  # fmt: skip
    assert not early, "woken by another device's change"
    assert woken and latency_s < 0.5, latency_s


def test_a_change_processed_before_the_wait_is_not_slept_through(
    stores: tuple[DistrictStore, DistrictStore], db_url: str | None
) -> None:
    reader, writer = stores
    (device,) = _add_devices(writer, 1)

    async def run() -> bool:
        notifier = _notifier(reader, db_url)
        notifier.start()
        try:
            await _settle(notifier)
            await asyncio.to_thread(_bump, writer, device)
            await asyncio.sleep(0.3)  # processed; the caller still holds version 0
            return await notifier.wait(device, 0, timeout_s=0.2)
        finally:
            await notifier.stop()

    assert _run(run())


def test_many_feeds_changed_at_once_wake_every_waiter(
    stores: tuple[DistrictStore, DistrictStore], db_url: str | None
) -> None:
    """A new keyring bumps every feed: on PostgreSQL one ``*`` notice (more than
    NOTIFY_EACH_MAX rows), on SQLite one feed_changes row each."""
    reader, writer = stores
    devices = _add_devices(writer, NOTIFY_EACH_MAX + 5)

    async def run() -> list[bool]:
        notifier = _notifier(reader, db_url)
        notifier.start()
        try:
            await _settle(notifier)
            waits = [asyncio.create_task(notifier.wait(d, 0, timeout_s=5)) for d in devices]
            await asyncio.sleep(0.05)
            await asyncio.to_thread(writer.bump_all_feeds)
            return list(await asyncio.gather(*waits))
        finally:
            await notifier.stop()

    assert all(_run(run()))


def test_sqlite_feed_changes_are_read_from_a_cursor(tmp_path: Path) -> None:
    store = open_store(tmp_path, None)
    try:
        store.add_office(OfficeRow(OFFICE, "Desa Pitulua", 1))
        first, second = _add_devices(store, 2)
        start = store.feed_changes(-1)
        assert start.complete and start.versions == {first: 0, second: 0}
        store.bump_all_feeds()
        _bump(store, second)
        later = store.feed_changes(start.cursor)
        assert not later.complete and later.versions == {first: 1, second: 2}
        assert store.feed_changes(later.cursor).versions == {}
        # a cursor older than the rows kept (pruned by the trigger): every version again
        with contextlib.closing(sqlite3.connect(tmp_path / "district.sqlite")) as db, db:
            db.execute("DELETE FROM feed_changes WHERE id <= ?", (later.cursor - 1,))
        behind = store.feed_changes(start.cursor)
        assert behind.complete and behind.versions == {first: 1, second: 2}
        assert behind.cursor == later.cursor
    finally:
        store.close()


def test_sqlite_keeps_the_newest_feed_changes_only(tmp_path: Path) -> None:
    store = open_store(tmp_path, None)
    try:
        store.add_office(OfficeRow(OFFICE, "Desa Pitulua", 1))
        devices = _add_devices(store, 2)
        start = store.feed_changes(-1)
        with contextlib.closing(sqlite3.connect(tmp_path / "district.sqlite")) as db, db:
            for _ in range(FEED_CHANGES_KEPT // 2 + 10):  # two rows each
                db.execute("UPDATE devices SET feed_version = feed_version + 1")
            low, high, count = db.execute(
                "SELECT MIN(id), MAX(id), COUNT(*) FROM feed_changes"
            ).fetchone()
        assert count == FEED_CHANGES_KEPT and high - low + 1 == FEED_CHANGES_KEPT
        behind = store.feed_changes(start.cursor)  # its rows are gone: a full read
        version = FEED_CHANGES_KEPT // 2 + 10
        assert behind.complete and behind.versions == dict.fromkeys(devices, version)
        assert behind.cursor == high
    finally:
        store.close()


def test_postgresql_listener_catches_up_after_a_lost_connection(
    pg_url: str, tmp_path: Path
) -> None:
    reader = open_store(tmp_path, pg_url)
    writer = open_store(tmp_path, pg_url)
    writer.add_office(OfficeRow(OFFICE, "Desa Pitulua", 1))
    (device,) = _add_devices(writer, 1)

    def cut_and_bump() -> None:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchall()
            assert cut == [(True,)]
        _bump(writer, device)  # while the notifier is away: no notice reaches it

    async def run() -> bool:
        notifier = FeedNotifier(reader, listen_url=pg_url)
        notifier.start()
        try:
            await _settle(notifier)
            waiting = asyncio.create_task(notifier.wait(device, 0, timeout_s=10))
            await asyncio.sleep(0.05)
            await asyncio.to_thread(cut_and_bump)
            return await waiting  # woken by the catch-up read after reconnecting
        finally:
            await notifier.stop()

    try:
        assert _run(run())
    finally:
        reader.close()
        writer.close()


def test_closing_is_true_once_all_are_released(tmp_path: Path) -> None:
    store = open_store(tmp_path, None)
    try:
        notifier = FeedNotifier(store)
        assert not notifier.closing

        async def run() -> bool:
            notifier.release_all()
            return await notifier.wait("dev_any", 0, timeout_s=5)

        assert _run(run()) and notifier.closing
    finally:
        store.close()
