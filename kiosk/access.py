"""District IT's access rules: roles and scopes, passwords, second factor, lockout, tokens.

Pure (ADR 0022): the district's identity service (:mod:`district.identity`) stores users
and tokens and passes the time and randomness in; everything it decides is decided here.

- **Roles** are nested: ``viewer`` ⊂ ``operator`` ⊂ ``admin``; each admin endpoint needs
  one **scope**, and a role is a set of scopes (:data:`ROLE_SCOPES`).
- **Passwords**: 12 to 128 characters, not the user name; hashed with Argon2id (RFC 9106's
  second recommended setting) as a PHC string.
- **TOTP** (RFC 6238: SHA-1, 6 digits, 30 s steps, one step either side), with the step
  that was used returned so the caller can refuse it a second time.
- **Lockout**: :data:`LOCK_AFTER` wrong answers in a row lock a user for 15 minutes,
  doubling with each further lock up to a day.
- **API tokens**: ``cdk_<token id>_<secret>``; only the SHA-256 of the secret is stored.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from kiosk.b64 import b64u_encode
from kiosk.errors import OperatorError


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Scope(enum.StrEnum):
    """What one admin endpoint needs."""

    JOBS_READ = "jobs:read"
    JOBS_PUSH = "jobs:push"
    JOBS_CANCEL = "jobs:cancel"
    OFFICES_READ = "offices:read"
    OFFICES_WRITE = "offices:write"  # add offices, issue enrolment codes
    DEVICES_READ = "devices:read"
    DEVICES_REVOKE = "devices:revoke"
    AUDIT_READ = "audit:read"
    KEYS_ROTATE = "keys:rotate"
    USERS_ADMIN = "users:admin"
    WEBHOOKS_ADMIN = "webhooks:admin"
    RELEASES_PROMOTE = "releases:promote"  # widen an agent release's roll-out (ADR 0031)
    OPERATORS_READ = "operators:read"  # an office's village staff (ADR 0034)
    OPERATORS_WRITE = "operators:write"  # add, disable, reset them (admin only)


_READ: Final = frozenset({Scope.JOBS_READ, Scope.OFFICES_READ, Scope.DEVICES_READ,
                          Scope.AUDIT_READ, Scope.OPERATORS_READ})  # fmt: skip
_OPERATE: Final = _READ | {Scope.JOBS_PUSH, Scope.JOBS_CANCEL, Scope.OFFICES_WRITE}
ROLE_SCOPES: Final[dict[Role, frozenset[Scope]]] = {
    Role.VIEWER: _READ,
    Role.OPERATOR: _OPERATE,
    Role.ADMIN: frozenset(Scope),
}

USER_ID: Final = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 12, 128
MAX_DISPLAY_NAME_CHARS = 80
MAX_LABEL_CHARS = 60
MIN_TOKEN_LIFETIME_S: Final = 3600
MAX_TOKEN_LIFETIME_S: Final = 366 * 86400

LOCK_AFTER: Final = 5  # wrong answers in a row
LOCK_FIRST_S: Final = 15 * 60
LOCK_MAX_S: Final = 86400

TOTP_DIGITS: Final = 6
TOTP_STEP_S: Final = 30
TOTP_SECRET_BYTES: Final = 20  # 160 bits, RFC 4226's recommendation

TOKEN_PREFIX: Final = "cdk_"
TOKEN_ID: Final = re.compile(r"[a-z0-9]{12}")
_TOKEN: Final = re.compile(r"cdk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})")
TOKEN_SECRET_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class Argon2Cost:
    """Argon2id cost: memory in KiB, passes, lanes."""

    memory_kib: int = 64 * 1024
    passes: int = 3
    lanes: int = 4


PASSWORD_COST: Final = Argon2Cost()


# --- users and passwords ----------------------------------------------------------------


def check_user_id(user_id: str) -> str:
    """``user_id`` if it is a valid id (``[a-z][a-z0-9._-]{1,31}``); else OperatorError."""
    if not USER_ID.fullmatch(user_id):
        raise OperatorError(
            f"{user_id!r} is not a user id: 2 to 32 of a-z 0-9 . _ -, starting with a letter"
        )
    return user_id


def check_password_rules(password: str, *, user_id: str) -> None:
    """Raise OperatorError unless ``password`` may be chosen (length; not the user id)."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise OperatorError(
            f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    if user_id.casefold() in password.casefold():
        raise OperatorError("a password must not contain the user id")


def hash_password(password: str, *, salt: bytes, cost: Argon2Cost = PASSWORD_COST) -> str:
    """The Argon2id PHC string of ``password`` (``salt``: 16 random bytes)."""
    kdf = Argon2id(salt=salt, length=32, iterations=cost.passes, lanes=cost.lanes,
                   memory_cost=cost.memory_kib)  # fmt: skip
    return kdf.derive_phc_encoded(password.encode())


def password_matches(password: str, phc: str) -> bool:
    """Whether ``password`` matches the PHC string (constant time inside the library)."""
    try:
        Argon2id.verify_phc_encoded(password.encode(), phc)
    except (InvalidKey, ValueError):
        return False
    return True


def lock_seconds(failures: int, locks_before: int) -> int:
    """How long a user is locked after ``failures`` wrong answers in a row (0: not locked);
    ``locks_before`` counts the earlier locks since the last success."""
    if failures < LOCK_AFTER:
        return 0
    return min(LOCK_FIRST_S << min(locks_before, 16), LOCK_MAX_S)


# --- TOTP ---------------------------------------------------------------------------------


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, TOTP_DIGITS, SHA1(), TOTP_STEP_S, enforce_key_length=False)


def totp_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code)."""
    return _totp(secret).get_provisioning_uri(account, issuer)


def totp_secret_text(secret: bytes) -> str:
    """The secret in base32 (for typing it into an app by hand)."""
    return base64.b32encode(secret).decode().rstrip("=")


def totp_step(code: str, secret: bytes, *, now_s: int, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), or None when it
    is wrong, malformed, or of a step at or before ``last_step`` (a replay)."""
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    current = now_s // TOTP_STEP_S
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        try:
            totp.verify(code.encode(), step * TOTP_STEP_S)
        except InvalidToken:
            continue
        return step
    return None


# --- API tokens -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenText:
    token_id: str
    secret: str

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}{self.token_id}_{self.secret}"


def new_token(random_bytes: Callable[[int], bytes]) -> TokenText:
    """A fresh token: a 12-character id (lowercase base32) and a 256-bit secret."""
    token_id = base64.b32encode(random_bytes(10)).decode().lower()[:12]  # a-z 2-7, no "="
    return TokenText(token_id, b64u_encode(random_bytes(TOKEN_SECRET_BYTES)))


def parse_token(text: str) -> TokenText | None:
    """The parts of a presented token, or None when it is not one."""
    match = _TOKEN.fullmatch(text.strip())
    if match is None:
        return None
    return TokenText(match.group(1), match.group(2))


def token_digest(secret: str) -> str:
    """What is stored of a token: base64url(SHA-256(secret))."""
    return b64u_encode(hashlib.sha256(secret.encode()).digest())


def token_matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(secret), digest)


def check_scopes(names: list[str], *, role: Role) -> frozenset[Scope]:
    """The scopes named (all of the creator's role when ``names`` is empty); OperatorError
    for an unknown scope or one the role does not have."""
    allowed = ROLE_SCOPES[role]
    if not names:
        return allowed
    scopes: set[Scope] = set()
    for name in names:
        try:
            scope = Scope(name)
        except ValueError:
            known = ", ".join(sorted(s.value for s in Scope))
            raise OperatorError(f"{name!r} is not a scope (known: {known})") from None
        if scope not in allowed:
            raise OperatorError(f"a {role.value} cannot give the scope {scope.value}")
        scopes.add(scope)
    return frozenset(scopes)
