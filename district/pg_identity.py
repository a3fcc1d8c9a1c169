"""The PostgreSQL implementation of :class:`district.store.IdentityStore` (the twin of
:mod:`district.sqlite_identity`, same tables). The admin audit log is append-only in the
database itself: a trigger refuses every ``UPDATE`` and ``DELETE``; an append takes the
table's write lock first, so two writers (two server processes) never chain after the same
record.
"""

from __future__ import annotations

from typing import Any, Final

from district.pg_db import PgDatabase, pg_errors_as
from district.store import SessionRow, TokenRow, UserRow
from kiosk import admin_audit
from kiosk.admin_audit import AdminEntry, AdminRecord
from kiosk.errors import StoreError

SCHEMA_V4: Final = """
CREATE TABLE users (
    user_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, password TEXT NOT NULL,
    totp_secret BYTEA, totp_last_step BIGINT, failures INTEGER NOT NULL DEFAULT 0,
    locks INTEGER NOT NULL DEFAULT 0, locked_until_s BIGINT NOT NULL DEFAULT 0,
    created_s BIGINT NOT NULL, disabled_s BIGINT);
CREATE TABLE tokens (
    token_id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(user_id),
    label TEXT NOT NULL, scopes TEXT NOT NULL, digest TEXT NOT NULL,
    created_s BIGINT NOT NULL, expires_s BIGINT NOT NULL, revoked_s BIGINT,
    last_used_s BIGINT);
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(user_id),
    csrf TEXT NOT NULL, created_s BIGINT NOT NULL, seen_s BIGINT NOT NULL);
CREATE TABLE admin_audit (
    seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, record BYTEA NOT NULL);
CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the admin audit log is append-only'; END; $$;
CREATE TRIGGER admin_audit_no_change BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();
"""

_USER_COLUMNS = ("user_id, name, role, password, totp_secret, totp_last_step, failures, locks, "
                 "locked_until_s, created_s, disabled_s")  # fmt: skip
_CHANGEABLE = frozenset({"name", "role", "password", "totp_secret", "totp_last_step",
                         "failures", "locks", "locked_until_s", "disabled_s"})  # fmt: skip
_TOKEN_COLUMNS = ("token_id, user_id, label, scopes, digest, created_s, expires_s, revoked_s, "
                  "last_used_s")  # fmt: skip


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _user(row: Any) -> UserRow:
    secret = None if row[4] is None else bytes(row[4])
    return UserRow(row[0], row[1], row[2], row[3], secret, *row[5:])


def _token(row: Any) -> TokenRow:
    return TokenRow(row[0], row[1], row[2], tuple(str(row[3]).split()), *row[4:])


@pg_errors_as(StoreError)
class PgIdentityStore:
    """Users, tokens and the admin audit log on the district's PostgreSQL database."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    # --- users ----------------------------------------------------------------------------
    def add_user(self, row: UserRow) -> bool:
        with self._db.write() as conn:
            inserted = conn.execute(
                f"INSERT INTO users ({_USER_COLUMNS}) VALUES ({_marks(11)}) "
                "ON CONFLICT (user_id) DO NOTHING",
                (row.user_id, row.name, row.role, row.password, row.totp_secret,
                 row.totp_last_step, row.failures, row.locks, row.locked_until_s,
                 row.created_s, row.disabled_s),
            ).rowcount  # fmt: skip
        return bool(inserted)

    def user(self, user_id: str) -> UserRow | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s", (user_id,))
            .fetchone()
        )
        return None if row is None else _user(row)

    def users(self) -> list[UserRow]:
        rows = self._db.connection().execute(
            f'SELECT {_USER_COLUMNS} FROM users ORDER BY user_id COLLATE "C"'
        )
        return [_user(row) for row in rows]

    def update_user(self, user_id: str, **changes: object) -> bool:
        """Set the named columns; False when there is no such user. Raises ValueError for
        a column that may not be changed."""
        if not changes or not set(changes) <= _CHANGEABLE:
            raise ValueError(f"cannot change {sorted(set(changes) - _CHANGEABLE)} of a user")
        assignments = ", ".join(f"{name} = %s" for name in changes)
        with self._db.write() as conn:
            updated = conn.execute(
                f"UPDATE users SET {assignments} WHERE user_id = %s", (*changes.values(), user_id)
            ).rowcount
        return bool(updated)

    # --- tokens ---------------------------------------------------------------------------
    def add_token(self, row: TokenRow) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES ({_marks(9)})",
                (row.token_id, row.user_id, row.label, " ".join(row.scopes), row.digest,
                 row.created_s, row.expires_s, row.revoked_s, row.last_used_s),
            )  # fmt: skip

    def token(self, token_id: str) -> TokenRow | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_id = %s", (token_id,))
            .fetchone()
        )
        return None if row is None else _token(row)

    def tokens(self, *, user_id: str | None = None) -> list[TokenRow]:
        sql = f"SELECT {_TOKEN_COLUMNS} FROM tokens"
        params: tuple[str, ...] = ()
        if user_id is not None:
            sql, params = sql + " WHERE user_id = %s", (user_id,)
        rows = self._db.connection().execute(
            sql + ' ORDER BY created_s, token_id COLLATE "C"', params
        )
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, *, at_s: int) -> bool:
        with self._db.write() as conn:
            return bool(conn.execute(
                "UPDATE tokens SET revoked_s = %s WHERE token_id = %s AND revoked_s IS NULL",
                (at_s, token_id),
            ).rowcount)  # fmt: skip

    def touch_token(self, token_id: str, *, at_s: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE tokens SET last_used_s = %s WHERE token_id = %s", (at_s, token_id))

    # --- console sessions (only the SHA-256 of a session id is stored) -------------------------
    def add_session(self, row: SessionRow) -> None:
        with self._db.write() as conn:
            values = (row.digest, row.user_id, row.csrf, row.created_s, row.seen_s)
            conn.execute("INSERT INTO sessions VALUES (%s, %s, %s, %s, %s)", values)

    def session(self, digest: str) -> SessionRow | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT digest, user_id, csrf, created_s, seen_s FROM sessions WHERE digest = %s",
                (digest,),
            )
            .fetchone()
        )
        return None if row is None else SessionRow(*row)

    def touch_session(self, digest: str, *, at_s: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE sessions SET seen_s = %s WHERE digest = %s", (at_s, digest))

    def delete_sessions(self, *, digest: str | None = None, user_id: str | None = None,
                        seen_before_s: int | None = None) -> int:  # fmt: skip
        """Delete one session, a user's, or those idle since ``seen_before_s``."""
        wanted = (("digest = %s", digest), ("user_id = %s", user_id),
                  ("seen_s < %s", seen_before_s))  # fmt: skip
        clauses = [(c, v) for c, v in wanted if v is not None]
        if not clauses:
            raise ValueError("say which sessions to delete")
        where = " OR ".join(c for c, _ in clauses)
        with self._db.write() as conn:
            return conn.execute(f"DELETE FROM sessions WHERE {where}",
                                tuple(v for _, v in clauses)).rowcount  # fmt: skip

    # --- the admin audit log ----------------------------------------------------------------
    def append_admin_audit(self, entry: AdminEntry, *, district_code: str) -> AdminRecord:
        """Chain ``entry`` after the last record, in one transaction that holds the table's
        write lock (readers go on; two writers never take the same seq)."""
        with self._db.write() as conn:
            conn.execute("LOCK TABLE admin_audit IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute(
                "SELECT seq, hash, record FROM admin_audit ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev = None if row is None else admin_audit.record_from_bytes(bytes(row[2]), row[1])
            record = admin_audit.append(prev, entry, district_code=district_code)
            conn.execute("INSERT INTO admin_audit VALUES (%s, %s, %s)",
                         (record.seq, record.hash, admin_audit.record_bytes(record)))  # fmt: skip
        return record

    def admin_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AdminRecord]:
        rows = self._db.connection().execute(
            "SELECT seq, hash, record FROM admin_audit WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        )
        return [admin_audit.record_from_bytes(bytes(record), hash_) for _, hash_, record in rows]
