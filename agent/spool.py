"""The agent's durable state in SQLite (ADR 0008): all of the agent's SQL lives here.

One file, ``<home>/spool.db``, WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` for every
write (the service and the command line may use it at once). The job id is the primary key
and a job row is never deleted: after the purge it is a tombstone with ids, states, reason
codes and times only. What the rows hold:

- ``meta``: the trust state (pinned root, keyring token, last head, time floor), the claim
  lockout state, the feed position;
- ``jobs`` + ``docs``: each job's lifecycle status, its signed manifest token (sealed display
  data only: no plaintext personal data) until the purge and the token's SHA-256 for ever
  (a second, different manifest for a known job id is noticed), and its documents' signed
  sizes and hashes;
- ``prints``: the print journal, one row per submission, written **before** the document
  goes to the printer (state ``intent``), then ``submitted``, then ``done``/``failed``; a
  ``done`` row with a reason (``spoiled_…``) came out but staff reported its sheets spoiled;
- ``outbox``: signed job events and audit records in order, until the district has them;
- ``operators``: the village staff who may sign in (id, display name, role, scrypt PIN
  hash, PIN lockout state) — staff data, not residents';
- ``spent_claims``: the claim verifier (Argon2id digest, no personal data) of each purged
  claim job, with its state then, for 90 days: its code is then answered ``claim_used``,
  ``claim_cancelled`` or ``claim_expired`` instead of counting as a guess;
- ``audit``: the hash-chained audit trail (:mod:`kiosk.audit`), one row per record, each
  also in the outbox as a signed ``cedoka-audit+jwt``.

Every state change goes through :meth:`Spool.change`, a guarded update (``WHERE state =
<the state read>``) that writes the job's events into the outbox in the same transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cedoka_io.sqlite import NewerSchemaError, SqliteFile, sqlite_errors_as
from kiosk.claim import ClaimParams, ClaimVerifier
from kiosk.errors import StoreError
from kiosk.lifecycle import JobState, JobStatus
from kiosk.model import VerifiedJob

# 5 (OPERATORS_SCHEMA_VERSION, ADR 0034): operators managed from the district (the
# sealing-key rotation, ADR 0032, needed no spool migration). Only this constant and the
# script below belong to it.
OPERATORS_SCHEMA_VERSION = 5
SCHEMA_VERSION = OPERATORS_SCHEMA_VERSION
_SCHEMA_OPERATORS = """
ALTER TABLE operators ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE operators ADD COLUMN central_state TEXT;
ALTER TABLE operators ADD COLUMN pin_once INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN pin_expires_s INTEGER;
ALTER TABLE operators ADD COLUMN central_pin TEXT;
"""
_SCHEMA_V4 = """
CREATE TABLE spent_claims (
    job_id TEXT PRIMARY KEY REFERENCES jobs (job_id), outcome TEXT NOT NULL,
    m_kib INTEGER NOT NULL, t INTEGER NOT NULL, p INTEGER NOT NULL, digest BLOB NOT NULL,
    spent_s INTEGER NOT NULL);
CREATE INDEX spent_claims_by_time ON spent_claims (spent_s);
"""
_SCHEMA_V3 = """
ALTER TABLE jobs ADD COLUMN manifest_sha256 BLOB;
"""
_SCHEMA_V2 = """
CREATE TABLE operators (
    operator_id TEXT PRIMARY KEY, name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('staff', 'supervisor')), pin_hash TEXT NOT NULL,
    lockout BLOB, created_s INTEGER NOT NULL);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, at_s INTEGER NOT NULL, record BLOB NOT NULL, hash TEXT NOT NULL);
CREATE INDEX audit_by_time ON audit (at_s);
"""
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, release TEXT, expires_s INTEGER,
    manifest BLOB, state TEXT NOT NULL, reason TEXT, reprints INTEGER NOT NULL,
    updated_s INTEGER NOT NULL, operator TEXT, received_s INTEGER NOT NULL, signer_jwk BLOB,
    rounds INTEGER NOT NULL DEFAULT 0);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE TABLE docs (
    job_id TEXT NOT NULL REFERENCES jobs (job_id), idx INTEGER NOT NULL,
    doc_id TEXT NOT NULL UNIQUE, doc_type TEXT NOT NULL, copies INTEGER NOT NULL,
    size INTEGER NOT NULL, sha256 BLOB NOT NULL, stored INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx));
CREATE TABLE prints (
    title TEXT PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs (job_id),
    round INTEGER NOT NULL, idx INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('intent', 'submitted', 'done', 'failed', 'void')),
    reason TEXT, at_s INTEGER NOT NULL, UNIQUE (job_id, round, idx));
CREATE TABLE outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL, token BLOB NOT NULL, delivered_s INTEGER);
CREATE INDEX outbox_pending ON outbox (delivered_s, n);
"""
_JOB = "job_id, seq, release, expires_s, manifest, state, reason, reprints, updated_s, operator"
_JOB_READ = _JOB + ", rounds, received_s"


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job as the spool holds it (``manifest`` is None once purged or if rejected)."""

    status: JobStatus
    seq: int
    release: str | None
    expires_s: int | None
    manifest: bytes | None
    rounds: int = 0  # print rounds started (one per submit): names the print journal's rows
    received_s: int = 0  # when the kiosk accepted it (local clock)


@dataclass(frozen=True, slots=True)
class DocRow:
    job_id: str
    idx: int
    doc_id: str
    doc_type: str
    copies: int
    size: int
    sha256: bytes
    stored: bool


@dataclass(frozen=True, slots=True)
class PrintRow:
    title: str
    job_id: str
    round: int
    idx: int
    state: str  # intent | submitted | done | failed | void
    reason: str | None


@dataclass(frozen=True, slots=True)
class OperatorRow:
    operator_id: str
    name: str
    role: str  # staff | supervisor
    pin_hash: str
    lockout: bytes | None  # canonical JSON of the PIN LockoutState, None when clear
    created_s: int
    origin: str = "local"  # local (added on the kiosk) | central (the district's list)
    central_state: str | None = None  # active | disabled (central only)
    pin_once: bool = False  # a one-time PIN from the district: to be changed at sign-in
    pin_expires_s: int | None = None  # when that one-time PIN stops working
    central_pin: str | None = None  # the last one-time PIN hash taken from the district


@dataclass(frozen=True, slots=True)
class CentralOperator:
    """One operator of the district's office list, as the spool applies it."""

    operator_id: str
    name: str
    role: str
    state: str  # active | disabled
    pin: str | None  # a pending one-time PIN's scrypt hash
    pin_expires_s: int | None


OPERATORS_VERSION_KEY = "operators_version"


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at_s: int
    record: bytes  # canonical JSON of the record's members (kiosk.audit)
    hash: str


class SpoolError(StoreError):
    """The spool cannot be used (newer schema, damaged file, full disk); every
    ``sqlite3.Error`` of a :class:`Spool` method arrives as this."""


@sqlite_errors_as(SpoolError)
class Spool:
    """The SQLite spool. Thread-safe: one connection per thread."""

    def __init__(self, path: Path) -> None:
        """Open (creating it 0600 if missing) and migrate the spool; raises
        :class:`SpoolError` when its schema is newer than this agent's."""
        self.path = path
        self._db = SqliteFile(path)
        ops = _SCHEMA_OPERATORS  # operators managed from the district (ADR 0034)
        migrations = {  # forward only: from each older version to this one
            0: _SCHEMA + _SCHEMA_V2 + _SCHEMA_V3 + _SCHEMA_V4 + ops,
            1: _SCHEMA_V2 + _SCHEMA_V3 + _SCHEMA_V4 + ops,  # 0.1.0 spools: add the staff tables
            2: _SCHEMA_V3 + _SCHEMA_V4 + ops,  # the manifest digest of every tombstone
            3: _SCHEMA_V4 + ops,  # the claim verifiers of purged jobs (protocol 10.3)
            4: ops,  # the operators columns (ADR 0034)
        }
        try:
            self._db.migrate(schema_version=SCHEMA_VERSION, migrations=migrations)
        except NewerSchemaError as err:
            raise SpoolError(
                f"{path}: schema {err.found} is newer than this agent ({SCHEMA_VERSION})"
            ) from err

    def _conn(self) -> sqlite3.Connection:
        return self._db.connection()

    def close(self) -> None:
        self._db.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.write()

    # --- meta -----------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, values: dict[str, bytes]) -> None:
        """Set several meta entries in one transaction."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                values.items(),
            )

    def change_meta(self, key: str, change: Callable[[bytes | None], bytes]) -> bytes:
        """Read ``key`` and write ``change(value)`` in one ``BEGIN IMMEDIATE`` transaction, so
        no other thread or process acts on the same value meanwhile (the claim lockout).
        ``change`` must be quick; whatever it raises propagates and nothing is written."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = change(None if row is None else bytes(row[0]))
            conn.execute("INSERT INTO meta VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (key, value))  # fmt: skip
            return value

    # --- jobs -----------------------------------------------------------------------

    def is_known(self, job_id: str) -> bool:
        """True when a job with this id was ever accepted or rejected (tombstone)."""
        return (
            self._conn().execute("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            is not None
        )

    def add_job(
        self, job: VerifiedJob, status: JobStatus, *, signer_jwk: bytes,
        events: Iterable[tuple[str, bytes]],
    ) -> bool:  # fmt: skip
        """Record an accepted job, its documents and its first events; False if known."""
        with self._write() as conn:
            inserted = self._insert_job(conn, job, status, signer_jwk)
            if inserted:
                self._queue(conn, job.manifest.job_id, events)
            return inserted

    def add_jobs(self, jobs: Iterable[tuple[VerifiedJob, JobStatus, bytes]]) -> list[bool]:
        """Record accepted jobs (job, status, signer JWK) and their documents in one
        transaction (one commit for a whole feed answer); for each, False if it was known."""
        with self._write() as conn:
            return [self._insert_job(conn, job, status, jwk) for job, status, jwk in jobs]

    @staticmethod
    def _insert_job(
        conn: sqlite3.Connection, job: VerifiedJob, status: JobStatus, signer_jwk: bytes
    ) -> bool:
        m = job.manifest
        inserted = conn.execute(
            f"INSERT INTO jobs ({_JOB}, received_s, signer_jwk, manifest_sha256) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (job_id) DO NOTHING",
            (m.job_id, m.seq, m.release.value, m.expires_at_s, job.token, status.state.value,
             status.reason, status.reprints, status.updated_at_s, status.operator,
             status.updated_at_s, signer_jwk, hashlib.sha256(job.token).digest()),
        ).rowcount  # fmt: skip
        if not inserted:
            return False
        conn.executemany(
            "INSERT INTO docs (job_id, idx, doc_id, doc_type, copies, size, sha256) "
            "VALUES (?,?,?,?,?,?,?)",
            [(m.job_id, i, d.doc_id, d.doc_type, d.copies, d.sealed_size, d.sealed_sha256)
             for i, d in enumerate(m.documents)],
        )  # fmt: skip
        return True

    def add_rejected(
        self, job_id: str, seq: int, status: JobStatus, *, events: Iterable[tuple[str, bytes]],
        manifest_sha256: bytes | None = None,
    ) -> bool:  # fmt: skip
        """Tombstone a job whose signed manifest was refused (``seq`` 0 when its seq was
        unreadable); False if already known."""
        with self._write() as conn:
            inserted = conn.execute(
                f"INSERT INTO jobs ({_JOB}, received_s, manifest_sha256) "
                "VALUES (?,?,NULL,NULL,NULL,?,?,?,?,?,?,?) ON CONFLICT (job_id) DO NOTHING",
                (job_id, seq, status.state.value, status.reason, status.reprints,
                 status.updated_at_s, status.operator, status.updated_at_s, manifest_sha256),
            ).rowcount  # fmt: skip
            if inserted:
                self._queue(conn, job_id, events)
            return bool(inserted)

    def manifest_digest(self, job_id: str) -> bytes | None:
        """The SHA-256 of the signed manifest token a job was recorded with (None for an
        unknown job, or a tombstone from before schema 3 whose token is gone)."""
        row = (
            self._conn()
            .execute("SELECT manifest_sha256, manifest FROM jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        if row is None or (row[0] is None and row[1] is None):
            return None
        return bytes(row[0]) if row[0] is not None else hashlib.sha256(bytes(row[1])).digest()

    def docs_taken(self, doc_ids: Iterable[str]) -> set[str]:
        """The ids among ``doc_ids`` that a recorded job already uses."""
        wanted = list(doc_ids)
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = (
            self._conn()
            .execute(f"SELECT doc_id FROM docs WHERE doc_id IN ({marks})", wanted)
            .fetchall()
        )
        return {str(row[0]) for row in rows}

    def job(self, job_id: str) -> JobRow | None:
        row = (
            self._conn()
            .execute(f"SELECT {_JOB_READ} FROM jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None else _job_row(row)

    def jobs(self, states: Iterable[JobState] | None = None) -> list[JobRow]:
        """Jobs in ``states`` (all when None), oldest first."""
        if states is None:
            rows = self._conn().execute(f"SELECT {_JOB_READ} FROM jobs ORDER BY seq").fetchall()
        else:
            wanted = [s.value for s in states]
            marks = ",".join("?" * len(wanted))
            rows = (
                self._conn()
                .execute(
                    f"SELECT {_JOB_READ} FROM jobs WHERE state IN ({marks}) ORDER BY seq", wanted
                )
                .fetchall()
            )
        return [_job_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def seqs(self) -> set[int]:
        return {int(r[0]) for r in self._conn().execute("SELECT seq FROM jobs").fetchall()}

    def change(
        self, old: JobStatus, new: JobStatus, *, events: Iterable[tuple[str, bytes]] = (),
        new_round: bool = False, spoiled: Iterable[str] = (), stored: Iterable[str] = (),
    ) -> bool:  # fmt: skip
        """Guarded state update + its events, atomically. False when the job is no longer
        in ``old.state`` (another thread or process moved it first). ``spoiled``: print
        journal titles of ``done`` rows whose sheets staff found spoiled; they get the new
        reason in the same transaction (a spoil reprints exactly those documents).
        ``stored``: document ids marked stored in the same transaction (VERIFY_OK: one
        commit per job, not one more per document)."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE jobs SET state = ?, reason = ?, reprints = ?, updated_s = ?, "
                "operator = ?, rounds = rounds + ? WHERE job_id = ? AND state = ? AND reprints = ?",
                (new.state.value, new.reason, new.reprints, new.updated_at_s, new.operator,
                 int(new_round), old.job_id, old.state.value, old.reprints),
            ).rowcount  # fmt: skip
            if changed:
                self._queue(conn, old.job_id, events)
                conn.executemany(
                    "UPDATE prints SET reason = ? "
                    "WHERE title = ? AND job_id = ? AND state = 'done'",
                    [(new.reason, title, old.job_id) for title in spoiled],
                )
                conn.executemany("UPDATE docs SET stored = 1 WHERE doc_id = ? AND job_id = ?",
                                 [(doc_id, old.job_id) for doc_id in stored])  # fmt: skip
            return bool(changed)

    def signer_jwk(self, job_id: str) -> bytes | None:
        row = (
            self._conn()
            .execute("SELECT signer_jwk FROM jobs WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return None if row is None or row[0] is None else bytes(row[0])

    def keep_spent_claim(self, job_id: str, outcome: JobState, verifier: ClaimVerifier, *,
                         spent_s: int, keep_s: int) -> None:  # fmt: skip
        """Keep the claim verifier of a job about to be purged (``outcome``: its state
        then), so its code is later recognised as spent, not counted as a guess; forget
        those spent more than ``keep_s`` seconds before ``spent_s``."""
        params = verifier.params
        with self._write() as conn:
            conn.execute(
                "INSERT INTO spent_claims VALUES (?,?,?,?,?,?,?) ON CONFLICT (job_id) DO NOTHING",
                (job_id, outcome.value, params.m_kib, params.t, params.p, verifier.digest,
                 spent_s),
            )  # fmt: skip
            conn.execute("DELETE FROM spent_claims WHERE spent_s < ?", (spent_s - keep_s,))

    def spent_claims(self) -> list[tuple[str, JobState, ClaimVerifier]]:
        """The kept verifiers of purged jobs: (job id, its state when purged, verifier)."""
        rows = (
            self._conn()
            .execute(
                "SELECT job_id, outcome, m_kib, t, p, digest FROM spent_claims ORDER BY spent_s"
            )
            .fetchall()
        )
        return [(str(job_id), JobState(outcome),
                 ClaimVerifier(ClaimParams(int(m), int(t), int(p)), bytes(digest)))
                for job_id, outcome, m, t, p, digest in rows]  # fmt: skip

    def forget_manifest(self, job_id: str) -> None:
        """Drop the manifest token of a purged job (the tombstone stays)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET manifest = NULL, signer_jwk = NULL WHERE job_id = ?", (job_id,)
            )

    # --- documents ------------------------------------------------------------------

    def docs(self, job_id: str) -> list[DocRow]:
        rows = (
            self._conn()
            .execute(
                "SELECT job_id, idx, doc_id, doc_type, copies, size, sha256, stored FROM docs "
                "WHERE job_id = ? ORDER BY idx",
                (job_id,),
            )
            .fetchall()
        )
        return [DocRow(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), bool(r[7])) for r in rows]

    def mark_stored(self, doc_id: str, stored: bool = True) -> None:
        with self._write() as conn:
            conn.execute("UPDATE docs SET stored = ? WHERE doc_id = ?", (int(stored), doc_id))

    # --- the print journal ----------------------------------------------------------

    def prints(self, job_id: str | None = None) -> list[PrintRow]:
        query = "SELECT title, job_id, round, idx, state, reason FROM prints"
        args: tuple[str, ...] = ()
        if job_id is not None:
            query, args = query + " WHERE job_id = ?", (job_id,)
        rows = self._conn().execute(query + " ORDER BY job_id, round, idx", args).fetchall()
        return [PrintRow(*row) for row in rows]

    def print_intent(self, title: str, job_id: str, round_: int, idx: int, *, at_s: int) -> None:
        """Record the intent to submit, durably, before the printer sees anything (a
        ``void`` row — never submitted — is reused)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO prints VALUES (?, ?, ?, ?, 'intent', NULL, ?) ON CONFLICT (title) "
                "DO UPDATE SET state = 'intent', at_s = excluded.at_s WHERE state = 'void'",
                (title, job_id, round_, idx, at_s),
            )

    def print_mark(self, title: str, state: str, *, at_s: int, reason: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE prints SET state = ?, reason = ?, at_s = ? WHERE title = ?",
                (state, reason, at_s, title),
            )

    # --- the outbox -----------------------------------------------------------------

    @staticmethod
    def _queue(conn: sqlite3.Connection, job_id: str, events: Iterable[tuple[str, bytes]]) -> None:
        conn.executemany(
            "INSERT INTO outbox (event_id, job_id, token) VALUES (?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING",
            [(event_id, job_id, token) for event_id, token in events],
        )

    def queue_events(self, job_id: str, events: Iterable[tuple[str, bytes]]) -> None:
        with self._write() as conn:
            self._queue(conn, job_id, events)

    def pending_events(self, limit: int) -> list[tuple[int, bytes]]:
        """Undelivered events, oldest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT n, token FROM outbox WHERE delivered_s IS NULL ORDER BY n LIMIT ?", (limit,)
            )
            .fetchall()
        )
        return [(int(n), bytes(token)) for n, token in rows]

    def mark_delivered(self, numbers: Iterable[int], *, at_s: int) -> None:
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET delivered_s = ? WHERE n = ?", [(at_s, n) for n in numbers]
            )

    def outbox_depth(self) -> int:
        return int(
            self._conn()
            .execute("SELECT count(*) FROM outbox WHERE delivered_s IS NULL")
            .fetchone()[0]
        )

    # --- operators ------------------------------------------------------------------

    def add_operator(self, row: OperatorRow) -> bool:
        """Add an operator; False when the id is taken."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO operators (operator_id, name, role, pin_hash, created_s) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (operator_id) DO NOTHING",
                (row.operator_id, row.name, row.role, row.pin_hash, row.created_s),
            )
            return cursor.rowcount == 1

    def update_operator(self, operator_id: str, *, pin_hash: str | None = None,
                        lockout: bytes | None = None) -> bool:  # fmt: skip
        """Set a new PIN hash (which clears the lockout) or the lockout state."""
        with self._write() as conn:
            if pin_hash is not None:  # the operator's own PIN: no longer a one-time one
                sql = "pin_hash = ?, lockout = NULL, pin_once = 0, pin_expires_s = NULL"
                args = (pin_hash,)
            else:
                sql, args = "lockout = ?", (lockout,)  # type: ignore[assignment]
            cursor = conn.execute(f"UPDATE operators SET {sql} WHERE operator_id = ?",
                                  (*args, operator_id))  # fmt: skip
            return cursor.rowcount == 1

    def change_operator_lockout(
        self, operator_id: str, change: Callable[[OperatorRow], bytes | None]
    ) -> OperatorRow | None:
        """Read the operator and set their lockout to ``change(row)`` in one ``BEGIN
        IMMEDIATE`` transaction (see :meth:`change_meta`); returns the row as read, or None
        (nothing written) when there is no such operator. What ``change`` raises propagates
        and nothing is written."""
        with self._write() as conn:
            found = conn.execute(f"SELECT {_OPERATOR} FROM operators WHERE operator_id = ?",
                                 (operator_id,)).fetchone()  # fmt: skip
            if found is None:
                return None
            row = _operator_row(found)
            conn.execute("UPDATE operators SET lockout = ? WHERE operator_id = ?",
                         (change(row), operator_id))  # fmt: skip
            return row

    def remove_operator(self, operator_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM operators WHERE operator_id = ?", (operator_id,))
            return cursor.rowcount == 1

    def operators(self) -> list[OperatorRow]:
        rows = self._conn().execute(f"SELECT {_OPERATOR} FROM operators ORDER BY name").fetchall()
        return [_operator_row(r) for r in rows]

    def operator(self, operator_id: str) -> OperatorRow | None:
        row = (
            self._conn()
            .execute(f"SELECT {_OPERATOR} FROM operators WHERE operator_id = ?", (operator_id,))
            .fetchone()
        )
        return None if row is None else _operator_row(row)

    def operators_version(self) -> int:
        """The version of the district's office list last applied (0: none yet)."""
        value = self.get_meta(OPERATORS_VERSION_KEY)
        return 0 if value is None else int(value)

    def apply_operator_list(self, version: int, listed: Iterable[CentralOperator], *,
                            now_s: int) -> bool:  # fmt: skip
        """Apply the district's office list ``version`` in one transaction (ADR 0034, what
        wins): a central operator's name, role and state replace the kiosk's; a one-time PIN
        not taken before replaces the PIN (a local PIN change stays otherwise); a local
        operator with a central id becomes central; a central operator no longer listed is
        disabled. False (nothing written) when ``version`` is not above the stored one."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?",
                               (OPERATORS_VERSION_KEY,)).fetchone()  # fmt: skip
            if row is not None and int(row[0]) >= version:
                return False
            seen = []
            for op in listed:
                seen.append(op.operator_id)
                found = conn.execute("SELECT central_pin FROM operators WHERE operator_id = ?",
                                     (op.operator_id,)).fetchone()  # fmt: skip
                new_pin = op.pin is not None and (found is None or found[0] != op.pin)
                if found is None:
                    conn.execute(
                        "INSERT INTO operators (operator_id, name, role, pin_hash, created_s, "
                        "origin, central_state, pin_once, pin_expires_s, central_pin) "
                        "VALUES (?, ?, ?, ?, ?, 'central', ?, ?, ?, ?)",
                        (op.operator_id, op.name, op.role, op.pin or "", now_s, op.state,
                         int(new_pin), op.pin_expires_s if new_pin else None, op.pin),
                    )  # fmt: skip
                    continue
                conn.execute(
                    "UPDATE operators SET name = ?, role = ?, origin = 'central', "
                    "central_state = ? WHERE operator_id = ?",
                    (op.name, op.role, op.state, op.operator_id),
                )  # fmt: skip
                if new_pin:
                    conn.execute(
                        "UPDATE operators SET pin_hash = ?, lockout = NULL, pin_once = 1, "
                        "pin_expires_s = ?, central_pin = ? WHERE operator_id = ?",
                        (op.pin, op.pin_expires_s, op.pin, op.operator_id),
                    )  # fmt: skip
            marks = ", ".join("?" * len(seen))
            conn.execute(
                "UPDATE operators SET central_state = 'disabled' WHERE origin = 'central' "
                f"AND operator_id NOT IN ({marks})", seen,
            )  # fmt: skip
            conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                         "value = excluded.value",
                         (OPERATORS_VERSION_KEY, str(version).encode("ascii")))  # fmt: skip
            return True

    # --- the audit trail --------------------------------------------------------------

    def append_audit(
        self, build: Callable[[AuditRow | None], tuple[AuditRow, str, bytes]]
    ) -> AuditRow:
        """Append the record ``build(head)`` makes from the current head, with its signed
        token in the outbox, in one transaction (so the chain never forks)."""
        with self._write() as conn:
            last = conn.execute(
                "SELECT seq, at_s, record, hash FROM audit ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            head = None if last is None else _audit_row(last)
            row, event_id, token = build(head)
            conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?)",
                         (row.seq, row.at_s, row.record, row.hash))  # fmt: skip
            self._queue(conn, "", [(event_id, token)])
            return row

    def audit_head(self) -> AuditRow | None:
        last = (
            self._conn()
            .execute("SELECT seq, at_s, record, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetchone()
        )
        return None if last is None else _audit_row(last)

    def audit_since(self, at_s: int) -> list[AuditRow]:
        """Records at or after ``at_s``, newest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT seq, at_s, record, hash FROM audit WHERE at_s >= ? ORDER BY seq DESC",
                (at_s,),
            )
            .fetchall()
        )
        return [_audit_row(r) for r in rows]


_OPERATOR = ("operator_id, name, role, pin_hash, lockout, created_s, origin, central_state, "
             "pin_once, pin_expires_s, central_pin")  # fmt: skip


def _operator_row(row: tuple[Any, ...]) -> OperatorRow:
    (operator_id, name, role, pin_hash, lockout, created_s, origin, central_state, pin_once,
     pin_expires_s, central_pin) = row  # fmt: skip
    return OperatorRow(
        str(operator_id), str(name), str(role), str(pin_hash),
        None if lockout is None else bytes(lockout), int(created_s), str(origin),
        None if central_state is None else str(central_state), bool(pin_once),
        None if pin_expires_s is None else int(pin_expires_s),
        None if central_pin is None else str(central_pin),
    )  # fmt: skip


def _audit_row(row: tuple[Any, ...]) -> AuditRow:
    seq, at_s, record, hash_ = row
    return AuditRow(int(seq), int(at_s), bytes(record), str(hash_))


def _job_row(row: tuple[object, ...]) -> JobRow:
    job_id, seq, release, expires_s, manifest, state, reason, reprints, updated_s, operator = row[
        :10
    ]
    status = JobStatus(
        job_id=str(job_id), state=JobState(str(state)),
        reason=None if reason is None else str(reason), reprints=int(reprints),  # type: ignore[call-overload]
        updated_at_s=int(updated_s),  # type: ignore[call-overload]
        operator=None if operator is None else str(operator),
    )  # fmt: skip
    return JobRow(
        status=status, seq=int(seq),  # type: ignore[call-overload]
        release=None if release is None else str(release),
        expires_s=None if expires_s is None else int(expires_s),  # type: ignore[call-overload]
        manifest=None if manifest is None else bytes(manifest),  # type: ignore[call-overload]
        rounds=int(row[10]), received_s=int(row[11]),  # type: ignore[call-overload]
    )  # fmt: skip
