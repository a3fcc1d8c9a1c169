"""Village staff managed from the district (ADR 0034): district IT adds, disables and resets
an office's operators; every kiosk of the office receives the list in its feed, signed and
sealed (:mod:`kiosk.operator_list`).

``add`` and ``reset`` make a one-time PIN (the kiosk's PIN rules), return it once for
district IT to tell the clerk, and keep only its scrypt hash, valid
:data:`~kiosk.operator_list.ONE_TIME_PIN_VALID_S`; the kiosk makes the clerk choose their own
PIN at the first sign-in, which stays on the kiosk. Every refusal is an
:class:`~kiosk.errors.OperatorError` whose message says why.
"""

from __future__ import annotations

import builtins
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from district.keyring import Keys
from district.operator_store import OperatorRecord
from district.store import DeviceRow
from kiosk.errors import OperatorError, RejectedError
from kiosk.ids import OFFICE_CODE
from kiosk.keys import parse_x25519_jwk
from kiosk.operator_list import (
    MAX_OPERATORS,
    NAME,
    ONE_TIME_PIN_VALID_S,
    OPERATOR_ID,
    OPERATORS_LIFETIME_S,
    ROLES,
    ListedOperator,
    OperatorList,
    issue_operator_list,
)
from kiosk.pin import hash_pin, one_time_pin
from kiosk.report import parse_heartbeat
from kiosk.strictjson import loads_strict


@dataclass(frozen=True, slots=True)
class PinGiven:
    """A central change that made a one-time PIN: tell it to the clerk, once."""

    operator: OperatorRecord
    pin: str
    version: int


class DistrictOperators:
    """District IT's operations on an office's staff."""

    def __init__(self, keys: Keys, *, now_s: Callable[[], int] = lambda: int(time.time()),
                 random_below: Callable[[int], int] = secrets.randbelow,
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:  # fmt: skip
        self._keys, self._store = keys, keys.store
        self._now_s, self._below, self._random = now_s, random_below, random_bytes

    def _office(self, code: str) -> None:
        if not OFFICE_CODE.fullmatch(code) or self._store.office(code) is None:
            raise OperatorError(f"unknown office {code}")

    def _existing(self, office: str, operator_id: str) -> OperatorRecord:
        self._office(office)
        found = self._store.operators.operator(office, operator_id)
        if found is None or found.origin != "central":
            raise OperatorError(f"no operator {operator_id} managed by the district at {office}"
                                " (add them first)")  # fmt: skip
        return found

    def _one_time(self, record: OperatorRecord, now: int) -> PinGiven:
        pin = one_time_pin(self._below)
        record = replace(record, pin_hash=hash_pin(pin, random_bytes=self._random),
                         pin_once=True, pin_expires_s=now + ONE_TIME_PIN_VALID_S,
                         updated_s=now)  # fmt: skip
        version = self._store.operators.save_central(record)
        return PinGiven(record, pin, version)

    def add(self, office: str, operator_id: str, *, name: str, role: str) -> PinGiven:
        """Add (or take over from a kiosk's local list, or enable again) an operator with a
        one-time PIN."""
        self._office(office)
        if not OPERATOR_ID.fullmatch(operator_id):
            raise OperatorError(f"{operator_id!r} is not an operator id: 1-32 of a-z 0-9 . _ -")
        name = " ".join(name.split())
        if not NAME.fullmatch(name):
            raise OperatorError("a name is 1-40 printable characters")
        if role not in ROLES:
            raise OperatorError("the role is staff or supervisor")
        _, listed = self._store.operators.snapshot(office)
        central = [r for r in listed if r.origin == "central"]
        if not any(r.operator_id == operator_id for r in central) and len(central) >= MAX_OPERATORS:
            raise OperatorError(f"an office has at most {MAX_OPERATORS} operators")
        now = self._now_s()
        record = OperatorRecord(office, operator_id, name, role, "active", "central", None,
                                False, None, now)  # fmt: skip
        return self._one_time(record, now)

    def disable(self, office: str, operator_id: str) -> int:
        """Disable an operator on every kiosk of the office; returns the new list version."""
        record = self._existing(office, operator_id)
        return self._store.operators.save_central(replace(
            record, state="disabled", pin_hash=None, pin_once=False, pin_expires_s=None,
            updated_s=self._now_s(),
        ))  # fmt: skip

    def reset(self, office: str, operator_id: str) -> PinGiven:
        """A new one-time PIN for an active operator (the kiosk's PIN is replaced)."""
        record = self._existing(office, operator_id)
        if record.state != "active":
            raise OperatorError(f"operator {operator_id} is disabled: add them again to enable")
        return self._one_time(record, self._now_s())

    def list(self, office: str) -> tuple[int, list[OperatorRecord]]:
        """The office's list version and its central and local staff."""
        self._office(office)
        return self._store.operators.snapshot(office)

    def kiosks(self, office: str) -> builtins.list[dict[str, object]]:
        """The office's enrolled kiosks and the list version each last reported applying
        (its heartbeat's ``operators_version``; None: not reported, e.g. an older agent)."""
        self._office(office)
        out: builtins.list[dict[str, object]] = []
        for device in self._store.devices():
            if device.office_code != office or device.revoked_s is not None:
                continue
            try:
                held = None if device.heartbeat is None else (
                    parse_heartbeat(device.heartbeat).operators_version)  # fmt: skip
            except RejectedError:
                held = None
            out.append({"device_id": device.device_id, "operators_version": held,
                        "last_seen_s": device.last_seen_s})  # fmt: skip
        return out


def operator_json(record: OperatorRecord) -> dict[str, object]:
    """An operator as the command line's ``--json`` and the admin API show it (never a PIN
    nor its hash: only whether a one-time PIN is pending, and until when)."""
    return {"id": record.operator_id, "name": record.name, "role": record.role,
            "state": record.state, "origin": record.origin, "device_id": record.device_id,
            "pin_pending": record.pin_once and record.pin_hash is not None,
            "pin_expires_s": record.pin_expires_s, "updated_s": record.updated_s}  # fmt: skip


def operator_list_token(keys: Keys, device: DeviceRow, *, now_s: int) -> tuple[int, bytes | None]:
    """The office's list version and the token for ``device`` (None: no list yet): the
    central operators; a one-time PIN only while pending and unexpired."""
    version, records = keys.store.operators.snapshot(device.office_code)
    if version == 0:
        return 0, None
    listed = tuple(
        ListedOperator(
            r.operator_id, r.name, r.role, r.state,
            pin=r.pin_hash if pending else None,
            pin_expires_s=r.pin_expires_s if pending else None,
        )
        for r in records
        if r.origin == "central"
        for pending in [bool(r.pin_once and r.pin_hash and (r.pin_expires_s or 0) > now_s)]
    )  # fmt: skip
    token = issue_operator_list(
        OperatorList(keys.district_code, device.device_id, device.office_code, version, now_s,
                     now_s + OPERATORS_LIFETIME_S, listed),
        seal_key=parse_x25519_jwk(loads_strict(device.seal_jwk.encode(), max_bytes=1024)),
        signer=keys.active_signer(now_s=now_s),
    )  # fmt: skip
    return version, token
