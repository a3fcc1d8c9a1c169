"""District IT's identity: users with roles, sign-in with lockout and TOTP, API tokens, and
the district's audit log of every admin action (ADR 0022).

The rules are :mod:`kiosk.access` (pure); this service applies them to the store
(:class:`district.store.IdentityStore`) with the time and randomness it is given. Every
call that changes something, and every refused sign-in or token, appends to the admin
audit log. Refusals are :class:`~kiosk.errors.AccessError` (credentials) or
:class:`~kiosk.errors.OperatorError` (a request that cannot be done, e.g. an unknown user),
with messages that never echo a password, a secret or a token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from district.store import IdentityStore, SessionRow, TokenRow, UserRow
from kiosk import access
from kiosk.access import PASSWORD_COST, ROLE_SCOPES, Argon2Cost, Role, Scope
from kiosk.admin_audit import AdminEntry, AdminRecord
from kiosk.b64 import b64u_encode
from kiosk.errors import AccessError, OperatorError

log = logging.getLogger("cedoka.district.identity")
RESERVED_IDS = frozenset({"cli", "anonymous", "system", "root"})
ANONYMOUS = "anonymous"  # the actor of a refused sign-in or token (what was typed is not kept)
TOKEN_TOUCH_S = 60  # a token's "last used" is written at most once a minute
SESSION_IDLE_S = 30 * 60
SESSION_MAX_S = 12 * 3600
SESSION_TOUCH_S = 60
MAX_SESSION_CHARS = 64
_DUMMY_SALT = b"cedoka-no-user!!"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, and what they may do."""

    actor: str  # a user id, "token:<id>", or "cli" (the server host's own shell)
    user_id: str | None
    role: Role
    scopes: frozenset[Scope]

    def require(self, scope: Scope) -> None:
        """Raise AccessError ``forbidden`` unless this principal has ``scope``."""
        if scope not in self.scopes:
            raise AccessError("forbidden", f"needs the scope {scope.value}", scope=scope.value)


# The command line on the server host: it can read the keys and the database anyway.
CLI = Principal("cli", None, Role.ADMIN, ROLE_SCOPES[Role.ADMIN])


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as lists show it (no password hash, no TOTP secret)."""

    user_id: str
    name: str
    role: Role
    totp: bool
    created_s: int
    disabled_s: int | None
    locked_until_s: int


@dataclass(frozen=True, slots=True)
class NewToken:
    text: str  # shown once; only its digest is kept
    row: TokenRow


@dataclass(frozen=True, slots=True)
class NewSession:
    session_id: str  # the cookie's value; only its digest is kept
    csrf: str  # sent back by the console in X-CSRF-Token on every change


@dataclass(frozen=True, slots=True)
class NewTotp:
    secret: str  # base32, for typing into an app
    uri: str  # otpauth://…, for a QR code


def _view(row: UserRow) -> UserView:
    return UserView(row.user_id, row.name, Role(row.role), row.totp_secret is not None,
                    row.created_s, row.disabled_s, row.locked_until_s)  # fmt: skip


class Identity:
    """Users, sign-in, tokens and the admin audit log of one district."""

    def __init__(
        self, store: IdentityStore, *, district_code: str, district_name: str = "Cedoka",
        now_s: Callable[[], int] = lambda: int(time.time()),
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        cost: Argon2Cost = PASSWORD_COST,
    ) -> None:  # fmt: skip
        self._store, self._code, self._issuer = store, district_code, district_name
        self._now_s, self._random, self._cost = now_s, random_bytes, cost
        self._dummy_hash: str | None = None  # made on first need (an Argon2id hash costs)

    def now_s(self) -> int:
        return self._now_s()

    def _dummy(self) -> str:
        """A hash to check an unknown user's password against: the answer takes as long
        as for a real user, so timing does not tell which user ids exist."""
        if self._dummy_hash is None:
            self._dummy_hash = access.hash_password("x" * 16, salt=_DUMMY_SALT, cost=self._cost)
        return self._dummy_hash

    # --- the audit log -----------------------------------------------------------------
    def record(
        self, actor: str, action: str, outcome: str, *,
        targets: tuple[tuple[str, str], ...] = (), remote: str | None = None,
    ) -> None:  # fmt: skip
        """Append one admin action to the district's audit log."""
        entry = AdminEntry(at_s=self._now_s(), actor=actor, action=action, outcome=outcome,
                           targets=targets, remote=remote)  # fmt: skip
        self._store.append_admin_audit(entry, district_code=self._code)
        log.info("event=admin_action actor=%s action=%s outcome=%s", actor, action, outcome)

    def audit_log(
        self, by: Principal, *, after_seq: int = 0, limit: int = 1000
    ) -> list[AdminRecord]:
        by.require(Scope.AUDIT_READ)
        return self._store.admin_audit(after_seq=after_seq, limit=limit)

    # --- users ---------------------------------------------------------------------------
    def add_user(self, by: Principal, *, user_id: str, name: str, role: str, password: str,
                 remote: str | None = None) -> UserView:  # fmt: skip
        """Add a user. Raises AccessError (not an admin), OperatorError (bad id, name, role
        or password; the id exists)."""
        by.require(Scope.USERS_ADMIN)
        access.check_user_id(user_id)
        if user_id in RESERVED_IDS:
            raise OperatorError(f"{user_id!r} is reserved: choose another user id")
        name = " ".join(name.split())
        if not 1 <= len(name) <= access.MAX_DISPLAY_NAME_CHARS or not name.isprintable():
            raise OperatorError(f"a name has 1 to {access.MAX_DISPLAY_NAME_CHARS} characters")
        chosen = _role(role)
        access.check_password_rules(password, user_id=user_id)
        row = UserRow(
            user_id=user_id, name=name, role=chosen.value,
            password=access.hash_password(password, salt=self._random(16), cost=self._cost),
            totp_secret=None, totp_last_step=None, failures=0, locks=0, locked_until_s=0,
            created_s=self._now_s(), disabled_s=None,
        )  # fmt: skip
        if not self._store.add_user(row):
            raise OperatorError(f"the user {user_id} exists already")
        self.record(by.actor, "user.add", "ok", targets=(("user", user_id),), remote=remote)
        return _view(row)

    def users(self, by: Principal) -> list[UserView]:
        by.require(Scope.USERS_ADMIN)
        return [_view(row) for row in self._store.users()]

    def disable_user(self, by: Principal, user_id: str, *, remote: str | None = None) -> None:
        """Disable a user (their sessions and tokens stop working at once). The last
        active admin cannot be disabled. Raises AccessError, OperatorError."""
        by.require(Scope.USERS_ADMIN)
        row = self._user(user_id)
        if row.disabled_s is not None:
            raise OperatorError(f"the user {user_id} is disabled already")
        admins = [u for u in self._store.users()
                  if u.role == Role.ADMIN.value and u.disabled_s is None]  # fmt: skip
        if row.role == Role.ADMIN.value and len(admins) == 1:
            raise OperatorError(f"{user_id} is the last active admin: add another admin first")
        self._store.update_user(user_id, disabled_s=self._now_s())
        self._store.delete_sessions(user_id=user_id)
        self.record(by.actor, "user.disable", "ok", targets=(("user", user_id),), remote=remote)

    def set_password(self, by: Principal, user_id: str, password: str, *,
                     remote: str | None = None) -> None:  # fmt: skip
        """A new password (an admin for anyone, a user for themselves); clears a lock."""
        if by.user_id != user_id:
            by.require(Scope.USERS_ADMIN)
        self._user(user_id)
        access.check_password_rules(password, user_id=user_id)
        phc = access.hash_password(password, salt=self._random(16), cost=self._cost)
        self._store.update_user(user_id, password=phc, failures=0, locks=0, locked_until_s=0)
        self.record(by.actor, "user.password", "ok", targets=(("user", user_id),), remote=remote)

    def enable_totp(self, by: Principal, user_id: str, *, remote: str | None = None) -> NewTotp:
        """Give ``user_id`` a new TOTP secret (replacing any): from now on sign-in needs a
        code. The secret is returned once, for the user's authenticator app."""
        if by.user_id != user_id:
            by.require(Scope.USERS_ADMIN)
        self._user(user_id)
        secret = self._random(access.TOTP_SECRET_BYTES)
        self._store.update_user(user_id, totp_secret=secret, totp_last_step=None)
        self.record(by.actor, "user.totp", "ok", targets=(("user", user_id),), remote=remote)
        return NewTotp(access.totp_secret_text(secret),
                       access.totp_uri(secret, account=user_id, issuer=self._issuer))  # fmt: skip

    # --- sign-in ---------------------------------------------------------------------------
    def sign_in(self, user_id: str, password: str, totp_code: str | None = None, *,
                remote: str | None = None) -> Principal:  # fmt: skip
        """Check a user's password (and TOTP code). Raises AccessError: ``unauthenticated``
        (unknown user, wrong answer, disabled — indistinguishable), ``locked``,
        ``totp_required`` (right password, no code given)."""
        now = self._now_s()
        row = self._store.user(user_id) if access.USER_ID.fullmatch(user_id) else None
        if row is None or row.disabled_s is not None:
            access.password_matches(password, row.password if row else self._dummy())
            self.record(ANONYMOUS if row is None else row.user_id, "session.sign_in",
                        "unknown_user" if row is None else "disabled", remote=remote)  # fmt: skip
            raise AccessError("unauthenticated", "wrong user id or password")
        if row.locked_until_s > now:
            self.record(row.user_id, "session.sign_in", "locked", remote=remote)
            raise AccessError("locked", "too many wrong answers",
                              retry_after_s=row.locked_until_s - now)  # fmt: skip
        if not access.password_matches(password, row.password):
            self._failed(row, now, remote, "wrong_password")
        if row.totp_secret is not None:
            if not totp_code:
                self.record(row.user_id, "session.sign_in", "totp_required", remote=remote)
                raise AccessError("totp_required", "enter the code from the authenticator app")
            step = access.totp_step(totp_code, row.totp_secret, now_s=now,
                                    last_step=row.totp_last_step)  # fmt: skip
            if step is None:
                self._failed(row, now, remote, "wrong_totp")
            self._store.update_user(row.user_id, totp_last_step=step)
        self._store.update_user(row.user_id, failures=0, locks=0, locked_until_s=0)
        self.record(row.user_id, "session.sign_in", "ok", remote=remote)
        role = Role(row.role)
        return Principal(row.user_id, row.user_id, role, ROLE_SCOPES[role])

    def _failed(self, row: UserRow, now: int, remote: str | None, outcome: str) -> None:
        failures = row.failures + 1
        lock_s = access.lock_seconds(failures, row.locks)
        if lock_s:
            self._store.update_user(row.user_id, failures=0, locks=row.locks + 1,
                                    locked_until_s=now + lock_s)  # fmt: skip
            outcome = "locked"
        else:
            self._store.update_user(row.user_id, failures=failures)
        self.record(row.user_id, "session.sign_in", outcome, remote=remote)
        raise AccessError("unauthenticated", "wrong user id or password")

    def principal_of(self, user_id: str) -> Principal:
        """The principal of an active user (for a session whose user may have changed since
        it was opened); AccessError ``unauthenticated`` when the user is gone or disabled."""
        row = self._store.user(user_id)
        if row is None or row.disabled_s is not None:
            raise AccessError("unauthenticated", "the user is disabled")
        role = Role(row.role)
        return Principal(row.user_id, row.user_id, role, ROLE_SCOPES[role])

    # --- console sessions ---------------------------------------------------------------------
    def open_session(self, who: Principal, *, remote: str | None = None) -> NewSession:
        """A session for a signed-in user: its id (the cookie; only its SHA-256 is kept)
        and its anti-CSRF token. Idle sessions of everyone are swept here."""
        if who.user_id is None or who.actor != who.user_id:
            raise AccessError("forbidden", "sessions are for people, not tokens")
        now = self._now_s()
        self._store.delete_sessions(seen_before_s=now - SESSION_IDLE_S)
        session_id, csrf = b64u_encode(self._random(32)), b64u_encode(self._random(32))
        self._store.add_session(SessionRow(_digest(session_id), who.user_id, csrf, now, now))
        self.record(who.actor, "session.open", "ok", remote=remote)
        return NewSession(session_id, csrf)

    def session_principal(self, session_id: str) -> tuple[Principal, str]:
        """The principal and anti-CSRF token of a live session. Raises AccessError
        ``unauthenticated`` when it is unknown, idle over 30 min, older than 12 h, or its
        user is disabled."""
        now = self._now_s()
        digest = _digest(session_id)
        row = self._store.session(digest) if 0 < len(session_id) <= MAX_SESSION_CHARS else None
        if row is None:
            raise AccessError("unauthenticated", "sign in again")
        if now - row.seen_s > SESSION_IDLE_S or now - row.created_s > SESSION_MAX_S:
            self._store.delete_sessions(digest=digest)
            raise AccessError("unauthenticated", "the session ended: sign in again")
        who = self.principal_of(row.user_id)
        if now - row.seen_s >= SESSION_TOUCH_S:
            self._store.touch_session(digest, at_s=now)
        return who, row.csrf

    def close_session(self, session_id: str, *, remote: str | None = None) -> None:
        """Sign out (nothing happens for an unknown session)."""
        row = self._store.session(_digest(session_id))
        if row is not None and self._store.delete_sessions(digest=row.digest):
            self.record(row.user_id, "session.close", "ok", remote=remote)

    # --- API tokens ------------------------------------------------------------------------
    def create_token(
        self, by: Principal, *, label: str, scopes: list[str], lifetime_s: int,
        user_id: str | None = None, remote: str | None = None,
    ) -> NewToken:  # fmt: skip
        """A token for ``user_id`` (default: the creator; another user's needs the admin
        scope), with ``scopes`` (default: all of that user's role), expiring after
        ``lifetime_s`` (1 h to 366 days). Raises AccessError, OperatorError."""
        owner = user_id or by.user_id
        if owner is None:
            raise OperatorError("say which user the token acts for (--user)")
        if owner != by.user_id:
            by.require(Scope.USERS_ADMIN)
        row = self._user(owner)
        if row.disabled_s is not None:
            raise OperatorError(f"the user {owner} is disabled")
        label = " ".join(label.split())
        if not 1 <= len(label) <= access.MAX_LABEL_CHARS or not label.isprintable():
            raise OperatorError(f"a token label has 1 to {access.MAX_LABEL_CHARS} characters")
        if not access.MIN_TOKEN_LIFETIME_S <= lifetime_s <= access.MAX_TOKEN_LIFETIME_S:
            raise OperatorError("a token lives from 1 hour to 366 days: give --expires")
        chosen = access.check_scopes(scopes, role=Role(row.role))
        text = access.new_token(self._random)
        now = self._now_s()
        token = TokenRow(
            token_id=text.token_id, user_id=owner, label=label,
            scopes=tuple(sorted(s.value for s in chosen)),
            digest=access.token_digest(text.secret), created_s=now, expires_s=now + lifetime_s,
            revoked_s=None, last_used_s=None,
        )  # fmt: skip
        self._store.add_token(token)
        self.record(by.actor, "token.create", "ok",
                    targets=(("token", text.token_id), ("user", owner)), remote=remote)  # fmt: skip
        return NewToken(str(text), token)

    def tokens(self, by: Principal, *, user_id: str | None = None) -> list[TokenRow]:
        """Tokens of ``user_id`` (default: everyone's for an admin, one's own otherwise)."""
        if by.user_id is None or user_id != by.user_id:
            by.require(Scope.USERS_ADMIN)
        return self._store.tokens(user_id=user_id)

    def revoke_token(self, by: Principal, token_id: str, *, remote: str | None = None) -> None:
        row = self._store.token(token_id) if access.TOKEN_ID.fullmatch(token_id) else None
        if row is None:
            raise OperatorError(f"no token {token_id!r}")
        if row.user_id != by.user_id:
            by.require(Scope.USERS_ADMIN)
        if not self._store.revoke_token(token_id, at_s=self._now_s()):
            raise OperatorError(f"the token {token_id} is revoked already")
        self.record(by.actor, "token.revoke", "ok", targets=(("token", token_id),), remote=remote)

    def authenticate(self, presented: str, *, remote: str | None = None) -> Principal:
        """The principal of a presented API token. Raises AccessError ``unauthenticated``
        (malformed, unknown, wrong secret, revoked, expired, or its user disabled — one
        answer for all); the refusal is audited with the token id only."""
        now = self._now_s()
        parsed = access.parse_token(presented)
        row = None if parsed is None else self._store.token(parsed.token_id)
        outcome = "ok"
        if parsed is None or row is None or not access.token_matches(parsed.secret, row.digest):
            outcome = "unknown_token"
        elif row.revoked_s is not None:
            outcome = "revoked"
        elif row.expires_s <= now:
            outcome = "expired"
        owner = None if row is None else self._store.user(row.user_id)
        if outcome == "ok" and (owner is None or owner.disabled_s is not None):
            outcome = "user_disabled"
        if outcome != "ok" or row is None or owner is None:
            targets = () if row is None else (("token", row.token_id),)
            self.record(ANONYMOUS, "token.use", outcome, targets=targets, remote=remote)
            raise AccessError("unauthenticated", "the token is not valid")
        if row.last_used_s is None or now - row.last_used_s >= TOKEN_TOUCH_S:
            self._store.touch_token(row.token_id, at_s=now)
        role = Role(owner.role)
        scopes = frozenset(Scope(s) for s in row.scopes) & ROLE_SCOPES[role]
        return Principal(f"token:{row.token_id}", owner.user_id, role, scopes)

    def _user(self, user_id: str) -> UserRow:
        row = self._store.user(user_id) if access.USER_ID.fullmatch(user_id) else None
        if row is None:
            raise OperatorError(f"no user {user_id!r}")
        return row


def _digest(session_id: str) -> str:
    return b64u_encode(hashlib.sha256(session_id.encode()).digest())


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise OperatorError(f"{text!r} is not a role: {', '.join(r.value for r in Role)}") from None
