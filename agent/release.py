"""Releasing held jobs: by the resident's claim code (with the lockout against guessing),
or by staff (``staff`` jobs, a resident without a phone). Only the state changes here;
printing is the dispatcher's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent import trust as trust_store
from agent.jobs import JobBook, Step
from agent.spool import Spool
from agent.stored import StoredJobs
from kiosk.claim import (
    LockoutPolicy,
    LockoutState,
    begin_attempt,
    check_unlocked,
    forgive_attempt,
    match_claim,
    normalize_claim_code,
    record_success,
    seconds_locked,
)
from kiosk.clock import trusted_now
from kiosk.errors import ClaimError, Reason
from kiosk.lifecycle import JobEvent, JobState

log = logging.getLogger("cedoka.agent.release")

# The states whose claim code the kiosk still knows, from the spool (a purged job's from
# ``spent_claims``): a held job is released; any other answers what became of it.
_SPENDABLE = (JobState.HELD, JobState.RELEASED, JobState.PRINTING, JobState.PRINTED,
              JobState.FAILED, JobState.HANDED_OVER, JobState.CANCELLED,
              JobState.EXPIRED)  # fmt: skip
_SPENT_REASON = {JobState.CANCELLED: Reason.CLAIM_CANCELLED,
                 JobState.EXPIRED: Reason.CLAIM_EXPIRED}  # fmt: skip  # others: claim_used


class Releaser:
    def __init__(
        self, *, spool: Spool, book: JobBook, stored: StoredJobs, device_id: str,
        policy: LockoutPolicy, local_now_s: Callable[[], int],
    ) -> None:  # fmt: skip
        self._spool, self._book, self._stored = spool, book, stored
        self._device_id, self._policy, self._local_now_s = device_id, policy, local_now_s

    def _now(self) -> int:
        floor = trust_store.load(self._spool).time_floor_s
        return trusted_now(local_now_s=self._local_now_s(), floor_s=floor)

    def match(self, code_text: str) -> list[str]:
        """The held jobs the code opens (the lockout counts a wrong code); nothing released.

        The attempt is counted *before* the slow Argon2id match, in the transaction that
        reads the lockout (:func:`kiosk.claim.begin_attempt`): codes tried at the same moment
        — by the screen, or by ``cedoka release`` in another process — are counted one after
        the other, so no more than ``max_failures`` are ever tried; a match clears the count.

        Raises:
            ClaimLockedError: too many wrong codes lately (nothing counted).
            ClaimError: CLAIM_MALFORMED (does not count as a wrong code), CLAIM_WRONG
                (counted towards the lockout), or CLAIM_USED, CLAIM_CANCELLED,
                CLAIM_EXPIRED: the code opens a job no longer held (released, printed,
                handed over; cancelled; expired): no guess, so this attempt is taken back
                (:func:`kiosk.claim.forgive_attempt`), the other failures stay.
        """
        now = self._now()

        def count(state: LockoutState) -> LockoutState:
            check_unlocked(state, self._policy, now_s=now)  # a lock is reported first
            normalize_claim_code(code_text)  # malformed: refused before it counts
            return begin_attempt(state, self._policy, now_s=now)

        trust_store.change_lockout(self._spool, count)
        candidates, states = {}, {}
        for row in self._spool.jobs(_SPENDABLE):
            if row.release != "claim" or row.manifest is None:
                continue
            claim = self._stored.reopen(row).display.claim
            if claim is not None:
                candidates[row.status.job_id] = claim
                states[row.status.job_id] = row.status.state
        for job_id, outcome, claim in self._spool.spent_claims():
            candidates.setdefault(job_id, claim)
            states.setdefault(job_id, outcome)
        # One constant-time pass over held and spent jobs alike (protocol 10.3).
        matched = match_claim(code_text, device_id=self._device_id, candidates=candidates)
        held = [j for j in matched if states[j] is JobState.HELD]
        if held:
            trust_store.change_lockout(
                self._spool, lambda state: record_success(state, self._policy, now_s=now)
            )
            return held
        if matched:  # it opened a job that is no longer held: no guess, but no reset either
            trust_store.change_lockout(
                self._spool, lambda state: forgive_attempt(state, self._policy, now_s=now)
            )
            reason = _SPENT_REASON.get(states[matched[-1]], Reason.CLAIM_USED)
            log.info("event=claim_spent job=%s reason=%s", matched[-1], reason.value)
            raise ClaimError(reason, "the code's job is no longer held")
        log.info("event=claim_wrong")
        raise ClaimError(Reason.CLAIM_WRONG, "no held job for this code")

    def locked_for_s(self) -> int:
        """Seconds until a claim code may be tried again (0: now)."""
        return seconds_locked(trust_store.load_lockout(self._spool), now_s=self._now())

    def by_claim(self, code_text: str, *, operator: str) -> list[str]:
        """Release every held job the code opens; returns their ids (see :meth:`match`)."""
        return [j for j in self.match(code_text) if self.by_staff(j, operator=operator)]

    def by_staff(self, job_id: str, *, operator: str) -> bool:
        """Release one held job without a code (the operator is recorded)."""
        return self._book.step(job_id, Step(JobEvent.RELEASE, operator=operator)) is not None
