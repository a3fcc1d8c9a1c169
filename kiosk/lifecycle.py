"""The job lifecycle: one state machine, one transition table, one pure ``advance``.

Pure core: no I/O, no clock. Time comes in as ``now_s`` (Unix seconds) from the caller's
trusted clock. Nothing else in Cedoka defines job states or which transitions exist; the
spool stores ``JobState`` values and guards its updates with the state it read.

::

    RECEIVED ──verify_fail(reason)──▶ REJECTED
       │ verify_ok
       ▼
    VERIFIED ──hold──▶ HELD
       │                 │ release(operator)
       │ auto_release    ▼
       └────────────▶ RELEASED ◀─────────┬────────────────┐
                         │ submit        │ retry          │ spoil(reason):
                         ▼               │                │ reprints += 1
                      PRINTING ──────▶ FAILED             │
                         │  print_fail(reason),           │
                         │  reconcile_lost                │
                         │ print_done                     │
                         ▼                                │
                      PRINTED ────────────────────────────┘
                         │ hand_over(operator)
                         ▼
                    HANDED_OVER

    expire / cancel:  RECEIVED, VERIFIED, HELD, RELEASED, FAILED ──▶ EXPIRED / CANCELLED
    purge:            HANDED_OVER, REJECTED, EXPIRED, CANCELLED   ──▶ PURGED (final)

Invariants:

* ``TRANSITIONS`` is the only definition of the allowed (state, event) pairs; ``advance``
  raises :class:`~kiosk.errors.TransitionError` for every other pair.
* ``PURGED`` is the only state with no outgoing event; every other state can leave.
* A job that is ``PRINTING`` or ``PRINTED`` can be neither expired nor cancelled: paper may
  have come out, so a person must decide (``NEEDS_ATTENTION``) before the job ends.
* ``reprints`` only grows, by one per ``SPOIL``, and never exceeds ``max_reprints``.
* ``updated_at_s`` never decreases (a clock step backwards is clamped, not trusted).
* ``reason`` is a machine-readable code and ``operator`` an opaque staff id: neither ever
  holds personal data such as a resident's name.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass

from kiosk.errors import TransitionError


class JobState(enum.StrEnum):
    """Where a print job is in its life; the spool stores these exact strings."""

    RECEIVED = "received"  # fetched from the district, not yet verified
    VERIFIED = "verified"  # signature and claims checked
    HELD = "held"  # waiting for release by claim code or by staff
    RELEASED = "released"  # may be submitted to the printer
    PRINTING = "printing"  # submitted to the print system
    PRINTED = "printed"  # print system done; staff must confirm the paper
    HANDED_OVER = "handed_over"  # staff confirmed: given to the resident
    FAILED = "failed"  # print failed or lost; staff retry, cancel or let expire
    REJECTED = "rejected"  # failed verification; never printed
    EXPIRED = "expired"  # not printed in time
    CANCELLED = "cancelled"  # withdrawn by the district or by staff
    PURGED = "purged"  # documents deleted; only the record remains


class JobEvent(enum.StrEnum):
    """What can happen to a job; each allowed (state, event) pair is in ``TRANSITIONS``."""

    VERIFY_OK = "verify_ok"
    VERIFY_FAIL = "verify_fail"  # needs reason
    HOLD = "hold"
    AUTO_RELEASE = "auto_release"
    RELEASE = "release"  # needs operator
    SUBMIT = "submit"
    PRINT_DONE = "print_done"
    PRINT_FAIL = "print_fail"  # needs reason
    RETRY = "retry"
    HAND_OVER = "hand_over"  # needs operator
    SPOIL = "spoil"  # needs reason; reprint path, limited by max_reprints
    EXPIRE = "expire"
    CANCEL = "cancel"
    PURGE = "purge"
    RECONCILE_LOST = "reconcile_lost"  # after a crash the print system forgot the job


_S = JobState
_E = JobEvent

TRANSITIONS: Mapping[tuple[JobState, JobEvent], JobState] = types.MappingProxyType(
    {
        (_S.RECEIVED, _E.VERIFY_OK): _S.VERIFIED,
        (_S.RECEIVED, _E.VERIFY_FAIL): _S.REJECTED,
        (_S.VERIFIED, _E.HOLD): _S.HELD,
        (_S.VERIFIED, _E.AUTO_RELEASE): _S.RELEASED,
        (_S.HELD, _E.RELEASE): _S.RELEASED,
        (_S.RELEASED, _E.SUBMIT): _S.PRINTING,
        (_S.PRINTING, _E.PRINT_DONE): _S.PRINTED,
        (_S.PRINTING, _E.PRINT_FAIL): _S.FAILED,
        (_S.PRINTING, _E.RECONCILE_LOST): _S.FAILED,
        (_S.FAILED, _E.RETRY): _S.RELEASED,
        (_S.PRINTED, _E.HAND_OVER): _S.HANDED_OVER,
        (_S.PRINTED, _E.SPOIL): _S.RELEASED,
        (_S.RECEIVED, _E.EXPIRE): _S.EXPIRED,
        (_S.VERIFIED, _E.EXPIRE): _S.EXPIRED,
        (_S.HELD, _E.EXPIRE): _S.EXPIRED,
        (_S.RELEASED, _E.EXPIRE): _S.EXPIRED,
        (_S.FAILED, _E.EXPIRE): _S.EXPIRED,
        (_S.RECEIVED, _E.CANCEL): _S.CANCELLED,
        (_S.VERIFIED, _E.CANCEL): _S.CANCELLED,
        (_S.HELD, _E.CANCEL): _S.CANCELLED,
        (_S.RELEASED, _E.CANCEL): _S.CANCELLED,
        (_S.FAILED, _E.CANCEL): _S.CANCELLED,
        (_S.HANDED_OVER, _E.PURGE): _S.PURGED,
        (_S.REJECTED, _E.PURGE): _S.PURGED,
        (_S.EXPIRED, _E.PURGE): _S.PURGED,
        (_S.CANCELLED, _E.PURGE): _S.PURGED,
    }
)

# Named groups. Tests check them against the table.
TERMINAL: frozenset[JobState] = frozenset({_S.PURGED})  # truly final: no outgoing event
DONE: frozenset[JobState] = frozenset({_S.HANDED_OVER, _S.REJECTED, _S.EXPIRED, _S.CANCELLED})
PURGEABLE: frozenset[JobState] = DONE  # finished: documents may (and should) be deleted
NEEDS_ATTENTION: frozenset[JobState] = frozenset({_S.FAILED, _S.PRINTED})  # retry / confirm
# The sealed documents must be kept: the job may still (re)print.
PRINTABLE_CONTENT_KEPT: frozenset[JobState] = frozenset(
    {
        _S.RECEIVED,
        _S.VERIFIED,
        _S.HELD,
        _S.RELEASED,
        _S.PRINTING,
        _S.PRINTED,
        _S.FAILED,
    }
)

REASON_REQUIRED: frozenset[JobEvent] = frozenset(
    {
        _E.VERIFY_FAIL,
        _E.PRINT_FAIL,
        _E.SPOIL,
        _E.RECONCILE_LOST,
    }
)
OPERATOR_REQUIRED: frozenset[JobEvent] = frozenset({_E.RELEASE, _E.HAND_OVER})
UNKNOWN_AFTER_RESTART = "unknown_after_restart"
DEFAULT_MAX_REPRINTS = 3

# \Z, not $: "$" would accept a trailing newline.
_REASON_RE = re.compile(r"[a-z][a-z0-9_]{0,47}\Z")
_OPERATOR_RE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")


def is_operator_id(text: str) -> bool:
    """Whether ``text`` may be an event's ``operator`` (an opaque staff id, never a name)."""
    return _OPERATOR_RE.match(text) is not None


_ALLOWED: Mapping[JobState, frozenset[JobEvent]] = types.MappingProxyType(
    {state: frozenset(event for (src, event) in TRANSITIONS if src is state) for state in JobState}
)


def allowed_events(state: JobState) -> frozenset[JobEvent]:
    """Return the events allowed in ``state`` (which buttons a UI may show)."""
    return _ALLOWED[state]


def is_terminal(state: JobState) -> bool:
    """Return True if nothing can happen to a job in ``state`` any more."""
    return state in TERMINAL


@dataclass(frozen=True, slots=True)
class JobStatus:
    """The lifecycle part of a job: an immutable value, changed only through ``advance``."""

    job_id: str  # the district server's job id
    state: JobState
    reason: str | None  # machine-readable code of the last fail/reject/spoil, else None
    reprints: int  # number of SPOIL events so far
    updated_at_s: int  # Unix seconds of the last transition (never decreases)
    operator: str | None  # opaque id of the last staff member who acted; never a name

    @classmethod
    def received(cls, job_id: str, *, now_s: int) -> JobStatus:
        """Return the initial status of a job just fetched from the district."""
        return cls(
            job_id=job_id,
            state=JobState.RECEIVED,
            reason=None,
            reprints=0,
            updated_at_s=now_s,
            operator=None,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """An event with its optional machine-readable reason and acting operator id."""

    event: JobEvent
    reason: str | None = None
    operator: str | None = None


def advance(
    status: JobStatus,
    transition: Transition,
    *,
    now_s: int,
    max_reprints: int = DEFAULT_MAX_REPRINTS,
) -> JobStatus:
    """Apply ``transition`` to ``status`` and return the new status.

    The new ``reason`` is ``transition.reason`` (None if not given; RECONCILE_LOST defaults
    to ``"unknown_after_restart"``). The new ``operator`` is ``transition.operator`` if given,
    else the previous one. ``updated_at_s`` is ``max(now_s, status.updated_at_s)``: a clock
    that steps back cannot make a job younger.

    Raises:
        TransitionError: the (state, event) pair is not in ``TRANSITIONS``; a required
            reason or operator is missing; a reason or operator is malformed; or a SPOIL
            would make ``reprints`` exceed ``max_reprints``.
    """
    event = transition.event
    where = f"job {status.job_id!r}: event {event.value!r} in state {status.state.value!r}"
    target = TRANSITIONS.get((status.state, event))
    if target is None:
        raise TransitionError(f"{where}: not allowed")

    reason = transition.reason
    if reason is None and event is JobEvent.RECONCILE_LOST:
        reason = UNKNOWN_AFTER_RESTART
    if reason is None and event in REASON_REQUIRED:
        raise TransitionError(f"{where}: a reason is required")
    if reason is not None and not _REASON_RE.match(reason):
        raise TransitionError(f"{where}: malformed reason code")

    operator = transition.operator
    if operator is None and event in OPERATOR_REQUIRED:
        raise TransitionError(f"{where}: an operator is required")
    if operator is not None and not is_operator_id(operator):
        raise TransitionError(f"{where}: malformed operator id")

    reprints = status.reprints
    if event is JobEvent.SPOIL:
        reprints += 1
        if reprints > max_reprints:
            raise TransitionError(f"{where}: reprint limit {max_reprints} reached")

    return dataclasses.replace(
        status,
        state=target,
        reason=reason,
        reprints=reprints,
        updated_at_s=max(now_s, status.updated_at_s),
        operator=operator if operator is not None else status.operator,
    )
