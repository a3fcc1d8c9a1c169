"""A code that opens a job no longer held (used, cancelled, expired) is not a guess: the
lockout takes back that one attempt (kiosk.claim.forgive_attempt), and no more."""

from __future__ import annotations

import pytest

from kiosk.claim import (
    LockoutPolicy,
    LockoutState,
    begin_attempt,
    check_unlocked,
    forgive_attempt,
    seconds_locked,
)
from kiosk.errors import ClaimLockedError

POLICY = LockoutPolicy()  # 5 failures in 600 s lock for 300 s, doubling up to 3600 s


@pytest.mark.parametrize(
    ("before", "now_s", "after"),
    [
        # the spent code was the first attempt: nothing remains
        (LockoutState((1000,)), 1000, LockoutState()),
        # earlier failures stay
        (LockoutState((900, 950, 1000)), 1000, LockoutState((900, 950))),
        # two attempts at the same second: one is taken back
        (LockoutState((1000, 1000)), 1000, LockoutState((1000,))),
        # a running lock from an earlier lockout stays as it is (nothing of this attempt)
        (LockoutState((), 1200, 1), 1000, LockoutState((), 1200, 1)),
        # this attempt set the first lock (1000 + 300): lifted, four failures kept at 1000
        (LockoutState((), 1300, 1), 1000, LockoutState((1000,) * 4, 0, 0)),
        # ... the third lock (300 * 4 = 1200 s)
        (LockoutState((), 2200, 3), 1000, LockoutState((1000,) * 4, 0, 2)),
        # ... a capped lock (3600 s)
        (LockoutState((), 4600, 9), 1000, LockoutState((1000,) * 4, 0, 8)),
    ],
)
def test_forgive_takes_back_one_attempt(
    before: LockoutState, now_s: int, after: LockoutState
) -> None:
    assert forgive_attempt(before, POLICY, now_s=now_s) == after


def test_a_spent_code_does_not_wipe_the_count_between_guesses() -> None:
    """A guesser who knows a spent code (their own old one) gains no extra guesses."""
    state, now_s = LockoutState(), 1000
    for _ in range(POLICY.max_failures - 1):
        state = begin_attempt(state, POLICY, now_s=now_s)  # a wrong guess
        now_s += 1
        state = begin_attempt(state, POLICY, now_s=now_s)  # the spent code ...
        state = forgive_attempt(state, POLICY, now_s=now_s)  # ... is taken back, only it
        now_s += 1
    state = begin_attempt(state, POLICY, now_s=now_s)  # the fifth wrong guess locks
    with pytest.raises(ClaimLockedError):
        check_unlocked(state, POLICY, now_s=now_s)


def test_the_spent_code_that_set_the_lock_lifts_it() -> None:
    state = LockoutState()
    for _ in range(POLICY.max_failures - 1):
        state = begin_attempt(state, POLICY, now_s=1000)
    state = begin_attempt(state, POLICY, now_s=1000)  # the fifth, counted first: locks
    assert seconds_locked(state, now_s=1000) == 300
    state = forgive_attempt(state, POLICY, now_s=1000)  # ... it was a spent code
    check_unlocked(state, POLICY, now_s=1000)
    state = begin_attempt(state, POLICY, now_s=1001)  # the next wrong one locks again
    assert seconds_locked(state, now_s=1001) == 300


def test_seconds_locked() -> None:
    assert seconds_locked(LockoutState(), now_s=5) == 0
    assert seconds_locked(LockoutState((), 100, 1), now_s=40) == 60
    assert seconds_locked(LockoutState((), 100, 1), now_s=100) == 0
