"""The stores translate every ``sqlite3.Error`` into the error tree (issue 15 item 4): a
caller above a store never sees a ``sqlite3`` exception, and the cause is kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.spool import Spool, SpoolError
from district.backup import backup_home
from district.keyring import DATABASE
from district.sqlite_store import SqliteStore
from kiosk.errors import StoreError

NOT_A_DATABASE = b"this is not an SQLite file, it is a damaged spool " * 200


def test_a_damaged_spool_is_a_spool_error_at_open(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    path.write_bytes(NOT_A_DATABASE)
    with pytest.raises(SpoolError) as caught:
        Spool(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert "Spool.__init__" in str(caught.value)


def test_a_spool_damaged_while_open_is_a_spool_error_on_use(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.set_meta({"k": b"v"})
    spool.close()  # the next call opens a new connection on the damaged file
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(NOT_A_DATABASE)
    with pytest.raises(SpoolError) as caught:
        spool.get_meta("k")
    assert isinstance(caught.value, StoreError)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    spool.close()


def test_a_damaged_district_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "district.db"
    path.write_bytes(NOT_A_DATABASE)
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_backup_of_a_damaged_district_is_a_store_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    home, dest = tmp_path / "home", tmp_path / "backups"
    (home / "keys").mkdir(parents=True)
    (home / DATABASE).write_bytes(NOT_A_DATABASE)
    with pytest.raises(StoreError):
        backup_home(home, dest)
    assert list(dest.iterdir()) == []  # no half-written copy
