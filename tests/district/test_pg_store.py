"""What the PostgreSQL store must do beyond the tests both stores share (ADR 0026): the
locks that replace SQLite's one writer, the schema version, errors as StoreError, ranged
blob reads, ``data_version`` across connections, and ``--db`` on the command line. All on
the private cluster of tests/district/pglab.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from district.pg_store import SCHEMA_VERSION, PostgresStore
from district.store import DeviceRow, EnrollCodeRow, JobRow, OfficeRow, WebhookRow
from kiosk.errors import StoreError

OFFICE = "74.08.01.2002"
DEVICE = "dev_pitulua"
CONSOLE = Path(sys.executable).parent / "cedoka-district"


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    db = PostgresStore(pg_url)
    db.add_office(OfficeRow(OFFICE, "Desa Pitulua", 1))
    db.add_enroll_code(EnrollCodeRow("code1", "secret", OFFICE, 1, 10**10, None, None, None))
    device = DeviceRow(DEVICE, OFFICE, "{}", "{}", 1, None, 0, 0, None, "cedoka/0.1", None)
    assert db.consume_enroll_code("code1", device=device, nonce="n", digest="d",
                                  response=b"r", at_s=2)  # fmt: skip
    yield db
    db.close()


def _job(seq: int) -> JobRow:
    return JobRow(f"job{seq}", DEVICE, OFFICE, seq, "claim", b"token", 3, 10**10, None, None,
                  None, None)  # fmt: skip


def _wait_until_blocked(url: str, query: str) -> None:
    """Wait until another session waits for a lock while running ``query``."""
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s",
                (f"%{query}%",),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    raise AssertionError(f"no session waited on {query!r}")


def test_of_two_racing_pushes_for_one_seq_exactly_one_is_stored(
    store: PostgresStore, pg_url: str
) -> None:
    outcome: list[object] = []
    with psycopg.connect(pg_url) as other:  # another server process, mid-push
        other.execute("UPDATE devices SET seq = seq + 1 WHERE device_id = %s", (DEVICE,))
        racer = threading.Thread(target=lambda: outcome.append(_try(store.add_job, _job(1), {})))
        racer.start()
        _wait_until_blocked(pg_url, "UPDATE devices SET seq")
        other.commit()  # the other push commits seq 1 first
    racer.join(timeout=10)
    assert isinstance(outcome[0], StoreError) and "retry the push" in str(outcome[0])
    assert store.job("job1") is None and store.next_seq(DEVICE) == 2


def _try(method: object, *args: object) -> object:
    try:
        return method(*args)  # type: ignore[operator]
    except StoreError as error:
        return error


def test_an_enrolment_code_is_consumed_once_when_two_kiosks_race(
    store: PostgresStore, pg_url: str
) -> None:
    store.add_enroll_code(EnrollCodeRow("code2", "s", OFFICE, 1, 10**10, None, None, None))
    second = DeviceRow("dev_two", OFFICE, "{}", "{}", 5, None, 0, 0, None, None, None)
    won: list[object] = []
    with psycopg.connect(pg_url) as other:
        other.execute("UPDATE enroll_codes SET consumed_s = 4 WHERE code_id = 'code2'")
        racer = threading.Thread(target=lambda: won.append(store.consume_enroll_code(
            "code2", device=second, nonce="n2", digest="d2", response=b"", at_s=5)))  # fmt: skip
        racer.start()
        _wait_until_blocked(pg_url, "UPDATE enroll_codes")
        other.commit()
    racer.join(timeout=10)
    assert won == [False] and store.device("dev_two") is None


def test_claim_due_skips_messages_another_process_is_claiming(
    store: PostgresStore, pg_url: str
) -> None:
    store.add_job(_job(1), {})
    store.webhooks.add_webhook(WebhookRow("wh1", "u", "https://x.test/", "whsec_x",
                                          ("job.cancelled",), True, 1, None))  # fmt: skip
    assert store.cancel_job("job1", at_s=10, reason="wrong_document")
    store.add_job(_job(2), {})
    assert store.cancel_job("job2", at_s=11, reason="wrong_document")
    with psycopg.connect(pg_url) as other:  # another process holds the first message
        held = other.execute(
            "SELECT message_id FROM webhook_outbox ORDER BY next_at_s LIMIT 1 FOR UPDATE"
        ).fetchone()
        assert held is not None
        claimed = store.webhooks.claim_due(now_s=100, lease_s=60, limit=10)
        assert [m.job_id for m in claimed] == ["job2"] and claimed[0].message_id != held[0]
    assert store.webhooks.claim_due(now_s=100, lease_s=60, limit=10)[0].job_id == "job1"
    assert store.webhooks.claim_due(now_s=100, lease_s=60, limit=10) == []  # both leased


def test_a_document_is_read_by_range_and_stored_uncompressed_out_of_line(
    store: PostgresStore, pg_url: str
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.add_job(_job(1), {"d1": ("KK", data)})
    row = store.blob("job1", "d1")
    assert row is not None and row.size == len(data)
    reader = store.open_blob("job1", "d1")
    assert reader is not None
    chunks, offset = [], 0
    while chunk := reader.read(offset, 256 * 1024):
        chunks.append(chunk)
        offset += len(chunk)
    assert b"".join(chunks) == data and reader.read(len(data) + 5, 10) == b""
    with psycopg.connect(pg_url) as conn:
        storage = conn.execute("SELECT attstorage FROM pg_attribute WHERE attname = 'data' "
                               "AND attrelid = 'blobs'::regclass").fetchone()  # fmt: skip
        assert storage == ("e",)  # EXTERNAL: substring() reads only the range's chunks
        conn.execute("DELETE FROM blobs")
    assert reader.read(0, 10) == b""  # gone meanwhile (purged): the download ends
    reader.close()
    assert store.open_blob("job1", "d1") is None


def test_data_version_moves_when_another_process_changes_a_feed(
    store: PostgresStore, pg_url: str
) -> None:
    before = store.data_version()
    assert store.data_version() == before  # reading changes nothing
    other = PostgresStore(pg_url)  # the command line, in another process
    try:
        other.add_job(_job(1), {})
        pushed = store.data_version()
        assert pushed != before
        other.cancel_job("job1", at_s=5, reason="wrong_document")
        cancelled = store.data_version()
        assert cancelled not in (before, pushed)
        other.revoke_device(DEVICE, at_s=6)
        assert store.data_version() not in (before, pushed, cancelled)
    finally:
        other.close()


def test_database_errors_are_store_errors_and_a_newer_schema_is_refused(
    store: PostgresStore, pg_url: str, pg_cluster: object
) -> None:
    with pytest.raises(StoreError, match=r"PostgresStore\.add_office: .*duplicate key"):
        store.add_office(OfficeRow(OFFICE, "again", 1))
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema {SCHEMA_VERSION + 1} is newer than this program"):
        PostgresStore(pg_url)
    missing = pg_url.replace("/t", "/no_such_db_t", 1)
    with pytest.raises(StoreError, match="no_such_db"):
        PostgresStore(missing)


def _console(home: Path, *argv: str, db: str | None) -> subprocess.CompletedProcess[str]:
    """The installed console script in its own process (PYTHONPATH passes through)."""
    env = {**os.environ, "CEDOKA_DISTRICT_HOME": "", "CEDOKA_DISTRICT_DB": ""}
    db_args = ["--db", db] if db is not None else []
    return subprocess.run([str(CONSOLE), "--home", str(home), *db_args, *argv],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=env)  # fmt: skip


def _one_line_refusal(answer: subprocess.CompletedProcess[str], says: str) -> None:
    assert answer.returncode == 1, (answer.stdout, answer.stderr)
    assert answer.stderr.count("\n") == 1 and "Traceback" not in answer.stderr
    assert answer.stderr.startswith("cedoka-district: error:") and says in answer.stderr


def test_the_command_line_keeps_the_district_in_postgresql_with_db(
    tmp_path: Path, pg_url: str
) -> None:
    home = tmp_path / "district"
    init = _console(home, "init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08",
                    db=pg_url)  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert not (home / "district.sqlite").exists() and (home / "keys").is_dir()
    added = _console(home, "office", "add", OFFICE, "--name", "Desa Pitulua", db=pg_url)
    assert added.returncode == 0, added.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT name FROM offices").fetchall() == [("Desa Pitulua",)]
    code = _console(home, "enroll-code", OFFICE, db=pg_url)
    assert code.returncode == 0, code.stderr
    # without --db the home says where its data is; backup refuses, copying nothing
    _one_line_refusal(_console(home, "jobs", db=None), "give --db postgresql://")
    _one_line_refusal(_console(home, "backup", "--to", str(tmp_path / "bk"), db=pg_url),
                      "pg_dump")  # fmt: skip
    assert not (tmp_path / "bk").exists()
    again = _console(tmp_path / "other", "init", "--name", "X", "--code", "74.08", db=pg_url)
    _one_line_refusal(again, "holds a district already")


def test_a_bad_or_unreachable_database_is_one_line_and_no_password_is_shown(
    tmp_path: Path, pg_cluster: object
) -> None:
    home = tmp_path / "district"
    _one_line_refusal(_console(home, "jobs", db="mysql://x@y/z"), "give a PostgreSQL URL")
    home.mkdir()
    (home / "keys").mkdir()
    url = f"postgresql://cedoka:hunter2-secret@/nowhere?host={tmp_path}/no-socket"
    answer = _console(home, "jobs", db=url)
    _one_line_refusal(answer, "PostgresStore")
    assert "hunter2" not in answer.stderr


def test_connections_of_ended_threads_are_closed(pg_url: str) -> None:
    """anyio's pool threads end after 10 s idle and new ones take the next burst: their
    connections must not pile up past max_connections (the bench's 16,000 kiosks on 4
    processes hit "sorry, too many clients already" before this)."""
    from district.pg_db import PgDatabase

    db = PgDatabase(pg_url)

    def one_query() -> None:
        db.connection().execute("SELECT 1")

    for _ in range(30):  # one after another: each thread has ended before the next starts
        thread = threading.Thread(target=one_query)
        thread.start()
        thread.join()
    one_query()  # this thread's own connection
    try:
        assert db.open_connections() <= 2, db.open_connections()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert row is not None and row[0] <= 2, row
    finally:
        db.close_all()
