"""The SQLite plumbing the spool and the district store share: private file, one connection
per thread, BEGIN IMMEDIATE writes, forward-only migrations."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from cedoka_io.sqlite import NewerSchemaError, SqliteFile

V1 = "CREATE TABLE t (k TEXT PRIMARY KEY);"
V2 = "ALTER TABLE t ADD COLUMN v INTEGER;"
MIGRATIONS = {0: V1 + V2, 1: V2}


def _version(db: SqliteFile) -> int:
    return int(db.connection().execute("PRAGMA user_version").fetchone()[0])


def test_a_new_file_is_private_in_wal_mode_with_the_extra_pragmas(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db", pragmas=("secure_delete = ON",))
    assert stat.S_IMODE((tmp_path / "x.db").stat().st_mode) == 0o600
    conn = db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    db.close()


def test_migrations_run_forward_from_any_older_version(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db")
    assert db.migrate(schema_version=1, migrations={0: V1}) == 0
    assert db.migrate(schema_version=2, migrations=MIGRATIONS) == 1
    assert _version(db) == 2
    assert db.migrate(schema_version=2, migrations=MIGRATIONS) == 2  # nothing to do
    db.connection().execute("INSERT INTO t VALUES ('a', 1)")


def test_a_newer_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db")
    db.migrate(schema_version=2, migrations=MIGRATIONS)
    with pytest.raises(NewerSchemaError, match="schema 2 is newer than this program") as err:
        SqliteFile(tmp_path / "x.db").migrate(schema_version=1, migrations={0: V1})
    assert (err.value.found, err.value.supported) == (2, 1)
    assert _version(db) == 2


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db")
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(schema_version=1, migrations={0: V1 + "ALTER TABLE nowhere ADD x;"})
    conn = db.connection()
    assert not conn.in_transaction
    assert _version(db) == 0
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_missing_migration_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[1\]"):
        SqliteFile(tmp_path / "x.db").migrate(schema_version=2, migrations={0: V1})


def test_a_write_commits_or_rolls_back_whole(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db")
    db.migrate(schema_version=2, migrations=MIGRATIONS)
    with db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('a', 1)")
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('b', 2)")
        raise RuntimeError("changed my mind")
    rows = db.connection().execute("SELECT k FROM t").fetchall()
    assert rows == [("a",)]


def test_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    db = SqliteFile(tmp_path / "x.db")
    seen: list[sqlite3.Connection] = []

    def use() -> None:
        seen.append(db.connection())
        db.close()  # this thread's only

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert seen[0] is not db.connection()
    assert db.connection() is db.connection()
