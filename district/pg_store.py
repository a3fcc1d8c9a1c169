"""``DistrictStore`` on PostgreSQL (``--db postgresql://…``, ADR 0026): the twin of
:mod:`district.sqlite_store`, with the same tables (schema 4) and the same rules.

- Each method is one transaction (:meth:`district.pg_db.PgDatabase.write`) at ``READ
  COMMITTED``; where SQLite serialises writers with ``BEGIN IMMEDIATE``, the SQL here holds
  the lock it needs: ``add_job``'s seq check, ``consume_enroll_code`` and ``cancel_job`` are
  guarded ``UPDATE … WHERE`` statements (PostgreSQL waits for the row and re-checks the
  condition on its newest version, so exactly one of two racing writers wins), ``add_audit``
  and ``add_event`` insert with ``ON CONFLICT DO NOTHING``.
- ``data_version`` is the sum of the devices' ``feed_version`` plus their number: every
  change to any feed (a push, a cancel, a revocation, a new keyring, an enrolment) raises
  it, whichever process committed it, and no extra row is written (a shared counter row
  would make every push wait for every other). ``/readyz`` reads it.
- Wake-ups (schema 5, ADR 0027): a statement trigger on ``devices`` sends
  ``NOTIFY cedoka_feed`` with ``"<device_id> <feed_version>"`` for each device whose
  ``feed_version`` the statement changed, or ``"*"`` when it changed more than
  :data:`NOTIFY_EACH_MAX` (a new keyring bumps every feed): delivered at commit to every
  server process LISTENing (:class:`district.notifier.FeedNotifier`), whichever process
  or command committed it.
- Shared by every server process (schema 5, :mod:`district.pg_shared`): the proof replay
  cache (``proof_replays``) and the rate limits' hits (``rate_hits``).
- Sealed documents are ``bytea`` stored uncompressed out of line (``STORAGE EXTERNAL``:
  they are encrypted, compression gains nothing), so :meth:`PostgresStore.open_blob`'s
  reader fetches each range with ``substring()`` and PostgreSQL reads only that range's
  TOAST chunks: a download never loads the whole document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from district import webhook_events
from district.operator_store import (
    OPERATORS_SCHEMA_VERSION,
    PG_SCHEMA_OPERATORS,
    SqlOperatorStore,
    store_methods,
)
from district.pg_db import NewerSchemaError, PgDatabase, pg_errors_as, redact
from district.pg_identity import SCHEMA_V4 as IDENTITY_V4
from district.pg_identity import PgIdentityStore
from district.pg_shared import PgRateLimiter, PgReplayCache
from district.pg_webhooks import SCHEMA_V4 as WEBHOOKS_V4
from district.pg_webhooks import PgWebhookStore, enqueue
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

# 4: the SQLite store's schema 4; 5: wake-ups, shared replays and limits;
# 6: seal-key rotation requests (ADR 0032);
# 7 (OPERATORS_SCHEMA_VERSION, ADR 0034): village staff per office
SCHEMA_VERSION = OPERATORS_SCHEMA_VERSION
NOTIFY_CHANNEL = "cedoka_feed"
NOTIFY_EACH_MAX = 100  # more changed feeds in one statement: one "*" (read them all)
_SCHEMA_V5 = f"""
CREATE FUNCTION cedoka_feed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changed BIGINT;
BEGIN
    SELECT count(*) INTO changed FROM new_rows n JOIN old_rows o USING (device_id)
    WHERE n.feed_version <> o.feed_version;
    IF changed > {NOTIFY_EACH_MAX} THEN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', '*');
    ELSIF changed > 0 THEN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', n.device_id || ' ' || n.feed_version)
        FROM new_rows n JOIN old_rows o USING (device_id)
        WHERE n.feed_version <> o.feed_version;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER devices_feed_notify AFTER UPDATE ON devices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cedoka_feed_notify();
CREATE TABLE proof_replays (jti TEXT PRIMARY KEY, expires_s BIGINT NOT NULL);
CREATE INDEX proof_replays_by_expiry ON proof_replays (expires_s);
CREATE TABLE rate_hits (key TEXT NOT NULL, at_s DOUBLE PRECISION NOT NULL);
CREATE INDEX rate_hits_by_key ON rate_hits (key, at_s);
CREATE INDEX rate_hits_by_time ON rate_hits (at_s);
"""
# When district IT last asked a device to rotate its sealing key (protocol 6.3 ``seal_rotate``).
# Kept apart so the lead may renumber it at a merge.
_SCHEMA_V6 = """
ALTER TABLE devices ADD COLUMN seal_rotate_s BIGINT;
"""
# ``n`` columns: the insertion order (SQLite's rowid) where listings rely on it.
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE signers (
    kid TEXT PRIMARY KEY, not_before_s BIGINT NOT NULL, not_after_s BIGINT NOT NULL,
    retired_s BIGINT);
CREATE TABLE offices (code TEXT PRIMARY KEY, name TEXT NOT NULL, created_s BIGINT NOT NULL);
CREATE TABLE enroll_codes (
    code_id TEXT PRIMARY KEY, secret TEXT NOT NULL,
    office_code TEXT NOT NULL REFERENCES offices(code),
    created_s BIGINT NOT NULL, expires_s BIGINT NOT NULL, consumed_s BIGINT,
    request_nonce TEXT, response BYTEA, request_digest TEXT);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY, office_code TEXT NOT NULL REFERENCES offices(code),
    auth_jwk TEXT NOT NULL, seal_jwk TEXT NOT NULL, enrolled_s BIGINT NOT NULL,
    revoked_s BIGINT, seq BIGINT NOT NULL DEFAULT 0, feed_version BIGINT NOT NULL DEFAULT 0,
    last_seen_s BIGINT, agent TEXT, heartbeat BYTEA);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(device_id),
    office_code TEXT NOT NULL, seq BIGINT NOT NULL, release TEXT NOT NULL, token BYTEA NOT NULL,
    created_s BIGINT NOT NULL, expires_s BIGINT NOT NULL, cancelled_s BIGINT,
    state TEXT, state_s BIGINT, reason TEXT, cancel_reason TEXT, UNIQUE (device_id, seq));
CREATE TABLE blobs (
    job_id TEXT NOT NULL REFERENCES jobs(job_id), doc_id TEXT NOT NULL, doc_type TEXT NOT NULL,
    data BYTEA NOT NULL, sha256 BYTEA NOT NULL, n BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (job_id, doc_id));
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE events (
    event_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, job_id TEXT NOT NULL,
    event TEXT NOT NULL, state TEXT NOT NULL, at_s BIGINT NOT NULL, reason TEXT,
    token BYTEA NOT NULL, received_s BIGINT NOT NULL, n BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE INDEX events_by_job ON events (job_id, at_s);
CREATE TABLE audit (
    device_id TEXT NOT NULL REFERENCES devices(device_id), seq BIGINT NOT NULL,
    hash TEXT NOT NULL, at_s BIGINT NOT NULL, record BYTEA NOT NULL, token BYTEA NOT NULL,
    received_s BIGINT NOT NULL, PRIMARY KEY (device_id, seq));
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


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _job(row: Any) -> JobRow:
    values = list(row)
    values[5] = bytes(values[5])
    return JobRow(*values)


def _code(row: Any) -> EnrollCodeRow:
    values = list(row)
    values[7] = _bytes(values[7])
    return EnrollCodeRow(*values)


def _device(row: Any) -> DeviceRow:
    values = list(row)
    values[10] = _bytes(values[10])
    return DeviceRow(*values)


@pg_errors_as(StoreError)
@store_methods
class PgOperatorStore(SqlOperatorStore):
    """The operator store (:mod:`district.operator_store`) on PostgreSQL."""

    def __init__(self, db: PgDatabase) -> None:
        super().__init__(db, "%s")


@pg_errors_as(StoreError)
class PostgresStore:
    """The PostgreSQL implementation of :class:`district.store.DistrictStore`."""

    def __init__(self, url: str) -> None:
        """Connect and migrate; raises :class:`StoreError` when the database cannot be
        reached or its schema is newer than this program's."""
        self._db = PgDatabase(url)
        ops = PG_SCHEMA_OPERATORS
        try:
            self._db.migrate(
                schema_version=SCHEMA_VERSION,
                # PostgreSQL starts at 4: no database was ever at 1 to 3
                migrations={
                    0: _SCHEMA + IDENTITY_V4 + WEBHOOKS_V4 + _SCHEMA_V5 + _SCHEMA_V6 + ops,
                    4: _SCHEMA_V5 + _SCHEMA_V6 + ops,
                    5: _SCHEMA_V6 + ops,  # 6: the sealing-key rotation (ADR 0032)
                    6: ops,  # 7: village staff per office (ADR 0034)
                },
            )
        except NewerSchemaError as err:
            self._db.close_all()
            raise StoreError(
                f"{redact(url)}: schema {err.found} is newer than this program"
            ) from err
        except BaseException:
            self._db.close_all()
            raise
        self.identity = PgIdentityStore(self._db)
        self.webhooks = PgWebhookStore(self._db)
        self.operators = PgOperatorStore(self._db)

    def close(self) -> None:
        """Close every thread's connection (the command line's end, the server's stop)."""
        self._db.close_all()

    # --- district meta and keys ---------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = (
            self._db.connection()
            .execute("SELECT value FROM meta WHERE key = %s", (key,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def signers(self) -> list[SignerRow]:
        rows = self._db.connection().execute(
            "SELECT kid, not_before_s, not_after_s, retired_s FROM signers "
            'ORDER BY not_before_s, kid COLLATE "C"'
        )
        return [SignerRow(*row) for row in rows]

    def add_signer(self, row: SignerRow) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO signers VALUES (%s, %s, %s, %s)",
                (row.kid, row.not_before_s, row.not_after_s, row.retired_s),
            )

    def retire_signer(self, kid: str, *, at_s: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE signers SET retired_s = %s WHERE kid = %s", (at_s, kid))

    def bump_all_feeds(self) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE devices SET feed_version = feed_version + 1")

    # --- offices and enrolment ----------------------------------------------------------
    def add_office(self, row: OfficeRow) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO offices VALUES (%s, %s, %s)", (row.code, row.name, row.created_s)
            )

    def office(self, code: str) -> OfficeRow | None:
        row = (
            self._db.connection()
            .execute("SELECT code, name, created_s FROM offices WHERE code = %s", (code,))
            .fetchone()
        )
        return None if row is None else OfficeRow(*row)

    def offices(self) -> list[OfficeRow]:
        rows = self._db.connection().execute(
            'SELECT code, name, created_s FROM offices ORDER BY code COLLATE "C"'
        )
        return [OfficeRow(*row) for row in rows]

    def add_enroll_code(self, row: EnrollCodeRow) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO enroll_codes ({_CODE_COLUMNS}) VALUES ({_marks(9)})",
                (row.code_id, row.secret, row.office_code, row.created_s, row.expires_s,
                 row.consumed_s, row.request_nonce, row.response, row.request_digest),
            )  # fmt: skip

    def enroll_code(self, code_id: str) -> EnrollCodeRow | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_CODE_COLUMNS} FROM enroll_codes WHERE code_id = %s", (code_id,))
            .fetchone()
        )
        return None if row is None else _code(row)

    def consume_enroll_code(
        self, code_id: str, *, device: DeviceRow, nonce: str, digest: str, response: bytes,
        at_s: int,
    ) -> bool:  # fmt: skip
        """Consume the code, erase its secret and create the device in one transaction;
        False if already used (of two racing requests, the second waits for the first's
        row lock, then finds the code consumed)."""
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE enroll_codes SET consumed_s = %s, request_nonce = %s, response = %s, "
                "request_digest = %s, secret = '' WHERE code_id = %s AND consumed_s IS NULL",
                (at_s, nonce, response, digest, code_id),
            ).rowcount
            if changed != 1:
                return False
            conn.execute(
                f"INSERT INTO devices ({_DEVICE_COLUMNS}) VALUES ({_marks(12)})",
                (device.device_id, device.office_code, device.auth_jwk, device.seal_jwk,
                 device.enrolled_s, None, 0, 0, None, device.agent, None, None),
            )  # fmt: skip
        return True

    def erase_spent_enroll_secrets(self, *, now_s: int) -> int:
        """Erase the secrets of used and expired codes (a sweep); return how many."""
        with self._db.write() as conn:
            return conn.execute(
                "UPDATE enroll_codes SET secret = '' WHERE secret != '' "
                "AND (consumed_s IS NOT NULL OR expires_s <= %s)",
                (now_s,),
            ).rowcount

    # --- devices ------------------------------------------------------------------------
    def device(self, device_id: str) -> DeviceRow | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = %s", (device_id,))
            .fetchone()
        )
        return None if row is None else _device(row)

    def devices(self) -> list[DeviceRow]:
        rows = self._db.connection().execute(
            f'SELECT {_DEVICE_COLUMNS} FROM devices ORDER BY enrolled_s, device_id COLLATE "C"'
        )
        return [_device(row) for row in rows]

    def active_device_for_office(self, office_code: str) -> DeviceRow | None:
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices "
                "WHERE office_code = %s AND revoked_s IS NULL "
                "ORDER BY enrolled_s DESC LIMIT 1",
                (office_code,),
            )
            .fetchone()
        )
        return None if row is None else _device(row)

    def revoke_device(self, device_id: str, *, at_s: int) -> bool:
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE devices SET revoked_s = %s, feed_version = feed_version + 1 "
                    "WHERE device_id = %s AND revoked_s IS NULL",
                    (at_s, device_id),
                ).rowcount
            )

    def set_seal_key(self, device_id: str, seal_jwk: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE devices SET seal_jwk = %s WHERE device_id = %s", (seal_jwk, device_id)
            )

    def request_seal_rotation(self, device_id: str, *, at_s: int) -> bool:
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE devices SET seal_rotate_s = GREATEST(COALESCE(seal_rotate_s, 0), %s), "
                    "feed_version = feed_version + 1 WHERE device_id = %s AND revoked_s IS NULL",
                    (at_s, device_id),
                ).rowcount
            )

    def touch_device(self, device_id: str, *, at_s: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE devices SET last_seen_s = GREATEST(COALESCE(last_seen_s, 0), %s) "
                "WHERE device_id = %s",
                (at_s, device_id),
            )

    def touch_devices(self, touches: Mapping[str, int]) -> None:
        with self._db.write() as conn, conn.cursor() as cursor:
            cursor.executemany(  # in device order: two processes' batches never deadlock
                "UPDATE devices SET last_seen_s = GREATEST(COALESCE(last_seen_s, 0), %s) "
                "WHERE device_id = %s",
                [(at_s, device_id) for device_id, at_s in sorted(touches.items())],
            )

    def store_heartbeat(self, device_id: str, body: bytes, *, agent: str, at_s: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE devices SET heartbeat = %s, agent = %s, last_seen_s = %s "
                "WHERE device_id = %s",
                (body, agent, at_s, device_id),
            )

    def feed_versions(self) -> dict[str, int]:
        rows = self._db.connection().execute("SELECT device_id, feed_version FROM devices")
        return {str(device_id): int(version) for device_id, version in rows}

    def data_version(self) -> int:
        """Changes whenever any device's feed changes (see the module docstring)."""
        row = (
            self._db.connection()
            .execute("SELECT COALESCE(SUM(feed_version), 0) + COUNT(*) FROM devices")
            .fetchone()
        )
        return 0 if row is None else int(row[0])

    def feed_changes(self, after: int) -> FeedChanges:
        """Every device's feed version (``complete``): on PostgreSQL the changes come by
        ``NOTIFY`` (the module docstring); this is the notifier's catch-up read."""
        return FeedChanges(0, self.feed_versions(), complete=True)

    def shared_replay_cache(self) -> PgReplayCache:
        """The proof replay cache every server process on this database shares."""
        return PgReplayCache(self._db)

    def shared_rate_limiter(self, scope: str, *, per_minute: int) -> PgRateLimiter:
        """A rate limit every server process on this database counts together."""
        return PgRateLimiter(self._db, scope, per_minute=per_minute)

    # --- jobs and blobs -----------------------------------------------------------------
    def next_seq(self, device_id: str) -> int:
        row = (
            self._db.connection()
            .execute("SELECT seq FROM devices WHERE device_id = %s", (device_id,))
            .fetchone()
        )
        if row is None:
            raise StoreError(f"no device {device_id}")
        return int(row[0]) + 1

    def add_job(self, row: JobRow, blobs: dict[str, tuple[str, bytes]]) -> None:
        """Insert a job and its sealed blobs; the device's seq must be exactly row.seq - 1
        (a concurrent push waits for the device row, then finds seq moved: StoreError)."""
        with self._db.write() as conn:
            moved = conn.execute(
                "UPDATE devices SET seq = %s, feed_version = feed_version + 1 "
                "WHERE device_id = %s AND seq = %s",
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
                    "INSERT INTO blobs (job_id, doc_id, doc_type, data, sha256) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (row.job_id, doc_id, doc_type, data, hashlib.sha256(data).digest()),
                )

    def job(self, job_id: str) -> JobRow | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = %s", (job_id,))
            .fetchone()
        )
        return None if row is None else _job(row)

    def jobs(self, *, office_code: str | None = None) -> list[JobRow]:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        args: tuple[str, ...] = ()
        if office_code is not None:
            sql, args = sql + " WHERE office_code = %s", (office_code,)
        rows = self._db.connection().execute(sql + " ORDER BY created_s, seq", args)
        return [_job(row) for row in rows]

    def jobs_after(self, device_id: str, after_seq: int, *, limit: int) -> list[JobRow]:
        rows = self._db.connection().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE device_id = %s AND seq > %s "
            "ORDER BY seq LIMIT %s",
            (device_id, after_seq, limit),
        )
        return [_job(row) for row in rows]

    def cancelled_open(self, device_id: str, *, now_s: int, limit: int) -> list[str]:
        """Cancelled jobs the kiosk has not yet reported finished, and not yet expired."""
        rows = self._db.connection().execute(
            "SELECT job_id FROM jobs WHERE device_id = %s AND cancelled_s IS NOT NULL "
            "AND expires_s > %s AND (state IS NULL OR NOT (state = ANY(%s))) "
            "ORDER BY cancelled_s DESC LIMIT %s",
            (device_id, now_s, list(_TERMINAL_STATES), limit),
        )
        return [str(row[0]) for row in rows]

    def cancel_job(self, job_id: str, *, at_s: int, reason: str) -> bool:
        """Cancel a job the kiosk may still stop: not cancelled yet, not expired, and not
        reported in a state the kiosk cannot cancel from (``UNCANCELLABLE_STATES``). The
        check and the change are one guarded ``UPDATE``: a report stored meanwhile (it
        holds the job's row) is waited for and then wins."""
        with self._db.write() as conn:
            row = conn.execute(
                "UPDATE jobs SET cancelled_s = %s, cancel_reason = %s WHERE job_id = %s "
                "AND cancelled_s IS NULL AND expires_s > %s "
                "AND (state IS NULL OR NOT (state = ANY(%s))) RETURNING device_id",
                (at_s, reason, job_id, at_s, list(UNCANCELLABLE_STATES)),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE devices SET feed_version = feed_version + 1 WHERE device_id = %s",
                (row[0],),
            )
            enqueue(conn, key=f"cancel_{job_id}", type_=webhook_events.CANCELLED, job_id=job_id,
                    state="cancelled", at_s=at_s, reason=reason, now_s=at_s)  # fmt: skip
            return True

    def reported_states(self, job_id: str) -> set[str]:
        """Every state the kiosk has reported the job in (from its stored events)."""
        rows = self._db.connection().execute(
            "SELECT DISTINCT state FROM events WHERE job_id = %s", (job_id,)
        )
        return {str(r[0]) for r in rows}

    def blob(self, job_id: str, doc_id: str) -> BlobRow | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT job_id, doc_id, octet_length(data), sha256 FROM blobs "
                "WHERE job_id = %s AND doc_id = %s",
                (job_id, doc_id),
            )
            .fetchone()
        )
        return None if row is None else BlobRow(row[0], row[1], int(row[2]), bytes(row[3]))

    def open_blob(self, job_id: str, doc_id: str) -> BlobReader | None:
        """A reader fetching each range with ``substring()`` (only that range's chunks
        are read: the column is stored uncompressed out of line)."""
        if self.blob(job_id, doc_id) is None:
            return None
        return _PgBlobReader(self._db, job_id, doc_id)

    def blobs(self, job_id: str) -> list[BlobRow]:
        rows = self._db.connection().execute(
            "SELECT job_id, doc_id, octet_length(data), sha256 FROM blobs "
            "WHERE job_id = %s ORDER BY n",
            (job_id,),
        )
        return [BlobRow(r[0], r[1], int(r[2]), bytes(r[3])) for r in rows]

    # --- reports ------------------------------------------------------------------------
    def add_audit(self, *, device_id: str, seq: int, hash_: str, at_s: int, record: bytes,
                  token: bytes, received_s: int) -> str:  # fmt: skip
        """Store one audit record: ``stored``, ``duplicate`` (same seq and hash) or
        ``conflict`` (another record holds that seq: the first one is kept)."""
        with self._db.write() as conn:
            inserted = conn.execute(
                "INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (device_id, seq) DO NOTHING",
                (device_id, seq, hash_, at_s, record, token, received_s),
            ).rowcount
            if inserted:
                return "stored"
            row = conn.execute("SELECT hash FROM audit WHERE device_id = %s AND seq = %s",
                               (device_id, seq)).fetchone()  # fmt: skip
            return "duplicate" if row is not None and row[0] == hash_ else "conflict"

    def job_events(self, job_id: str) -> list[EventRow]:
        rows = self._db.connection().execute(
            "SELECT event_id, event, state, at_s, reason, received_s FROM events "
            "WHERE job_id = %s ORDER BY at_s, received_s, n",
            (job_id,),
        )
        return [EventRow(*row) for row in rows]

    def audit(self, device_id: str) -> list[tuple[int, bytes, str]]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT seq, record, hash FROM audit WHERE device_id = %s ORDER BY seq",
                (device_id,),
            )
            .fetchall()
        )
        return [(int(seq), bytes(record), str(hash_)) for seq, record, hash_ in rows]

    def add_event(
        self, *, event_id: str, device_id: str, job_id: str, event: str, state: str,
        at_s: int, reason: str | None, token: bytes, received_s: int,
    ) -> bool:  # fmt: skip
        """Store an event once (False for a duplicate) and move the job's latest state."""
        with self._db.write() as conn:
            inserted = conn.execute(
                "INSERT INTO events (event_id, device_id, job_id, event, state, at_s, reason, "
                "token, received_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (event_id) DO NOTHING",
                (event_id, device_id, job_id, event, state, at_s, reason, token, received_s),
            ).rowcount
            if inserted:
                conn.execute(
                    "UPDATE jobs SET state = %s, state_s = %s, reason = %s WHERE job_id = %s "
                    "AND device_id = %s AND (state_s IS NULL OR state_s <= %s)",
                    (state, at_s, reason, job_id, device_id, at_s),
                )
                type_ = webhook_events.KIOSK_EVENTS.get(event)
                if type_ is not None:  # the notifications, in the event's own transaction
                    enqueue(conn, key=event_id, type_=type_, job_id=job_id, state=state,
                            at_s=at_s, reason=reason, now_s=received_s)  # fmt: skip
            return bool(inserted)


@pg_errors_as(StoreError)
class _PgBlobReader:
    """Reads ranges of one sealed document; holds no connection between reads."""

    def __init__(self, db: PgDatabase, job_id: str, doc_id: str) -> None:
        self._db, self._job_id, self._doc_id = db, job_id, doc_id

    def read(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        row = (
            self._db.connection()
            .execute(
                "SELECT substring(data FROM %s FOR %s) FROM blobs "
                "WHERE job_id = %s AND doc_id = %s",
                (offset + 1, length, self._job_id, self._doc_id),
            )
            .fetchone()
        )
        return b"" if row is None else bytes(row[0])  # None: the row was deleted meanwhile

    def close(self) -> None:
        pass
