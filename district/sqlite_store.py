"""``DistrictStore`` on SQLite: one file in the district's home, WAL, one connection per thread.

All the district's SQL lives here. Writes run in ``BEGIN IMMEDIATE`` transactions (no lock
upgrade deadlocks between the server and the command line); the schema version is in
``PRAGMA user_version`` with forward-only migrations. ``data_version`` lets the long-poll
loop notice commits made by another process (the ``push`` command) cheaply, and
``feed_changes`` then tells it which devices' feeds moved: a trigger writes one row into
``feed_changes`` for every change of a device's ``feed_version``, in the changing
transaction, and keeps the newest :data:`FEED_CHANGES_KEPT` (ADR 0027).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from cedoka_io.sqlite import NewerSchemaError, SqliteFile, sqlite_errors_as
from district import webhook_events
from district.operator_store import (
    OPERATORS_SCHEMA_VERSION,
    SQLITE_SCHEMA_OPERATORS,
    SqlOperatorStore,
    store_methods,
)
from district.sqlite_identity import SCHEMA_V4, SqliteIdentityStore
from district.sqlite_webhooks import SCHEMA_V4 as WEBHOOKS_V4
from district.sqlite_webhooks import SqliteWebhookStore, enqueue
from district.store import (
    UNCANCELLABLE_STATES,
    BlobReader,
    BlobRow,
    DeviceRow,
    EnrollCodeRow,
    EventRow,
    FeedChanges,
    JobRow,
    OfficeRow,
    SignerRow,
)
from kiosk.errors import StoreError

# 7 (OPERATORS_SCHEMA_VERSION, ADR 0034): village staff per office; 6: seal-key rotation
# requests (ADR 0032); 5: feed_changes; 4: cancel reasons, district IT, webhooks
SCHEMA_VERSION = OPERATORS_SCHEMA_VERSION
FEED_CHANGES_KEPT = 10_000  # a reader further behind reads every device's version again
# Which devices' feeds changed, in commit order, for the long-poll's notifier (ADR 0027):
# written by a trigger, so no code path that bumps a feed_version can forget it.
_SCHEMA_V5 = f"""
CREATE TABLE feed_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,
    feed_version INTEGER NOT NULL);
CREATE TRIGGER feed_changed AFTER UPDATE OF feed_version ON devices
WHEN NEW.feed_version != OLD.feed_version BEGIN
    INSERT INTO feed_changes (device_id, feed_version) VALUES (NEW.device_id, NEW.feed_version);
    DELETE FROM feed_changes
    WHERE id <= (SELECT MAX(id) FROM feed_changes) - {FEED_CHANGES_KEPT};
END;
"""
# When district IT last asked a device to rotate its sealing key (protocol 6.3 ``seal_rotate``).
# Kept apart so the lead may renumber it at a merge.
_SCHEMA_V6 = """
ALTER TABLE devices ADD COLUMN seal_rotate_s INTEGER;
"""
# Why district IT cancelled a job (``cancel --reason``): a code, kept at the district only.
_SCHEMA_V4 = """
ALTER TABLE jobs ADD COLUMN cancel_reason TEXT;
"""
# Enrolment retries are recognised by a digest of the consuming request's keys and nonce,
# so a code's secret can be erased once it is spent (used or expired).
_SCHEMA_V3 = """
ALTER TABLE enroll_codes ADD COLUMN request_digest TEXT;
UPDATE enroll_codes SET secret = '' WHERE consumed_s IS NOT NULL;
"""
_PRIVATE = 0o600  # the database, its -wal and -shm: keys' metadata, sealed documents
# Kiosks' audit records (kiosk.audit): one row per (device, seq), kept as signed evidence.
_SCHEMA_V2 = """
CREATE TABLE audit (
    device_id TEXT NOT NULL REFERENCES devices(device_id), seq INTEGER NOT NULL,
    hash TEXT NOT NULL, at_s INTEGER NOT NULL, record BLOB NOT NULL, token BLOB NOT NULL,
    received_s INTEGER NOT NULL, PRIMARY KEY (device_id, seq));
"""
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE signers (
    kid TEXT PRIMARY KEY, not_before_s INTEGER NOT NULL, not_after_s INTEGER NOT NULL,
    retired_s INTEGER);
CREATE TABLE offices (code TEXT PRIMARY KEY, name TEXT NOT NULL, created_s INTEGER NOT NULL);
CREATE TABLE enroll_codes (
    code_id TEXT PRIMARY KEY, secret TEXT NOT NULL,
    office_code TEXT NOT NULL REFERENCES offices(code),
    created_s INTEGER NOT NULL, expires_s INTEGER NOT NULL, consumed_s INTEGER,
    request_nonce TEXT, response BLOB);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY, office_code TEXT NOT NULL REFERENCES offices(code),
    auth_jwk TEXT NOT NULL, seal_jwk TEXT NOT NULL, enrolled_s INTEGER NOT NULL,
    revoked_s INTEGER, seq INTEGER NOT NULL DEFAULT 0, feed_version INTEGER NOT NULL DEFAULT 0,
    last_seen_s INTEGER, agent TEXT, heartbeat BLOB);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(device_id),
    office_code TEXT NOT NULL, seq INTEGER NOT NULL, release TEXT NOT NULL, token BLOB NOT NULL,
    created_s INTEGER NOT NULL, expires_s INTEGER NOT NULL, cancelled_s INTEGER,
    state TEXT, state_s INTEGER, reason TEXT, UNIQUE (device_id, seq));
CREATE TABLE blobs (
    job_id TEXT NOT NULL REFERENCES jobs(job_id), doc_id TEXT NOT NULL, doc_type TEXT NOT NULL,
    data BLOB NOT NULL, sha256 BLOB NOT NULL, PRIMARY KEY (job_id, doc_id));
CREATE TABLE events (
    event_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, job_id TEXT NOT NULL,
    event TEXT NOT NULL, state TEXT NOT NULL, at_s INTEGER NOT NULL, reason TEXT,
    token BLOB NOT NULL, received_s INTEGER NOT NULL);
CREATE INDEX events_by_job ON events (job_id, at_s);
"""
_JOB_COLUMNS = (
    "job_id, device_id, office_code, seq, release, token, created_s, expires_s, cancelled_s, "
    "state, state_s, reason, cancel_reason"
)
_CODE_COLUMNS = (
    "code_id, secret, office_code, created_s, expires_s, consumed_s, request_nonce, response, "
    "request_digest"
)
_DEVICE_COLUMNS = (
    "device_id, office_code, auth_jwk, seal_jwk, enrolled_s, revoked_s, seq, feed_version, "
    "last_seen_s, agent, heartbeat, seal_rotate_s"
)
# A kiosk's reported state ranks; a late, older report never overwrites a newer one.
_TERMINAL_STATES = ("handed_over", "rejected", "expired", "cancelled", "purged")


@sqlite_errors_as(StoreError)
@store_methods
class SqliteOperatorStore(SqlOperatorStore):
    """The operator store (:mod:`district.operator_store`) in the district's SQLite file."""

    def __init__(self, db: SqliteFile) -> None:
        super().__init__(db, "?")


def _marks(count: int) -> str:
    return ", ".join("?" * count)


@sqlite_errors_as(StoreError)
class SqliteStore:
    """The SQLite implementation of :class:`district.store.DistrictStore`."""

    def __init__(self, path: Path) -> None:
        """Open (creating it 0600 if missing) and migrate the store; raises :class:`StoreError`
        when its schema is newer than this program's."""
        self._path = path
        # Private whatever the umask: SQLite creates -wal and -shm with the database's mode.
        # Erased values (spent enrolment secrets) leave no copy in a page's free space.
        self._db = SqliteFile(path, pragmas=("secure_delete = ON",))
        self._make_private()
        ops = SQLITE_SCHEMA_OPERATORS  # 7: village staff per office (ADR 0034)
        v4 = _SCHEMA_V4 + SCHEMA_V4 + WEBHOOKS_V4 + _SCHEMA_V5 + _SCHEMA_V6 + ops
        migrations = {0: _SCHEMA + _SCHEMA_V2 + _SCHEMA_V3 + v4, 1: _SCHEMA_V2 + _SCHEMA_V3 + v4,
                      2: _SCHEMA_V3 + v4, 3: v4, 4: _SCHEMA_V5 + _SCHEMA_V6 + ops,
                      5: _SCHEMA_V6 + ops, 6: ops}  # fmt: skip
        try:
            self._db.migrate(schema_version=SCHEMA_VERSION, migrations=migrations)
        except NewerSchemaError as err:
            raise StoreError(f"{path}: schema {err.found} is newer than this program") from err
        self.identity = SqliteIdentityStore(self._db)
        self.webhooks = SqliteWebhookStore(self._db)
        self.operators = SqliteOperatorStore(self._db)

    def _make_private(self) -> None:
        """Mode 0600 for the database and its -wal/-shm (made by an older version, or under
        another umask, they may be readable by others)."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self._path}{suffix}", _PRIVATE)

    def _conn(self) -> sqlite3.Connection:
        return self._db.connection()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.write()

    def close(self) -> None:
        """Close every thread's connection (the command line's end, the server's clean
        stop): the last one out leaves no ``-wal`` or ``-shm`` file beside the database."""
        self._db.close_all()

    # --- district meta and keys ---------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def signers(self) -> list[SignerRow]:
        rows = self._conn().execute(
            "SELECT kid, not_before_s, not_after_s, retired_s FROM signers ORDER BY not_before_s"
        )
        return [SignerRow(*row) for row in rows]

    def add_signer(self, row: SignerRow) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO signers VALUES (?, ?, ?, ?)",
                (row.kid, row.not_before_s, row.not_after_s, row.retired_s),
            )

    def retire_signer(self, kid: str, *, at_s: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE signers SET retired_s = ? WHERE kid = ?", (at_s, kid))

    def bump_all_feeds(self) -> None:
        with self._write() as conn:
            conn.execute("UPDATE devices SET feed_version = feed_version + 1")

    # --- offices and enrolment ----------------------------------------------------------
    def add_office(self, row: OfficeRow) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO offices VALUES (?, ?, ?)", (row.code, row.name, row.created_s)
            )

    def office(self, code: str) -> OfficeRow | None:
        row = self._conn().execute("SELECT * FROM offices WHERE code = ?", (code,)).fetchone()
        return None if row is None else OfficeRow(*row)

    def offices(self) -> list[OfficeRow]:
        return [OfficeRow(*r) for r in self._conn().execute("SELECT * FROM offices ORDER BY code")]

    def add_enroll_code(self, row: EnrollCodeRow) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO enroll_codes ({_CODE_COLUMNS}) VALUES ({_marks(9)})",
                (row.code_id, row.secret, row.office_code, row.created_s, row.expires_s,
                 row.consumed_s, row.request_nonce, row.response, row.request_digest),
            )  # fmt: skip

    def enroll_code(self, code_id: str) -> EnrollCodeRow | None:
        row = (
            self._conn()
            .execute(f"SELECT {_CODE_COLUMNS} FROM enroll_codes WHERE code_id = ?", (code_id,))
            .fetchone()
        )
        return None if row is None else EnrollCodeRow(*row)

    def consume_enroll_code(
        self, code_id: str, *, device: DeviceRow, nonce: str, digest: str, response: bytes,
        at_s: int,
    ) -> bool:  # fmt: skip
        """Consume the code, erase its secret and create the device in one transaction;
        False if already used. ``digest`` identifies the request for a retry."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE enroll_codes SET consumed_s = ?, request_nonce = ?, response = ?, "
                "request_digest = ?, secret = '' WHERE code_id = ? AND consumed_s IS NULL",
                (at_s, nonce, response, digest, code_id),
            ).rowcount
            if changed != 1:
                return False
            conn.execute(
                f"INSERT INTO devices ({_DEVICE_COLUMNS}) VALUES ({_marks(12)})",
                (device.device_id, device.office_code, device.auth_jwk, device.seal_jwk,
                 device.enrolled_s, None, 0, 0, None, device.agent, None, None),
            )  # fmt: skip
        self._checkpoint()
        return True

    def erase_spent_enroll_secrets(self, *, now_s: int) -> int:
        """Erase the secrets of used and expired codes (a sweep); return how many."""
        with self._write() as conn:
            erased = conn.execute(
                "UPDATE enroll_codes SET secret = '' WHERE secret != '' "
                "AND (consumed_s IS NOT NULL OR expires_s <= ?)",
                (now_s,),
            ).rowcount
        if erased:
            self._checkpoint()
        return erased

    def _checkpoint(self) -> None:
        """After erasing a secret: copy the WAL into the database and empty it, so the old
        page leaves the disk now, not after 1,000 more pages (best effort: a reader may hold
        it back; the next checkpoint then does it)."""
        with contextlib.suppress(sqlite3.Error):
            self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- devices ------------------------------------------------------------------------
    def device(self, device_id: str) -> DeviceRow | None:
        row = (
            self._conn()
            .execute(f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,))
            .fetchone()
        )
        return None if row is None else DeviceRow(*row)

    def devices(self) -> list[DeviceRow]:
        rows = self._conn().execute(f"SELECT {_DEVICE_COLUMNS} FROM devices ORDER BY enrolled_s")
        return [DeviceRow(*row) for row in rows]

    def active_device_for_office(self, office_code: str) -> DeviceRow | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices "
                "WHERE office_code = ? AND revoked_s IS NULL "
                "ORDER BY enrolled_s DESC LIMIT 1",
                (office_code,),
            )
            .fetchone()
        )
        return None if row is None else DeviceRow(*row)

    def revoke_device(self, device_id: str, *, at_s: int) -> bool:
        with self._write() as conn:
            return bool(
                conn.execute(
                    "UPDATE devices SET revoked_s = ?, feed_version = feed_version + 1 "
                    "WHERE device_id = ? AND revoked_s IS NULL",
                    (at_s, device_id),
                ).rowcount
            )

    def set_seal_key(self, device_id: str, seal_jwk: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE devices SET seal_jwk = ? WHERE device_id = ?", (seal_jwk, device_id)
            )

    def request_seal_rotation(self, device_id: str, *, at_s: int) -> bool:
        with self._write() as conn:
            return bool(
                conn.execute(
                    "UPDATE devices SET seal_rotate_s = MAX(COALESCE(seal_rotate_s, 0), ?), "
                    "feed_version = feed_version + 1 WHERE device_id = ? AND revoked_s IS NULL",
                    (at_s, device_id),
                ).rowcount
            )

    def touch_device(self, device_id: str, *, at_s: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE devices SET last_seen_s = MAX(COALESCE(last_seen_s, 0), ?) "
                "WHERE device_id = ?",
                (at_s, device_id),
            )

    def touch_devices(self, touches: Mapping[str, int]) -> None:
        with self._write() as conn:
            conn.executemany(
                "UPDATE devices SET last_seen_s = MAX(COALESCE(last_seen_s, 0), ?) "
                "WHERE device_id = ?",
                [(at_s, device_id) for device_id, at_s in sorted(touches.items())],
            )

    def store_heartbeat(self, device_id: str, body: bytes, *, agent: str, at_s: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE devices SET heartbeat = ?, agent = ?, last_seen_s = ? WHERE device_id = ?",
                (body, agent, at_s, device_id),
            )

    def feed_versions(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT device_id, feed_version FROM devices")
        return {device_id: version for device_id, version in rows}

    def data_version(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    def feed_changes(self, after: int) -> FeedChanges:
        """The feed versions changed since cursor ``after`` (-1: none seen yet): every
        device's version instead when ``after`` is -1 or older than the changes kept."""
        conn = self._conn()
        if after >= 0:
            rows = conn.execute(
                "SELECT id, device_id, feed_version FROM feed_changes WHERE id > ? ORDER BY id",
                (after,),
            ).fetchall()
            # ids are consecutive (one writer; a rollback takes its ids back), and pruning
            # deletes the oldest: a first row past after + 1 means rows were pruned unread
            if not rows or int(rows[0][0]) == after + 1:
                versions = {str(device_id): int(version) for _, device_id, version in rows}
                return FeedChanges(int(rows[-1][0]) if rows else after, versions, complete=False)
        # the cursor first: a change committed meanwhile is read again next time
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'feed_changes'")
        row = seq.fetchone()
        return FeedChanges(0 if row is None else int(row[0]), self.feed_versions(), complete=True)

    # --- jobs and blobs -----------------------------------------------------------------
    def next_seq(self, device_id: str) -> int:
        row = self._conn().execute("SELECT seq FROM devices WHERE device_id = ?", (device_id,))
        return int(row.fetchone()[0]) + 1

    def add_job(self, row: JobRow, blobs: dict[str, tuple[str, bytes]]) -> None:
        """Insert a job and its sealed blobs; the device's seq must be exactly row.seq - 1."""
        with self._write() as conn:
            moved = conn.execute(
                "UPDATE devices SET seq = ?, feed_version = feed_version + 1 "
                "WHERE device_id = ? AND seq = ?",
                (row.seq, row.device_id, row.seq - 1),
            ).rowcount
            if moved != 1:
                raise StoreError("seq changed concurrently: retry the push")
            conn.execute(
                f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({_marks(13)})",
                (row.job_id, row.device_id, row.office_code, row.seq, row.release, row.token,
                 row.created_s, row.expires_s, None, None, None, None, None),
            )  # fmt: skip
            for doc_id, (doc_type, data) in blobs.items():
                conn.execute(
                    "INSERT INTO blobs VALUES (?, ?, ?, ?, ?)",
                    (row.job_id, doc_id, doc_type, data, hashlib.sha256(data).digest()),
                )

    def job(self, job_id: str) -> JobRow | None:
        row = (
            self._conn()
            .execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None else JobRow(*row)

    def jobs(self, *, office_code: str | None = None) -> list[JobRow]:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        args: tuple[str, ...] = ()
        if office_code is not None:
            sql, args = sql + " WHERE office_code = ?", (office_code,)
        return [
            JobRow(*row) for row in self._conn().execute(sql + " ORDER BY created_s, seq", args)
        ]

    def jobs_after(self, device_id: str, after_seq: int, *, limit: int) -> list[JobRow]:
        rows = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (device_id, after_seq, limit),
        )
        return [JobRow(*row) for row in rows]

    def cancelled_open(self, device_id: str, *, now_s: int, limit: int) -> list[str]:
        """Cancelled jobs the kiosk has not yet reported finished, and not yet expired."""
        placeholders = _marks(len(_TERMINAL_STATES))
        rows = self._conn().execute(
            "SELECT job_id FROM jobs WHERE device_id = ? AND cancelled_s IS NOT NULL "
            f"AND expires_s > ? AND (state IS NULL OR state NOT IN ({placeholders})) "
            "ORDER BY cancelled_s DESC LIMIT ?",
            (device_id, now_s, *_TERMINAL_STATES, limit),
        )
        return [row[0] for row in rows]

    def cancel_job(self, job_id: str, *, at_s: int, reason: str) -> bool:
        """Cancel a job the kiosk may still stop: not cancelled yet, not expired, and not
        reported in a state the kiosk cannot cancel from (``UNCANCELLABLE_STATES``). The
        check and the change are one transaction: a report stored meanwhile wins."""
        with self._write() as conn:
            row = conn.execute(
                "UPDATE jobs SET cancelled_s = ?, cancel_reason = ? WHERE job_id = ? "
                "AND cancelled_s IS NULL AND expires_s > ? "
                f"AND (state IS NULL OR state NOT IN ({_marks(len(UNCANCELLABLE_STATES))})) "
                "RETURNING device_id",
                (at_s, reason, job_id, at_s, *UNCANCELLABLE_STATES),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE devices SET feed_version = feed_version + 1 WHERE device_id = ?", row
            )
            enqueue(conn, key=f"cancel_{job_id}", type_=webhook_events.CANCELLED, job_id=job_id,
                    state="cancelled", at_s=at_s, reason=reason, now_s=at_s)  # fmt: skip
            return True

    def reported_states(self, job_id: str) -> set[str]:
        """Every state the kiosk has reported the job in (from its stored events)."""
        rows = self._conn().execute("SELECT DISTINCT state FROM events WHERE job_id = ?",
                                    (job_id,))  # fmt: skip
        return {str(r[0]) for r in rows}

    def blob(self, job_id: str, doc_id: str) -> BlobRow | None:
        row = (
            self._conn()
            .execute(
                "SELECT job_id, doc_id, length(data), sha256 FROM blobs "
                "WHERE job_id = ? AND doc_id = ?",
                (job_id, doc_id),
            )
            .fetchone()
        )
        return None if row is None else BlobRow(*row)

    def open_blob(self, job_id: str, doc_id: str) -> BlobReader | None:
        """A reader on its own connection, holding SQLite's incremental blob handle for the
        whole download: each chunk reads only its pages, so a download costs time in
        proportion to its size (substr() per chunk would load the whole blob every time)."""
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30,
                               check_same_thread=False)  # fmt: skip
        try:
            row = conn.execute("SELECT rowid FROM blobs WHERE job_id = ? AND doc_id = ?",
                               (job_id, doc_id)).fetchone()  # fmt: skip
            if row is None:
                conn.close()
                return None
            return _SqliteBlobReader(conn, conn.blobopen("blobs", "data", row[0], readonly=True))
        except BaseException:
            conn.close()
            raise

    def blobs(self, job_id: str) -> list[BlobRow]:
        rows = self._conn().execute(
            "SELECT job_id, doc_id, length(data), sha256 FROM blobs "
            "WHERE job_id = ? ORDER BY rowid",
            (job_id,),
        )
        return [BlobRow(*row) for row in rows]

    # --- reports ------------------------------------------------------------------------
    def add_audit(self, *, device_id: str, seq: int, hash_: str, at_s: int, record: bytes,
                  token: bytes, received_s: int) -> str:  # fmt: skip
        """Store one audit record: ``stored``, ``duplicate`` (same seq and hash) or
        ``conflict`` (another record holds that seq: the first one is kept)."""
        with self._write() as conn:
            row = conn.execute("SELECT hash FROM audit WHERE device_id = ? AND seq = ?",
                               (device_id, seq)).fetchone()  # fmt: skip
            if row is not None:
                return "duplicate" if row[0] == hash_ else "conflict"
            conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (device_id, seq, hash_, at_s, record, token, received_s))  # fmt: skip
            return "stored"

    def job_events(self, job_id: str) -> list[EventRow]:
        rows = self._conn().execute(
            "SELECT event_id, event, state, at_s, reason, received_s FROM events "
            "WHERE job_id = ? ORDER BY at_s, received_s, rowid",
            (job_id,),
        )
        return [EventRow(*row) for row in rows]

    def audit(self, device_id: str) -> list[tuple[int, bytes, str]]:
        sql = "SELECT seq, record, hash FROM audit WHERE device_id = ? ORDER BY seq"
        rows = self._conn().execute(sql, (device_id,)).fetchall()
        return [(int(seq), record if isinstance(record, bytes) else str(record).encode(),
                 str(hash_)) for seq, record, hash_ in rows]  # fmt: skip

    def add_event(
        self, *, event_id: str, device_id: str, job_id: str, event: str, state: str,
        at_s: int, reason: str | None, token: bytes, received_s: int,
    ) -> bool:  # fmt: skip
        """Store an event once (False for a duplicate) and move the job's latest state."""
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, device_id, job_id, event, state, at_s, reason, token, received_s),
            ).rowcount
            if inserted:
                conn.execute(
                    "UPDATE jobs SET state = ?, state_s = ?, reason = ? "
                    "WHERE job_id = ? AND device_id = ? AND (state_s IS NULL OR state_s <= ?)",
                    (state, at_s, reason, job_id, device_id, at_s),
                )
                type_ = webhook_events.KIOSK_EVENTS.get(event)
                if type_ is not None:  # the notifications, in the event's own transaction
                    enqueue(conn, key=event_id, type_=type_, job_id=job_id, state=state,
                            at_s=at_s, reason=reason, now_s=received_s)  # fmt: skip
            return bool(inserted)


@sqlite_errors_as(StoreError)
class _SqliteBlobReader:
    def __init__(self, conn: sqlite3.Connection, blob: sqlite3.Blob) -> None:
        self._conn, self._blob = conn, blob

    def read(self, offset: int, length: int) -> bytes:
        try:
            if offset >= len(self._blob):
                return b""
            self._blob.seek(offset)
            return self._blob.read(length)
        except sqlite3.OperationalError:  # the row was deleted meanwhile (purged, cancelled)
            return b""

    def close(self) -> None:
        self._blob.close()
        self._conn.close()
