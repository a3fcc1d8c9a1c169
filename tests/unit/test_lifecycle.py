"""Pure, table-driven tests of the job lifecycle state machine (kiosk.lifecycle)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import CedokaError, TransitionError
from kiosk.lifecycle import (
    DONE,
    NEEDS_ATTENTION,
    PRINTABLE_CONTENT_KEPT,
    PURGEABLE,
    TERMINAL,
    TRANSITIONS,
    JobEvent,
    JobState,
    JobStatus,
    Transition,
    advance,
    allowed_events,
    is_terminal,
)

S = JobState
E = JobEvent
T0 = 1_700_000_000
OP = "staff-01"

# Valid arguments for every event, so each table row can be exercised on its own.
REASON = {
    E.VERIFY_FAIL: "bad_signature",
    E.PRINT_FAIL: "media_empty",
    E.SPOIL: "paper_jam",
    E.RECONCILE_LOST: "unknown_after_restart",
}
NEEDS_OP = {E.RELEASE, E.HAND_OVER}


def valid(event: JobEvent) -> Transition:
    return Transition(event, reason=REASON.get(event), operator=OP if event in NEEDS_OP else None)


def status_in(state: JobState, *, reprints: int = 0, updated_at_s: int = T0) -> JobStatus:
    return JobStatus(
        job_id="job-1",
        state=state,
        reason=None,
        reprints=reprints,
        updated_at_s=updated_at_s,
        operator=None,
    )


def run(events: list[JobEvent]) -> JobStatus:
    status = JobStatus.received("job-1", now_s=T0)
    for i, event in enumerate(events, start=1):
        status = advance(status, valid(event), now_s=T0 + i)
    return status


# --- happy paths -------------------------------------------------------------------------

HAPPY_PATHS = {
    "claim_or_staff_release": (
        [E.VERIFY_OK, E.HOLD, E.RELEASE, E.SUBMIT, E.PRINT_DONE, E.HAND_OVER, E.PURGE],
        [S.VERIFIED, S.HELD, S.RELEASED, S.PRINTING, S.PRINTED, S.HANDED_OVER, S.PURGED],
    ),
    "auto_release": (
        [E.VERIFY_OK, E.AUTO_RELEASE, E.SUBMIT, E.PRINT_DONE, E.HAND_OVER, E.PURGE],
        [S.VERIFIED, S.RELEASED, S.PRINTING, S.PRINTED, S.HANDED_OVER, S.PURGED],
    ),
    "spoil_then_reprint": (
        [
            E.VERIFY_OK,
            E.AUTO_RELEASE,
            E.SUBMIT,
            E.PRINT_DONE,
            E.SPOIL,
            E.SUBMIT,
            E.PRINT_DONE,
            E.HAND_OVER,
        ],
        [
            S.VERIFIED,
            S.RELEASED,
            S.PRINTING,
            S.PRINTED,
            S.RELEASED,
            S.PRINTING,
            S.PRINTED,
            S.HANDED_OVER,
        ],
    ),
    "fail_then_retry": (
        [E.VERIFY_OK, E.AUTO_RELEASE, E.SUBMIT, E.PRINT_FAIL, E.RETRY, E.SUBMIT, E.PRINT_DONE],
        [S.VERIFIED, S.RELEASED, S.PRINTING, S.FAILED, S.RELEASED, S.PRINTING, S.PRINTED],
    ),
    "rejected": ([E.VERIFY_FAIL, E.PURGE], [S.REJECTED, S.PURGED]),
    "held_then_expired": (
        [E.VERIFY_OK, E.HOLD, E.EXPIRE, E.PURGE],
        [S.VERIFIED, S.HELD, S.EXPIRED, S.PURGED],
    ),
    "failed_then_cancelled": (
        [E.VERIFY_OK, E.AUTO_RELEASE, E.SUBMIT, E.PRINT_FAIL, E.CANCEL],
        [S.VERIFIED, S.RELEASED, S.PRINTING, S.FAILED, S.CANCELLED],
    ),
}


@pytest.mark.parametrize(("events", "states"), HAPPY_PATHS.values(), ids=HAPPY_PATHS.keys())
def test_paths(events: list[JobEvent], states: list[JobState]) -> None:
    status = JobStatus.received("job-1", now_s=T0)
    assert status == JobStatus("job-1", S.RECEIVED, None, 0, T0, None)
    for i, (event, expected) in enumerate(zip(events, states, strict=True), start=1):
        status = advance(status, valid(event), now_s=T0 + i)
        assert status.state is expected
        assert status.updated_at_s == T0 + i
        assert status.job_id == "job-1"


def test_happy_path_records_operator_and_clears_reason() -> None:
    status = run([E.VERIFY_OK, E.AUTO_RELEASE, E.SUBMIT, E.PRINT_FAIL])
    assert status.reason == "media_empty"
    status = advance(status, Transition(E.RETRY, operator="op.2"), now_s=T0 + 10)
    assert (status.state, status.reason, status.operator) == (S.RELEASED, None, "op.2")
    status = advance(status, Transition(E.SUBMIT), now_s=T0 + 11)
    assert status.operator == "op.2"  # kept: the last operator who acted


# --- the table: every row works, every other pair is refused -----------------------------


@pytest.mark.parametrize(("pair", "target"), TRANSITIONS.items(), ids=str)
def test_every_table_row(pair: tuple[JobState, JobEvent], target: JobState) -> None:
    state, event = pair
    assert advance(status_in(state), valid(event), now_s=T0).state is target


# The table written out independently, per state, so that a row added to or dropped from
# TRANSITIONS fails here even when no path test happens to use it.
EXPECTED_EXITS: dict[JobState, dict[JobEvent, JobState]] = {
    S.RECEIVED: {
        E.VERIFY_OK: S.VERIFIED,
        E.VERIFY_FAIL: S.REJECTED,
        E.EXPIRE: S.EXPIRED,
        E.CANCEL: S.CANCELLED,
    },
    S.VERIFIED: {
        E.HOLD: S.HELD,
        E.AUTO_RELEASE: S.RELEASED,
        E.EXPIRE: S.EXPIRED,
        E.CANCEL: S.CANCELLED,
    },
    S.HELD: {E.RELEASE: S.RELEASED, E.EXPIRE: S.EXPIRED, E.CANCEL: S.CANCELLED},
    S.RELEASED: {E.SUBMIT: S.PRINTING, E.EXPIRE: S.EXPIRED, E.CANCEL: S.CANCELLED},
    S.PRINTING: {E.PRINT_DONE: S.PRINTED, E.PRINT_FAIL: S.FAILED, E.RECONCILE_LOST: S.FAILED},
    S.PRINTED: {E.HAND_OVER: S.HANDED_OVER, E.SPOIL: S.RELEASED},
    S.FAILED: {E.RETRY: S.RELEASED, E.EXPIRE: S.EXPIRED, E.CANCEL: S.CANCELLED},
    S.HANDED_OVER: {E.PURGE: S.PURGED},
    S.REJECTED: {E.PURGE: S.PURGED},
    S.EXPIRED: {E.PURGE: S.PURGED},
    S.CANCELLED: {E.PURGE: S.PURGED},
    S.PURGED: {},
}


@pytest.mark.parametrize("state", JobState)
def test_table_matches_pinned_copy(state: JobState) -> None:
    actual = {e: dst for (src, e), dst in TRANSITIONS.items() if src is state}
    assert actual == EXPECTED_EXITS[state]


NOT_IN_TABLE = [p for p in itertools.product(JobState, JobEvent) if p not in TRANSITIONS]


@pytest.mark.parametrize(("state", "event"), NOT_IN_TABLE, ids=str)
def test_every_pair_not_in_table_is_refused(state: JobState, event: JobEvent) -> None:
    before = status_in(state)
    with pytest.raises(TransitionError) as info:
        advance(before, valid(event), now_s=T0 + 5)
    message = str(info.value)
    assert "job-1" in message and state.value in message and event.value in message


def test_cross_product_is_covered() -> None:
    assert len(NOT_IN_TABLE) + len(TRANSITIONS) == len(JobState) * len(JobEvent)
    assert issubclass(TransitionError, CedokaError)


@pytest.mark.parametrize("state", JobState)
def test_only_purged_has_no_way_out(state: JobState) -> None:
    assert (allowed_events(state) == frozenset()) == (state is S.PURGED)
    assert is_terminal(state) == (state is S.PURGED)


def test_allowed_events_match_table() -> None:
    for state in JobState:
        assert allowed_events(state) == {e for (s, e) in TRANSITIONS if s is state}
    assert allowed_events(S.PRINTED) == {E.HAND_OVER, E.SPOIL}


def test_every_state_reachable_from_received() -> None:
    seen = {S.RECEIVED}
    todo = deque([S.RECEIVED])
    while todo:
        state = todo.popleft()
        for (src, _event), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    assert seen == set(JobState)


def test_values_are_lowercase_snake_case() -> None:
    for member in [*JobState, *JobEvent]:
        assert member.value == member.name.lower()


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.PURGED, E.RETRY)] = S.RELEASED  # type: ignore[index]


# --- named groups --------------------------------------------------------------------------


def test_purgeable_is_exactly_the_states_with_purge() -> None:
    assert {s for (s, e) in TRANSITIONS if e is E.PURGE} == PURGEABLE
    assert PURGEABLE == DONE


def test_groups() -> None:
    with_exits = {s for (s, _e) in TRANSITIONS}
    assert with_exits >= NEEDS_ATTENTION
    assert TERMINAL == set(JobState) - with_exits == {S.PURGED}
    assert not PRINTABLE_CONTENT_KEPT & (DONE | TERMINAL)
    assert set(JobState) == PRINTABLE_CONTENT_KEPT | DONE | TERMINAL
    # Documents must be kept wherever printing (or reprinting) can still happen.
    printing_sources = {s for (s, e) in TRANSITIONS if e in {E.SUBMIT, E.SPOIL, E.RETRY}}
    assert printing_sources <= PRINTABLE_CONTENT_KEPT


# --- reason and operator validation -------------------------------------------------------


@pytest.mark.parametrize(
    "pair", [(S.RECEIVED, E.VERIFY_FAIL), (S.PRINTING, E.PRINT_FAIL), (S.PRINTED, E.SPOIL)], ids=str
)
def test_reason_required(pair: tuple[JobState, JobEvent]) -> None:
    with pytest.raises(TransitionError, match="reason is required"):
        advance(status_in(pair[0]), Transition(pair[1]), now_s=T0)


@pytest.mark.parametrize(
    "reason", ["", "Bad", "1abc", "a-b", "a b", "paper_jam\n", "é", "a" * 49, "x;drop"]
)
def test_malformed_reason_refused(reason: str) -> None:
    with pytest.raises(TransitionError, match="malformed reason"):
        advance(status_in(S.PRINTING), Transition(E.PRINT_FAIL, reason=reason), now_s=T0)


@pytest.mark.parametrize("reason", ["a", "media_empty", "a" * 48, "x9_"])
def test_wellformed_reason_kept(reason: str) -> None:
    new = advance(status_in(S.PRINTING), Transition(E.PRINT_FAIL, reason=reason), now_s=T0)
    assert new.reason == reason


@pytest.mark.parametrize("pair", [(S.HELD, E.RELEASE), (S.PRINTED, E.HAND_OVER)], ids=str)
def test_operator_required(pair: tuple[JobState, JobEvent]) -> None:
    with pytest.raises(TransitionError, match="operator is required"):
        advance(status_in(pair[0]), Transition(pair[1]), now_s=T0)


@pytest.mark.parametrize("operator", ["", "a" * 33, "Budi Santoso", "op/1", "op\n", "ü"])
def test_malformed_operator_refused(operator: str) -> None:
    with pytest.raises(TransitionError, match="malformed operator"):
        advance(status_in(S.HELD), Transition(E.RELEASE, operator=operator), now_s=T0)


@pytest.mark.parametrize("operator", ["a", "a" * 32, "Op-1.x_Y"])
def test_wellformed_operator_recorded(operator: str) -> None:
    new = advance(status_in(S.HELD), Transition(E.RELEASE, operator=operator), now_s=T0)
    assert new.operator == operator


def test_reconcile_lost_default_reason() -> None:
    new = advance(status_in(S.PRINTING), Transition(E.RECONCILE_LOST), now_s=T0)
    assert (new.state, new.reason) == (S.FAILED, "unknown_after_restart")
    given_reason = Transition(E.RECONCILE_LOST, reason="cups_job_missing")
    assert advance(status_in(S.PRINTING), given_reason, now_s=T0).reason == "cups_job_missing"


# --- reprint limit --------------------------------------------------------------------------


def spoil_cycle(status: JobStatus, now_s: int, **kw: int) -> JobStatus:
    status = advance(status, Transition(E.SPOIL, reason="paper_jam"), now_s=now_s, **kw)
    status = advance(status, Transition(E.SUBMIT), now_s=now_s)
    return advance(status, Transition(E.PRINT_DONE), now_s=now_s)


def test_three_spoils_then_fourth_refused() -> None:
    status = status_in(S.PRINTED)
    for n in (1, 2, 3):
        status = spoil_cycle(status, T0 + n)
        assert status.reprints == n
    with pytest.raises(TransitionError, match="reprint limit 3"):
        advance(status, Transition(E.SPOIL, reason="paper_jam"), now_s=T0 + 9)
    assert advance(status, Transition(E.HAND_OVER, operator=OP), now_s=T0 + 9).reprints == 3


@pytest.mark.parametrize("max_reprints", [0, 1, 5])
def test_max_reprints_keyword(max_reprints: int) -> None:
    status = status_in(S.PRINTED)
    for _ in range(max_reprints):
        status = spoil_cycle(status, T0, max_reprints=max_reprints)
    with pytest.raises(TransitionError):
        spoil_cycle(status, T0, max_reprints=max_reprints)


# --- time and immutability ------------------------------------------------------------------


def test_time_is_clamped_not_reversed() -> None:
    status = status_in(S.RECEIVED, updated_at_s=T0)
    earlier = advance(status, valid(E.VERIFY_OK), now_s=T0 - 3600)
    assert (earlier.state, earlier.updated_at_s) == (S.VERIFIED, T0)
    later = advance(earlier, valid(E.HOLD), now_s=T0 + 60)
    assert later.updated_at_s == T0 + 60


def test_frozen_and_not_mutated() -> None:
    status = status_in(S.RECEIVED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = S.VERIFIED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Transition(E.HOLD).event = E.SUBMIT  # type: ignore[misc]
    new = advance(status, valid(E.VERIFY_OK), now_s=T0 + 1)
    assert status == status_in(S.RECEIVED) and new is not status


# --- property: random event sequences -------------------------------------------------------

transitions = st.builds(
    Transition,
    event=st.sampled_from(JobEvent),
    reason=st.one_of(st.none(), st.sampled_from(["paper_jam", "media_empty", "Bad", ""])),
    operator=st.one_of(st.none(), st.sampled_from(["op1", "staff-02", "bad name"])),
)


@given(
    steps=st.lists(st.tuples(transitions, st.integers(-10_000, 10_000)), max_size=60),
    max_reprints=st.integers(0, 4),
)
def test_random_sequences_keep_invariants(
    steps: list[tuple[Transition, int]], max_reprints: int
) -> None:
    status = JobStatus.received("job-1", now_s=T0)
    now_s = T0
    for transition, delta in steps:
        now_s += delta
        try:
            new = advance(status, transition, now_s=now_s, max_reprints=max_reprints)
        except TransitionError:
            continue
        assert (status.state, transition.event) in TRANSITIONS  # only table rows succeed
        assert status.state is not S.PURGED  # once purged, nothing changes state
        assert new.state is TRANSITIONS[(status.state, transition.event)]
        assert isinstance(new.state, JobState)
        assert new.updated_at_s >= status.updated_at_s
        assert status.reprints <= new.reprints <= max_reprints
        assert new.job_id == status.job_id
        status = new
