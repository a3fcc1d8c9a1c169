"""The village staff who may use the kiosk: operator ids, display names, roles and PINs.

A PIN is checked with its scrypt hash (:mod:`kiosk.pin`); repeated wrong PINs lock that
operator for a while (the claim lockout's rules, per operator, on the trusted clock).
District IT adds operators with ``cedoka operator add``; the first one should be a
supervisor (settings need one).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from agent.spool import OperatorRow, Spool
from agent.trust import lockout_from_bytes, lockout_to_bytes
from kiosk.audit import OPERATOR
from kiosk.claim import LockoutPolicy, LockoutState, begin_attempt
from kiosk.errors import CedokaError, ClaimLockedError
from kiosk.pin import PinError, hash_pin, pin_matches

Role = Literal["staff", "supervisor"]
ROLES: Final = ("staff", "supervisor")
_NAME = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,40}")
PIN_POLICY: Final = LockoutPolicy(max_failures=5, window_s=900, lock_s=300, max_lock_s=3600)


class StaffError(CedokaError):
    """An operator operation refused; ``code`` is the machine-readable reason:
    ``not_found``, ``pin_wrong``, ``operator_locked`` (with ``retry_after_s``), ``taken``,
    ``bad_pin``, ``bad_id``, ``bad_name``, ``bad_role``; for operators from the district
    (ADR 0034) ``operator_disabled``, ``pin_change_required`` (the right one-time PIN: the
    operator must choose their own first), ``pin_expired`` (a one-time PIN too old),
    ``pin_same`` (the new PIN is the old one)."""

    def __init__(self, code: str, message: str, *, retry_after_s: int = 0) -> None:
        super().__init__(message)
        self.code, self.retry_after_s = code, retry_after_s


@dataclass(frozen=True, slots=True)
class Operator:
    operator_id: str
    name: str
    role: Role
    created_s: int = 0  # when added: an id removed and added again is another operator
    origin: str = "local"  # local (added on this kiosk) | central (from the district)

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def _public(row: OperatorRow) -> Operator:
    role: Role = "supervisor" if row.role == "supervisor" else "staff"
    return Operator(row.operator_id, row.name, role, row.created_s, row.origin)


def _disabled(row: OperatorRow) -> bool:
    """Disabled by the district: a central disable beats anything local (ADR 0034)."""
    return row.origin == "central" and row.central_state != "active"


class OperatorBook:
    def __init__(self, spool: Spool, *, now_s: Callable[[], int],
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:  # fmt: skip
        self._spool, self._now_s, self._random = spool, now_s, random_bytes

    @property
    def spool(self) -> Spool:
        return self._spool

    def list(self) -> list[Operator]:
        """The operators who may sign in (not those the district disabled)."""
        return [_public(r) for r in self._spool.operators() if not _disabled(r)]

    def get(self, operator_id: str) -> Operator | None:
        """The operator, None when unknown or disabled by the district (a session ends)."""
        row = self._spool.operator(operator_id)
        return None if row is None or _disabled(row) else _public(row)

    def add(self, operator_id: str, *, name: str, role: str, pin: str) -> Operator:
        if not OPERATOR.fullmatch(operator_id):
            raise StaffError("bad_id", "an operator id is 1-32 of a-z 0-9 . _ -")
        name = " ".join(name.split())
        if not _NAME.fullmatch(name):
            raise StaffError("bad_name", "a name is 1-40 printable characters")
        if role not in ROLES:
            raise StaffError("bad_role", "the role is staff or supervisor")
        row = OperatorRow(operator_id, name, role, self._hash(pin), None, self._now_s())
        if not self._spool.add_operator(row):
            raise StaffError("taken", f"operator {operator_id} exists already")
        return _public(row)

    def set_pin(self, operator_id: str, pin: str) -> None:
        """A new PIN (also clears a lockout)."""
        if not self._spool.update_operator(operator_id, pin_hash=self._hash(pin)):
            raise StaffError("not_found", f"no operator {operator_id}")

    def remove(self, operator_id: str) -> None:
        if not self._spool.remove_operator(operator_id):
            raise StaffError("not_found", f"no operator {operator_id}")

    def change_pin(self, operator_id: str, pin: str, new_pin: str) -> Operator:
        """The operator's own new PIN, given their current one (also a one-time PIN from the
        district, which then stops working). A wrong ``pin`` counts towards the lockout.

        Raises:
            StaffError: as :meth:`check` (but ``pin_change_required``), ``bad_pin``,
                ``pin_same``.
        """
        operator = self._check(operator_id, pin, one_time_ok=True)
        if new_pin == pin:
            raise StaffError("pin_same", "the new PIN must differ from the old one")
        self.set_pin(operator_id, new_pin)
        return operator

    def check(self, operator_id: str, pin: str) -> Operator:
        """The operator, when ``pin`` is theirs; a wrong PIN counts towards their lockout.

        A one-time PIN from the district is refused as ``pin_change_required`` even when
        right (the lockout count is cleared): the operator must choose their own PIN first
        (:meth:`change_pin`).

        Raises:
            StaffError: ``not_found``, ``operator_disabled``, ``operator_locked``,
                ``pin_wrong``, ``pin_expired``, ``pin_change_required``.
        """
        return self._check(operator_id, pin, one_time_ok=False)

    def _check(self, operator_id: str, pin: str, *, one_time_ok: bool) -> Operator:
        """The operator, when ``pin`` is theirs; a wrong PIN counts towards their lockout.

        The attempt is counted *before* the slow hash, in the transaction that reads the
        lockout (:func:`kiosk.claim.begin_attempt`): PINs tried at the same moment are counted
        one after the other, so no more than ``max_failures`` are ever checked; the right PIN
        then clears the count.

        Raises:
            StaffError: ``not_found``, ``operator_locked`` or ``pin_wrong``.
        """
        now = self._now_s()
        counted = LockoutState()

        def count(row: OperatorRow) -> bytes:
            nonlocal counted
            try:
                counted = begin_attempt(lockout_from_bytes(row.lockout), PIN_POLICY, now_s=now)
            except ClaimLockedError as error:
                raise StaffError("operator_locked", "too many wrong PINs",
                                 retry_after_s=error.retry_after_s) from None  # fmt: skip
            return lockout_to_bytes(counted)

        row = self._spool.change_operator_lockout(operator_id, count)
        if row is None:
            raise StaffError("not_found", f"no operator {operator_id}")
        if _disabled(row):
            raise StaffError("operator_disabled", "disabled by the district")
        if not pin_matches(pin, row.pin_hash):
            if counted.locked_until_s > now:
                raise StaffError("operator_locked", "too many wrong PINs",
                                 retry_after_s=counted.locked_until_s - now)  # fmt: skip
            raise StaffError("pin_wrong", "wrong PIN")
        self._spool.change_operator_lockout(operator_id, lambda _: None)  # record_success
        if row.pin_once:
            if row.pin_expires_s is not None and now >= row.pin_expires_s:
                raise StaffError("pin_expired", "the one-time PIN has expired")
            if not one_time_ok:
                raise StaffError("pin_change_required", "choose your own PIN first")
        return _public(row)

    def _hash(self, pin: str) -> str:
        try:
            return hash_pin(pin, random_bytes=self._random)
        except PinError as error:
            raise StaffError("bad_pin", str(error)) from None
