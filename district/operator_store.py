"""The district's village staff per office (ADR 0034): the ``operators`` and
``operator_lists`` tables, the same SQL on SQLite and PostgreSQL (district schema migration
:data:`OPERATORS_SCHEMA_VERSION`, kept apart so it can be renumbered at a merge).

A central change (district IT's ``add``, ``disable``, ``reset``) upserts the operator, bumps
the office's list version and every device of the office's ``feed_version`` (which wakes
their long-polls) in one transaction. What a kiosk reports about its local staff (audit
records ``operator_add``/``operator_remove``) is noted with ``origin = local`` and never
touches a central operator (the central one wins) nor the version (it is not sent back).
"""

from __future__ import annotations

import inspect
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

# District schema migration of this feature: 7, after 6 (the sealing-key rotation request,
# ADR 0032). Only this constant and the two scripts below belong to it.
OPERATORS_SCHEMA_VERSION: Final = 7
SQLITE_SCHEMA_OPERATORS: Final = """
CREATE TABLE operators (
    office_code TEXT NOT NULL REFERENCES offices(code), operator_id TEXT NOT NULL,
    name TEXT NOT NULL, role TEXT NOT NULL, state TEXT NOT NULL, origin TEXT NOT NULL,
    pin_hash TEXT, pin_once INTEGER NOT NULL DEFAULT 0, pin_expires_s INTEGER,
    updated_s INTEGER NOT NULL, device_id TEXT, PRIMARY KEY (office_code, operator_id));
CREATE TABLE operator_lists (
    office_code TEXT PRIMARY KEY REFERENCES offices(code), version INTEGER NOT NULL);
"""
PG_SCHEMA_OPERATORS: Final = """
CREATE TABLE operators (
    office_code TEXT NOT NULL REFERENCES offices(code), operator_id TEXT NOT NULL,
    name TEXT NOT NULL, role TEXT NOT NULL, state TEXT NOT NULL, origin TEXT NOT NULL,
    pin_hash TEXT, pin_once INTEGER NOT NULL DEFAULT 0, pin_expires_s BIGINT,
    updated_s BIGINT NOT NULL, device_id TEXT, PRIMARY KEY (office_code, operator_id));
CREATE TABLE operator_lists (
    office_code TEXT PRIMARY KEY REFERENCES offices(code), version BIGINT NOT NULL);
"""
_T = TypeVar("_T")
_COLUMNS: Final = ("office_code, operator_id, name, role, state, origin, pin_hash, pin_once, "
                   "pin_expires_s, updated_s, device_id")  # fmt: skip


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """One operator of an office at the district. ``origin``: ``central`` (district IT's)
    or ``local`` (reported by a kiosk: no name, ``device_id`` says which). ``state``:
    ``active`` or ``disabled`` (central), ``active`` or ``removed`` (local)."""

    office_code: str
    operator_id: str
    name: str
    role: str
    state: str
    origin: str
    pin_hash: str | None  # a pending one-time PIN's scrypt hash (never the PIN)
    pin_once: bool
    pin_expires_s: int | None
    updated_s: int
    device_id: str | None = None


class OperatorStore(Protocol):
    """Each method is one transaction."""

    def operator(self, office_code: str, operator_id: str) -> OperatorRecord | None: ...
    def snapshot(self, office_code: str) -> tuple[int, list[OperatorRecord]]: ...
    def list_version(self, office_code: str) -> int: ...
    def save_central(self, record: OperatorRecord) -> int: ...  # the new list version
    def note_local(self, record: OperatorRecord) -> bool: ...
    def clear_one_time_pin(self, office_code: str, operator_id: str, *, at_s: int) -> bool: ...


class _Db(Protocol):
    def connection(self) -> Any: ...
    def write(self) -> AbstractContextManager[Any]: ...


def _record(row: Any) -> OperatorRecord:
    (office, operator_id, name, role, state, origin, pin_hash, pin_once, pin_expires_s,
     updated_s, device_id) = row  # fmt: skip
    return OperatorRecord(
        str(office), str(operator_id), str(name), str(role), str(state), str(origin),
        None if pin_hash is None else str(pin_hash), bool(pin_once),
        None if pin_expires_s is None else int(pin_expires_s), int(updated_s),
        None if device_id is None else str(device_id),
    )  # fmt: skip


class SqlOperatorStore:
    """The operator store over one database (``mark``: its parameter placeholder)."""

    def __init__(self, db: _Db, mark: str) -> None:
        self._db, self._m = db, mark

    def _sql(self, text: str) -> str:
        return text.replace("?", self._m)

    def operator(self, office_code: str, operator_id: str) -> OperatorRecord | None:
        row = self._db.connection().execute(self._sql(
            f"SELECT {_COLUMNS} FROM operators WHERE office_code = ? AND operator_id = ?"
        ), (office_code, operator_id)).fetchone()  # fmt: skip
        return None if row is None else _record(row)

    def snapshot(self, office_code: str) -> tuple[int, list[OperatorRecord]]:
        """The office's list version (0 before the first central change) and every operator,
        central and local, from one statement (one snapshot on both databases). A list
        version exists only with an operator: operators are never deleted."""
        columns = ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(","))
        rows = self._db.connection().execute(self._sql(
            f"SELECT COALESCE(l.version, 0), {columns} FROM operators o LEFT JOIN "
            "operator_lists l ON l.office_code = o.office_code WHERE o.office_code = ? "
            "ORDER BY o.operator_id"
        ), (office_code,)).fetchall()  # fmt: skip
        if not rows:
            return 0, []
        return int(rows[0][0]), [_record(r[1:]) for r in rows]

    def list_version(self, office_code: str) -> int:
        row = self._db.connection().execute(
            self._sql("SELECT version FROM operator_lists WHERE office_code = ?"), (office_code,)
        ).fetchone()  # fmt: skip
        return 0 if row is None else int(row[0])

    def save_central(self, record: OperatorRecord) -> int:
        with self._db.write() as conn:
            conn.execute(self._sql(
                f"INSERT INTO operators ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'central', ?, ?, ?, "
                "?, NULL) ON CONFLICT (office_code, operator_id) DO UPDATE SET "
                "name = excluded.name, role = excluded.role, state = excluded.state, "
                "origin = 'central', pin_hash = excluded.pin_hash, pin_once = excluded.pin_once, "
                "pin_expires_s = excluded.pin_expires_s, updated_s = excluded.updated_s, "
                "device_id = NULL"
            ), (record.office_code, record.operator_id, record.name, record.role, record.state,
                record.pin_hash, int(record.pin_once), record.pin_expires_s,
                record.updated_s))  # fmt: skip
            conn.execute(self._sql(
                "INSERT INTO operator_lists (office_code, version) VALUES (?, 1) "
                "ON CONFLICT (office_code) DO UPDATE SET version = operator_lists.version + 1"
            ), (record.office_code,))  # fmt: skip
            conn.execute(self._sql(
                "UPDATE devices SET feed_version = feed_version + 1 "
                "WHERE office_code = ? AND revoked_s IS NULL"
            ), (record.office_code,))  # fmt: skip
            row = conn.execute(
                self._sql("SELECT version FROM operator_lists WHERE office_code = ?"),
                (record.office_code,),
            ).fetchone()  # fmt: skip
            return int(row[0])

    def note_local(self, record: OperatorRecord) -> bool:
        """Note a kiosk's local operator; False (nothing written) when a central operator
        has that id (the central one wins) or the office is unknown."""
        with self._db.write() as conn:
            found = conn.execute(self._sql(
                "SELECT origin FROM operators WHERE office_code = ? AND operator_id = ?"
            ), (record.office_code, record.operator_id)).fetchone()  # fmt: skip
            if found is not None and str(found[0]) == "central":
                return False
            office = conn.execute(self._sql("SELECT 1 FROM offices WHERE code = ?"),
                                  (record.office_code,)).fetchone()  # fmt: skip
            if office is None:
                return False
            conn.execute(self._sql(
                f"INSERT INTO operators ({_COLUMNS}) VALUES (?, ?, '', ?, ?, 'local', NULL, 0, "
                "NULL, ?, ?) ON CONFLICT (office_code, operator_id) DO UPDATE SET "
                "role = excluded.role, state = excluded.state, updated_s = excluded.updated_s, "
                "device_id = excluded.device_id"
            ), (record.office_code, record.operator_id, record.role, record.state,
                record.updated_s, record.device_id))  # fmt: skip
            return True

    def clear_one_time_pin(self, office_code: str, operator_id: str, *, at_s: int) -> bool:
        """Forget a central operator's pending one-time PIN (the kiosk reported a PIN change
        after it): later lists carry none, so the kiosk's own PIN stays. No new version."""
        with self._db.write() as conn:
            cursor = conn.execute(self._sql(
                "UPDATE operators SET pin_hash = NULL, pin_once = 0, pin_expires_s = NULL "
                "WHERE office_code = ? AND operator_id = ? AND origin = 'central' "
                "AND pin_once = 1 AND updated_s <= ?"
            ), (office_code, operator_id, at_s))  # fmt: skip
            return int(cursor.rowcount) == 1


def store_methods(cls: type[_T]) -> type[_T]:
    """Copy the public methods into ``cls`` itself, so a store's error decorator (which
    wraps a class's own methods) wraps them."""
    for name, member in vars(SqlOperatorStore).items():
        if inspect.isfunction(member) and not name.startswith("_"):
            setattr(cls, name, member)
    return cls
