"""The proof replay cache and the rate limits several server processes share on PostgreSQL
(ADR 0027): atomic across connections (two stores stand for two processes), the same
expiry and sliding minute as the in-process ones, expired rows pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from district.pg_shared import PgRateLimiter, PgReplayCache
from district.pg_store import PostgresStore
from kiosk.errors import RateLimitedError

T0 = 1_750_000_000


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_proof_accepted_by_one_process_is_a_replay_for_another(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = (store.shared_replay_cache() for store in two)
    assert one.since_s is None  # nothing is ever lost: no proof refused for a restart
    assert one.add("jti-a", expires_s=T0 + 240, now_s=T0)
    assert not other.add("jti-a", expires_s=T0 + 241, now_s=T0 + 1)
    assert not one.add("jti-a", expires_s=T0 + 241, now_s=T0 + 1)
    assert other.add("jti-b", expires_s=T0 + 240, now_s=T0)
    # past its expiry an id is forgotten (as in memory), pruned or not
    assert other.add("jti-a", expires_s=T0 + 600, now_s=T0 + 241)


def test_of_racing_requests_with_one_proof_exactly_one_is_accepted(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    caches = [store.shared_replay_cache() for store in two]
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        results.append(caches[n % 2].add("same", expires_s=T0 + 240, now_s=T0))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_expired_ids_are_pruned(two: tuple[PostgresStore, PostgresStore], pg_url: str) -> None:
    cache: PgReplayCache = two[0].shared_replay_cache()
    for n in range(30):
        assert cache.add(f"old{n}", expires_s=T0 + n, now_s=T0)
    assert cache.add("young", expires_s=T0 + 1000, now_s=T0)
    assert cache.prune(now_s=T0 + 20) == 20
    assert len(cache) == 11
    # and by the way of add, at most every PRUNE_INTERVAL_S: a new cache prunes at once
    fresh = two[1].shared_replay_cache()
    assert fresh.add("new", expires_s=T0 + 2000, now_s=T0 + 500)
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT jti FROM proof_replays ORDER BY jti").fetchall()
    assert left == [("new",), ("young",)]


def test_a_rate_limit_is_counted_by_every_process(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = (store.shared_rate_limiter("enroll", per_minute=10) for store in two)
    for n in range(10):
        (one if n % 2 else other).hit("addr:192.0.2.7", now_s=T0 + n)
    with pytest.raises(RateLimitedError) as refused:
        one.hit("addr:192.0.2.7", now_s=T0 + 30)
    assert refused.value.retry_after_s == 31  # the first hit leaves the window at T0 + 60
    with pytest.raises(RateLimitedError):
        other.hit("addr:192.0.2.7", now_s=T0 + 30)
    one.hit("addr:192.0.2.8", now_s=T0 + 30)  # another key
    two[0].shared_rate_limiter("sign_in", per_minute=10).hit("addr:192.0.2.7", now_s=T0 + 30)
    other.hit("addr:192.0.2.7", now_s=T0 + 60)  # the first hit left the window


def test_racing_hits_never_pass_the_limit(two: tuple[PostgresStore, PostgresStore]) -> None:
    limiters: list[PgRateLimiter] = [s.shared_rate_limiter("enroll", per_minute=5) for s in two]
    passed: list[int] = []
    barrier = threading.Barrier(12)

    def hit(n: int) -> None:
        barrier.wait()
        try:
            limiters[n % 2].hit("code:ABC", now_s=T0)
            passed.append(n)
        except RateLimitedError:
            pass

    threads = [threading.Thread(target=hit, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 5
