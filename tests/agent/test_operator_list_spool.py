"""The district's office list in the kiosk's spool (ADR 0034, spool schema 5), on a real
SQLite file: what wins on conflict, the one-time PIN's life, and the migration that keeps a
kiosk's existing staff."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent import spool as spool_module
from agent.operators import OperatorBook, StaffError
from agent.spool import CentralOperator, Spool
from kiosk.pin import hash_pin

NOW = 1_800_000_000


def _hash(pin: str) -> str:
    return hash_pin(pin, random_bytes=lambda n: bytes(range(n)))


def _refused(book: OperatorBook, operator_id: str, pin: str) -> str:
    with pytest.raises(StaffError) as refused:
        book.check(operator_id, pin)
    return refused.value.code


def test_what_wins_and_the_one_time_pin(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    clock = [NOW]
    book = OperatorBook(spool, now_s=lambda: clock[0])
    book.add("ani", name="Ani lokal", role="supervisor", pin="4826")  # local first
    book.add("rudi", name="Rudi", role="staff", pin="3972")
    one_time = _hash("5190")
    ani = CentralOperator("ani", "Ani Wulandari", "staff", "active", one_time, NOW + 3600)
    assert spool.apply_operator_list(1, [ani], now_s=NOW)
    assert not spool.apply_operator_list(1, [ani], now_s=NOW)  # the same version: nothing
    got = book.get("ani")
    assert got is not None and (got.name, got.role, got.origin) == ("Ani Wulandari", "staff",
                                                                    "central")  # fmt: skip
    assert _refused(book, "ani", "4826") == "pin_wrong"  # the central reset replaced it
    assert _refused(book, "ani", "5190") == "pin_change_required"
    book.change_pin("ani", "5190", "6038")
    assert book.check("ani", "6038").operator_id == "ani"
    # A later list still carrying the same pending hash leaves the clerk's own PIN alone.
    assert spool.apply_operator_list(2, [ani], now_s=NOW)
    assert book.check("ani", "6038").operator_id == "ani"
    # A new reset (a new hash) replaces it again; past pin_exp it is refused.
    again = CentralOperator("ani", "Ani Wulandari", "staff", "active", _hash("7291"), NOW + 60)
    assert spool.apply_operator_list(3, [again], now_s=NOW)
    clock[0] = NOW + 61
    assert _refused(book, "ani", "7291") == "pin_expired"
    # Disabled centrally, or left out of a later list: refused whatever the PIN.
    assert spool.apply_operator_list(4, [], now_s=NOW)
    assert _refused(book, "ani", "7291") == "operator_disabled"
    assert book.get("ani") is None and [o.operator_id for o in book.list()] == ["rudi"]
    assert book.check("rudi", "3972").origin == "local"  # local staff untouched
    assert spool.operators_version() == 4
    spool.close()


def test_the_migration_keeps_the_kiosks_staff(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(spool_module._SCHEMA + spool_module._SCHEMA_V2 + spool_module._SCHEMA_V3
                           + spool_module._SCHEMA_V4 + "PRAGMA user_version = 4;")  # fmt: skip
        conn.execute("INSERT INTO operators (operator_id, name, role, pin_hash, created_s) "
                     "VALUES ('siti', 'Siti', 'supervisor', ?, 1)", (_hash("4826"),))  # fmt: skip
    conn.close()
    spool = Spool(path)
    book = OperatorBook(spool, now_s=lambda: NOW)
    siti = book.check("siti", "4826")
    assert siti.origin == "local" and siti.is_supervisor and spool.operators_version() == 0
    spool.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == spool_module.SCHEMA_VERSION
    conn.close()
