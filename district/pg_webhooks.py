"""The PostgreSQL side of the webhooks (the twin of :mod:`district.sqlite_webhooks`, same
tables and rules): a kiosk's event and the outbox messages it causes are written in one
transaction (:func:`enqueue`, called by ``PostgresStore.add_event``); a message's id comes
from the event's and the webhook's, so a repeat queues nothing. The deliverer claims due
messages with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease, so two server processes
never take the same message.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from district.pg_db import PgDatabase, pg_errors_as
from district.store import OutboxRow, WebhookRow
from kiosk.errors import StoreError

# ``n``: the insertion order (SQLite's rowid), for listing deliveries newest first.
SCHEMA_V4: Final = """
CREATE TABLE job_origins (job_id TEXT PRIMARY KEY, user_id TEXT NOT NULL);
CREATE TABLE webhooks (
    webhook_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, url TEXT NOT NULL,
    secret TEXT NOT NULL, events TEXT NOT NULL, all_jobs INTEGER NOT NULL,
    created_s BIGINT NOT NULL, disabled_s BIGINT);
CREATE TABLE webhook_outbox (
    message_id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL REFERENCES webhooks(webhook_id),
    type TEXT NOT NULL, job_id TEXT NOT NULL, office_code TEXT NOT NULL, state TEXT,
    at_s BIGINT NOT NULL, reason TEXT, created_s BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at_s BIGINT NOT NULL, delivered_s BIGINT,
    gave_up_s BIGINT, last_status INTEGER, last_error TEXT,
    n BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at_s)
    WHERE delivered_s IS NULL AND gave_up_s IS NULL;
"""

_OUTBOX_COLUMNS = ("message_id, webhook_id, type, job_id, office_code, state, at_s, reason, "
                   "created_s, attempts, next_at_s, delivered_s, gave_up_s, last_status, "
                   "last_error")  # fmt: skip
_WEBHOOK_COLUMNS = "webhook_id, user_id, url, secret, events, all_jobs, created_s, disabled_s"


def _webhook(row: Any) -> WebhookRow:
    return WebhookRow(row[0], row[1], row[2], row[3], tuple(str(row[4]).split()), bool(row[5]),
                      row[6], row[7])  # fmt: skip


def enqueue(conn: psycopg.Connection[Any], *, key: str, type_: str, job_id: str,
            state: str | None, at_s: int, reason: str | None, now_s: int) -> int:  # fmt: skip
    """Queue ``type_`` for every live webhook that wants it and sees the job (its user
    pushed it, or it takes every job), inside the caller's transaction. ``key`` makes the
    message ids (one per webhook); a repeat adds nothing. Returns the messages queued."""
    return conn.execute(
        "INSERT INTO webhook_outbox (message_id, webhook_id, type, job_id, "
        "office_code, state, at_s, reason, created_s, next_at_s) "
        "SELECT 'msg_' || %s || '_' || w.webhook_id, w.webhook_id, %s, j.job_id, "
        "j.office_code, %s, %s, %s, %s, %s FROM webhooks w JOIN jobs j ON j.job_id = %s "
        "WHERE w.disabled_s IS NULL "
        "AND position(' ' || %s || ' ' in ' ' || w.events || ' ') > 0 "
        "AND (w.all_jobs = 1 OR w.user_id = "
        "(SELECT o.user_id FROM job_origins o WHERE o.job_id = j.job_id)) "
        "ON CONFLICT (message_id) DO NOTHING",
        (key, type_, state, at_s, reason, now_s, now_s, job_id, type_),
    ).rowcount


@pg_errors_as(StoreError)
class PgWebhookStore:
    """Webhooks, job origins and the outbox on the district's PostgreSQL database."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def add_webhook(self, row: WebhookRow) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO webhooks ({_WEBHOOK_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (row.webhook_id, row.user_id, row.url, row.secret, " ".join(row.events),
                 int(row.all_jobs), row.created_s, row.disabled_s),
            )  # fmt: skip

    def webhook(self, webhook_id: str) -> WebhookRow | None:
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = %s", (webhook_id,)
            )
            .fetchone()
        )
        return None if row is None else _webhook(row)

    def webhooks(self) -> list[WebhookRow]:
        rows = self._db.connection().execute(
            f'SELECT {_WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_s, webhook_id COLLATE "C"'
        )
        return [_webhook(row) for row in rows]

    def disable_webhook(self, webhook_id: str, *, at_s: int) -> bool:
        with self._db.write() as conn:
            return bool(conn.execute(
                "UPDATE webhooks SET disabled_s = %s WHERE webhook_id = %s "
                "AND disabled_s IS NULL",
                (at_s, webhook_id),
            ).rowcount)  # fmt: skip

    def add_origin(self, job_id: str, user_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO job_origins VALUES (%s, %s) ON CONFLICT (job_id) DO NOTHING",
                (job_id, user_id),
            )

    def enqueue(self, *, key: str, type_: str, job_id: str, state: str | None, at_s: int,
                reason: str | None, now_s: int) -> int:  # fmt: skip
        """:func:`enqueue` in a transaction of its own (a district-side change)."""
        with self._db.write() as conn:
            return enqueue(conn, key=key, type_=type_, job_id=job_id, state=state, at_s=at_s,
                           reason=reason, now_s=now_s)  # fmt: skip

    def claim_due(self, *, now_s: int, lease_s: int, limit: int) -> list[OutboxRow]:
        """Messages due now, each leased for ``lease_s``: rows another process is claiming
        at this moment are skipped (``SKIP LOCKED``), not waited for or taken twice."""
        with self._db.write() as conn:
            rows = conn.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM webhook_outbox WHERE delivered_s IS NULL "
                "AND gave_up_s IS NULL AND next_at_s <= %s ORDER BY next_at_s LIMIT %s "
                "FOR UPDATE SKIP LOCKED",
                (now_s, limit),
            ).fetchall()
            if rows:
                conn.execute(
                    "UPDATE webhook_outbox SET next_at_s = %s WHERE message_id = ANY(%s)",
                    (now_s + lease_s, [row[0] for row in rows]),
                )
        return [OutboxRow(*row) for row in rows]

    def finish(self, message_id: str, *, status: int | None, error: str | None,
               delivered_s: int | None, next_at_s: int | None,
               gave_up_s: int | None) -> None:  # fmt: skip
        """Record one attempt: delivered, to be retried at ``next_at_s``, or given up."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_status = %s, "
                "last_error = %s, delivered_s = %s, gave_up_s = %s, "
                "next_at_s = COALESCE(%s, next_at_s) WHERE message_id = %s",
                (status, error, delivered_s, gave_up_s, next_at_s, message_id),
            )

    def deliveries(self, webhook_id: str, *, limit: int) -> list[OutboxRow]:
        rows = self._db.connection().execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM webhook_outbox WHERE webhook_id = %s "
            "ORDER BY created_s DESC, n DESC LIMIT %s",
            (webhook_id, limit),
        )
        return [OutboxRow(*row) for row in rows]

    def backlog(self) -> int:
        """Messages neither delivered nor given up."""
        row = (
            self._db.connection()
            .execute(
                "SELECT count(*) FROM webhook_outbox "
                "WHERE delivered_s IS NULL AND gave_up_s IS NULL"
            )
            .fetchone()
        )
        return 0 if row is None else int(row[0])
