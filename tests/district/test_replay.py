"""The district's in-memory proof replay cache."""

from __future__ import annotations

import pytest

from district.replay import ReplayCache


def test_second_use_is_refused_until_expiry() -> None:
    cache = ReplayCache()
    assert cache.add("a", expires_s=100, now_s=0)
    assert not cache.add("a", expires_s=100, now_s=50)
    assert cache.add("b", expires_s=200, now_s=50)
    assert len(cache) == 2
    assert cache.add("c", expires_s=300, now_s=101)  # "a" expired and was dropped
    assert len(cache) == 2
    assert cache.add("a", expires_s=400, now_s=101)


def test_bounded() -> None:
    cache = ReplayCache(max_entries=2)
    assert cache.add("a", expires_s=100, now_s=0)
    assert cache.add("b", expires_s=100, now_s=0)
    with pytest.raises(OverflowError):
        cache.add("c", expires_s=100, now_s=0)
    assert not cache.add("a", expires_s=100, now_s=0)  # a replay is still told apart
