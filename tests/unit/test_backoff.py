"""Retry backoff (protocol 15.3): doubling, cap, full jitter, Retry-After as a lower bound."""

from __future__ import annotations

import random

import pytest

from kiosk.backoff import MAX_COUNTED_FAILURES, Backoff


def _top(low: float, high: float) -> float:
    """A ``uniform`` that always draws the upper end of the range."""
    return high


def _bottom(low: float, high: float) -> float:
    return low


def _never(low: float, high: float) -> float:
    raise AssertionError("uniform must not be called")


@pytest.mark.parametrize(
    ("initial_s", "max_s", "failures", "ceiling_s"),
    [
        (1.0, 300.0, 0, 0.0),
        (1.0, 300.0, 1, 1.0),
        (1.0, 300.0, 2, 2.0),
        (1.0, 300.0, 3, 4.0),
        (1.0, 300.0, 9, 256.0),
        (1.0, 300.0, 10, 300.0),
        (1.0, 300.0, MAX_COUNTED_FAILURES, 300.0),
        (0.1, 1.0, 1, 0.1),
        (0.1, 1.0, 4, 0.8),
        (0.1, 1.0, 5, 1.0),
        (60.0, 60.0, 1, 60.0),
        (60.0, 3600.0, 7, 3600.0),
    ],
)
def test_ceiling_doubles_up_to_the_cap(
    initial_s: float, max_s: float, failures: int, ceiling_s: float
) -> None:
    backoff = Backoff(initial_s, max_s, failures)
    assert backoff.ceiling_s == pytest.approx(ceiling_s)
    expected = _top if failures else _never
    assert backoff.delay_s(expected) == pytest.approx(ceiling_s)
    assert backoff.delay_s(_bottom if failures else _never) == 0.0


@pytest.mark.parametrize(
    ("failures", "drawn", "retry_after_s", "delay_s"),
    [
        (0, None, None, 0.0),
        (0, None, 30.0, 30.0),  # no failure counted yet, but the server asked us to wait
        (0, None, 0.0, 0.0),
        (3, 1.5, None, 1.5),
        (3, 1.5, 30.0, 30.0),  # Retry-After above the jitter: it wins
        (3, 3.5, 2.0, 3.5),  # Retry-After below the jitter: the jitter stands
        (20, 299.0, 600.0, 600.0),  # a lower bound even above the cap
    ],
)
def test_retry_after_is_a_lower_bound(
    failures: int, drawn: float | None, retry_after_s: float | None, delay_s: float
) -> None:
    calls: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        calls.append((low, high))
        assert drawn is not None
        return drawn

    backoff = Backoff(1.0, 300.0, failures)
    assert backoff.delay_s(uniform, retry_after_s) == delay_s
    assert calls == ([(0.0, backoff.ceiling_s)] if failures else [])


def test_failed_counts_and_succeeded_resets() -> None:
    backoff = Backoff(initial_s=1.0, max_s=300.0)
    assert backoff.failures == 0
    seen = []
    for _ in range(5):
        backoff = backoff.failed()
        seen.append(backoff.failures)
    assert seen == [1, 2, 3, 4, 5]
    assert backoff.succeeded() == Backoff(1.0, 300.0, 0)
    assert backoff.failures == 5, "immutable: the old value is unchanged"


def test_the_count_is_capped_so_the_power_cannot_overflow() -> None:
    backoff = Backoff(initial_s=60.0, max_s=3600.0)
    for _ in range(5000):
        backoff = backoff.failed()
    assert backoff.failures == MAX_COUNTED_FAILURES
    assert backoff.ceiling_s == 3600.0
    assert backoff.delay_s(_top) == 3600.0


def test_jitter_stays_within_the_range_with_a_real_generator() -> None:
    rng = random.Random(7)
    backoff = Backoff(initial_s=1.0, max_s=300.0)
    for failures in range(1, 15):
        backoff = backoff.failed()
        assert backoff.failures == failures
        for _ in range(50):
            assert 0.0 <= backoff.delay_s(rng.uniform) <= backoff.ceiling_s


@pytest.mark.parametrize(
    ("initial_s", "max_s", "failures"),
    [
        (0.0, 1.0, 0),
        (-1.0, 1.0, 0),
        (2.0, 1.0, 0),
        (float("nan"), 1.0, 0),
        (1.0, float("inf"), 0),
        (1.0, 2.0, -1),
        (1.0, 2.0, MAX_COUNTED_FAILURES + 1),
    ],
)
def test_invalid_settings_are_refused(initial_s: float, max_s: float, failures: int) -> None:
    with pytest.raises(ValueError):
        Backoff(initial_s, max_s, failures)
