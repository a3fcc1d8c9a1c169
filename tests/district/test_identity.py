"""District IT's identity (issue 17 item 2, ADR 0022) on a real district store, SQLite and
PostgreSQL: users and roles, Argon2id passwords, lockout, TOTP, API tokens, the append-only
audit log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from district.identity import CLI, Identity, Principal
from district.keyring import open_store
from district.store import DistrictStore
from kiosk import access
from kiosk.access import Argon2Cost, Role, Scope
from kiosk.admin_audit import check_chain
from kiosk.errors import AccessError, OperatorError
from tests.district.conftest import stored_bytes

T0 = 1_790_000_000
FAST = Argon2Cost(memory_kib=1024, passes=1, lanes=1)  # the rules, not the cost, are tested here
PASSWORD = "kolaka-utara-2026"
STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


class Clock:
    def __init__(self) -> None:
        self.now_s = T0

    def __call__(self) -> int:
        return self.now_s


@pytest.fixture
def store(tmp_path: Path, db_url: str | None) -> Iterator[DistrictStore]:
    db = open_store(tmp_path, db_url)
    yield db
    db.close()


def raw_refused(tmp_path: Path, db_url: str | None, sql: str) -> str:
    """Run ``sql`` straight on the database; return the database's refusal."""
    if db_url is None:
        raw = sqlite3.connect(tmp_path / "district.sqlite")
        try:
            with pytest.raises(sqlite3.IntegrityError) as refused:
                raw.execute(sql)
            return str(refused.value)
        finally:
            raw.close()
    import psycopg

    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(sql.encode())
    return str(caught.value)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(store: DistrictStore, clock: Clock) -> Identity:
    ident = Identity(store.identity, district_code="74.08", now_s=clock, cost=FAST)
    ident.add_user(CLI, user_id="andi.admin", name="Andi", role="admin", password=PASSWORD)
    return ident


def test_a_user_signs_in_with_the_rights_of_their_role(identity: Identity) -> None:
    identity.add_user(CLI, user_id="budi", name="Budi", role="viewer", password=PASSWORD)
    who = identity.sign_in("budi", PASSWORD, remote="127.0.0.1")
    assert (who.actor, who.role) == ("budi", Role.VIEWER)
    assert Scope.JOBS_READ in who.scopes and Scope.JOBS_PUSH not in who.scopes
    with pytest.raises(AccessError) as caught:
        who.require(Scope.JOBS_PUSH)
    assert (caught.value.code, caught.value.scope) == ("forbidden", "jobs:push")
    with pytest.raises(AccessError):  # a viewer cannot add users
        identity.add_user(who, user_id="cici", name="Cici", role="admin", password=PASSWORD)


def test_passwords_are_argon2id_with_rfc_9106_costs_and_never_stored_plain(
    store: DistrictStore, clock: Clock, tmp_path: Path, db_url: str | None
) -> None:
    ident = Identity(store.identity, district_code="74.08", now_s=clock)  # production cost
    ident.add_user(CLI, user_id="andi.admin", name="Andi", role="admin", password=PASSWORD)
    row = store.identity.user("andi.admin")
    assert row is not None and row.password.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    store.close()
    assert PASSWORD.encode() not in stored_bytes(tmp_path, db_url)
    assert ident.sign_in("andi.admin", PASSWORD).role is Role.ADMIN


@pytest.mark.parametrize(
    ("user_id", "password", "says"),
    [
        ("andi", "short", "12 to 128"),
        ("andi", "my-name-is-andi-ok", "must not contain the user id"),
        ("Andi", PASSWORD, "is not a user id"),
        ("cli", PASSWORD, "reserved"),
        ("andi.admin", PASSWORD, "exists already"),
    ],
)
def test_bad_users_are_refused_with_the_reason(
    identity: Identity, user_id: str, password: str, says: str
) -> None:
    with pytest.raises(OperatorError, match=says):
        identity.add_user(CLI, user_id=user_id, name="X", role="operator", password=password)


def test_five_wrong_passwords_lock_the_user_and_locks_double(
    identity: Identity, clock: Clock
) -> None:
    for _ in range(access.LOCK_AFTER):
        with pytest.raises(AccessError) as caught:
            identity.sign_in("andi.admin", "wrong-password-123")
        assert caught.value.code == "unauthenticated"
    with pytest.raises(AccessError) as caught:  # the right password is refused while locked
        identity.sign_in("andi.admin", PASSWORD)
    assert (caught.value.code, caught.value.retry_after_s) == ("locked", 900)
    clock.now_s += 900
    for _ in range(access.LOCK_AFTER):  # guessing goes on: the next lock is twice as long
        with pytest.raises(AccessError):
            identity.sign_in("andi.admin", "wrong-password-123")
    with pytest.raises(AccessError) as caught:
        identity.sign_in("andi.admin", PASSWORD)
    assert caught.value.retry_after_s == 1800
    clock.now_s += 1800
    assert identity.sign_in("andi.admin", PASSWORD).actor == "andi.admin"


def test_unknown_and_disabled_users_get_the_same_answer_and_the_typed_id_is_not_kept(
    identity: Identity, store: DistrictStore
) -> None:
    identity.add_user(CLI, user_id="budi", name="Budi", role="operator", password=PASSWORD)
    identity.disable_user(CLI, "budi")
    messages = set()
    for user_id in ("budi", "nobody", "my password 123"):
        with pytest.raises(AccessError) as caught:
            identity.sign_in(user_id, PASSWORD)
        messages.add(str(caught.value))
    assert messages == {"unauthenticated: wrong user id or password"}
    log = store.identity.admin_audit()
    refused = [(r.entry.actor, r.entry.outcome) for r in log if r.entry.action == "session.sign_in"]
    assert refused == [("budi", "disabled"), ("anonymous", "unknown_user"),
                       ("anonymous", "unknown_user")]  # fmt: skip
    assert b"my password" not in b"".join(
        str(r.entry).encode() for r in log
    )  # what was typed as a user id is never logged


def test_the_last_admin_cannot_be_disabled(identity: Identity) -> None:
    with pytest.raises(OperatorError, match="last active admin"):
        identity.disable_user(CLI, "andi.admin")


def _code(secret_text: str, at_s: int) -> str:
    import base64

    secret = base64.b32decode(secret_text + "=" * (-len(secret_text) % 8))
    totp = TOTP(secret, 6, SHA1(), 30, enforce_key_length=False)
    return totp.generate(at_s).decode()


def test_totp_is_required_once_enabled_and_a_code_works_once(
    identity: Identity, clock: Clock
) -> None:
    new = identity.enable_totp(CLI, "andi.admin")
    assert new.uri.startswith("otpauth://totp/") and "issuer=" in new.uri
    with pytest.raises(AccessError) as caught:
        identity.sign_in("andi.admin", PASSWORD)
    assert caught.value.code == "totp_required"
    code = _code(new.secret, clock.now_s)
    assert identity.sign_in("andi.admin", PASSWORD, code).actor == "andi.admin"
    with pytest.raises(AccessError) as caught:  # the same code again: a replay
        identity.sign_in("andi.admin", PASSWORD, code)
    assert caught.value.code == "unauthenticated"
    clock.now_s += 30
    assert identity.sign_in("andi.admin", PASSWORD, _code(new.secret, clock.now_s))


def test_tokens_act_with_their_scopes_until_revoked_expired_or_their_user_is_disabled(
    identity: Identity, store: DistrictStore, clock: Clock, tmp_path: Path, db_url: str | None
) -> None:
    identity.add_user(CLI, user_id="sila", name="Si Laku", role="operator", password=PASSWORD)
    with pytest.raises(OperatorError, match="cannot give the scope users:admin"):
        identity.create_token(CLI, user_id="sila", label="x", scopes=["users:admin"],
                              lifetime_s=86400)  # fmt: skip
    new = identity.create_token(
        CLI, user_id="sila", label="Si Laku O2T", scopes=["jobs:push", "jobs:read"],
        lifetime_s=30 * 86400,
    )  # fmt: skip
    assert new.text.startswith("cdk_")
    who = identity.authenticate(new.text, remote="127.0.0.1")
    assert who == Principal(f"token:{new.row.token_id}", "sila", Role.OPERATOR,
                            frozenset({Scope.JOBS_PUSH, Scope.JOBS_READ}))  # fmt: skip
    with pytest.raises(AccessError):
        who.require(Scope.JOBS_CANCEL)
    secret = new.text[len("cdk_") + 12 + 1 :]  # cdk_<12-char id>_<secret, which may hold "_">
    assert len(secret) == 43
    store.close()
    assert secret.encode() not in stored_bytes(tmp_path, db_url)  # only its digest is stored
    wrong = new.text[:-4] + ("AAAA" if not new.text.endswith("AAAA") else "BBBB")
    for presented in (wrong, "cdk_nonsense", "Bearer " + new.text, ""):
        with pytest.raises(AccessError):
            identity.authenticate(presented)

    identity.disable_user(CLI, "sila")
    with pytest.raises(AccessError):
        identity.authenticate(new.text)
    other = identity.create_token(CLI, user_id="andi.admin", label="remote cli",
                                  scopes=[], lifetime_s=3600)  # fmt: skip
    assert identity.authenticate(other.text).scopes == frozenset(Scope)
    clock.now_s += 3600
    with pytest.raises(AccessError):  # expired
        identity.authenticate(other.text)
    third = identity.create_token(CLI, user_id="andi.admin", label="r", scopes=[],
                                  lifetime_s=86400)  # fmt: skip
    identity.revoke_token(CLI, third.row.token_id)
    with pytest.raises(AccessError):
        identity.authenticate(third.text)
    outcomes = [r.entry.outcome for r in store.identity.admin_audit()
                if r.entry.action == "token.use"]  # fmt: skip
    assert outcomes == ["unknown_token"] * 4 + ["user_disabled", "expired", "revoked"]


def test_the_admin_audit_log_is_chained_and_append_only(
    identity: Identity, store: DistrictStore, tmp_path: Path, db_url: str | None
) -> None:
    identity.add_user(CLI, user_id="budi", name="Budi", role="operator", password=PASSWORD)
    identity.sign_in("budi", PASSWORD, remote="10.0.0.7")
    records = identity.audit_log(CLI)
    assert [(r.seq, r.entry.actor, r.entry.action) for r in records] == [
        (1, "cli", "user.add"), (2, "cli", "user.add"), (3, "budi", "session.sign_in"),
    ]  # fmt: skip
    assert records[2].entry.remote == "10.0.0.7"
    assert check_chain(records, district_code="74.08") == []
    for sql in ("UPDATE admin_audit SET hash = 'forged' WHERE seq = 1",
                "DELETE FROM admin_audit WHERE seq = 2"):  # fmt: skip
        assert "append-only" in raw_refused(tmp_path, db_url, sql)
    assert identity.audit_log(CLI) == records  # nothing changed
