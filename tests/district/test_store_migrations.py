"""District store schema 7 is reached from 5 and from 6 on both stores: 6 is the sealing-key
rotation request (ADR 0032: ``devices.seal_rotate_s``), 7 the village staff per office
(ADR 0034: ``operators``, ``operator_lists``). A database is built at the older version with
that version's own scripts (as an older program left it), then opened by this one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from district import operator_store, pg_store, sqlite_store
from district.operator_store import OperatorRecord
from district.pg_identity import SCHEMA_V4 as PG_IDENTITY_V4
from district.pg_store import PostgresStore
from district.pg_webhooks import SCHEMA_V4 as PG_WEBHOOKS_V4
from district.sqlite_identity import SCHEMA_V4 as SQLITE_IDENTITY_V4
from district.sqlite_store import SqliteStore
from district.sqlite_webhooks import SCHEMA_V4 as SQLITE_WEBHOOKS_V4
from district.store import DeviceRow, DistrictStore, EnrollCodeRow

OFFICE = "74.08.01.2002"
DEVICE = "dev_pitulua"


def test_the_schema_numbers_agree() -> None:
    assert operator_store.OPERATORS_SCHEMA_VERSION == 7
    assert sqlite_store.SCHEMA_VERSION == pg_store.SCHEMA_VERSION == 7


def _sqlite_at(path: Path, version: int) -> None:
    script = (sqlite_store._SCHEMA + sqlite_store._SCHEMA_V2 + sqlite_store._SCHEMA_V3
              + sqlite_store._SCHEMA_V4 + SQLITE_IDENTITY_V4 + SQLITE_WEBHOOKS_V4
              + sqlite_store._SCHEMA_V5)  # fmt: skip
    if version >= 6:
        script += sqlite_store._SCHEMA_V6
    conn = sqlite3.connect(path)
    conn.executescript(f"{script}PRAGMA user_version = {version};")
    conn.execute("INSERT INTO offices VALUES (?, ?, ?)", (OFFICE, "Desa Pitulua", 1))
    conn.commit()
    conn.close()


def _pg_at(url: str, version: int) -> None:
    script = pg_store._SCHEMA + PG_IDENTITY_V4 + PG_WEBHOOKS_V4 + pg_store._SCHEMA_V5
    if version >= 6:
        script += pg_store._SCHEMA_V6
    with psycopg.connect(url) as conn:
        conn.execute(script.encode())
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
        conn.execute("INSERT INTO offices VALUES (%s, %s, %s)", (OFFICE, "Desa Pitulua", 1))


@pytest.mark.parametrize("version", [5, 6])
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_older_database_migrates_to_7(
    kind: str, version: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: DistrictStore
    if kind == "sqlite":
        path = tmp_path / "district.sqlite"
        _sqlite_at(path, version)
        store = SqliteStore(path)
        found = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    else:
        url: str = request.getfixturevalue("pg_url")
        _pg_at(url, version)
        store = PostgresStore(url)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
        assert row is not None
        found = row[0]
    try:
        assert found == 7
        office = store.office(OFFICE)
        assert office is not None and office.name == "Desa Pitulua"
        # schema 6: the sealing-key rotation request on the device row
        store.add_enroll_code(EnrollCodeRow("code1", "secret", OFFICE, 1, 10**10, None, None,
                                            None))  # fmt: skip
        device = DeviceRow(DEVICE, OFFICE, "{}", "{}", 1, None, 0, 0, None, "cedoka/0.1", None)
        assert store.consume_enroll_code("code1", device=device, nonce="n", digest="d",
                                         response=b"r", at_s=2)  # fmt: skip
        assert store.request_seal_rotation(DEVICE, at_s=1234)
        stored = store.device(DEVICE)
        assert stored is not None and stored.seal_rotate_s == 1234
        # schema 7: the office's village staff
        assert store.operators.list_version(OFFICE) == 0
        ani = OperatorRecord(OFFICE, "ani", "Ani", "staff", "active", "central", None, False,
                             None, 5)  # fmt: skip
        assert store.operators.save_central(ani) == 1
        assert store.operators.operator(OFFICE, "ani") == ani
    finally:
        store.close()
