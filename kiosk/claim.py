"""Resident claim codes: format, check digit, slow hash, offline matching and lockout.

A job with release mode "claim" is printed only when the resident tells the village staff
the claim code the district sent them over WhatsApp. The kiosk checks the code OFFLINE
against an Argon2id (RFC 9106) digest that arrives inside the signed, sealed job data.

Invariants:

* A code is 12 ASCII digits: 11 uniformly random digits + one Damm check digit; shown as
  ``"1234 5678 9012"``. The check digit catches every single-digit typo and every swap of
  two neighbouring digits, so a typo is reported as such and never counts as a failure.
* The password is the ASCII of the 12 canonical digits; the salt is per device
  (``sha256(b"cedoka/1|claim|" + device_id)[:16]``), so a digest leaked from one kiosk is
  useless against another. Changing either rule is a protocol change: the known-answer
  vector in ``tests/unit/test_claim.py`` freezes both.
* Argon2id cost parameters arrive from the wire and are bounded (:func:`validate_params`)
  before any hashing, so a job cannot exhaust an old kiosk PC's memory or CPU.
* :func:`match_claim` hashes once per distinct parameter set and compares against every
  candidate in constant time, with no early exit.
* The lockout functions are pure: the caller stores :class:`LockoutState` and passes the
  trusted time (which never goes backwards) as ``now_s``. An attempt is counted *before*
  the slow hash (:func:`begin_attempt`, stored in the same transaction that read the state),
  so attempts made at the same moment cannot all find the lock open; a match then forgives
  it (:func:`record_success`).

Nothing here performs I/O; randomness is injected as ``random_bytes``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from kiosk.errors import ClaimError, ClaimLockedError, Reason, WireError

CODE_DIGITS: Final = 12
RANDOM_DIGITS: Final = CODE_DIGITS - 1
DIGEST_BYTES: Final = 32
SALT_BYTES: Final = 16
SALT_PREFIX: Final = b"cedoka/1|claim|"

# Separators a resident or a WhatsApp message may put between groups; all are dropped.
# Spaces (incl. no-break and narrow no-break spaces WhatsApp may insert), dashes, dots.
_SEPARATORS: Final = frozenset(" \t\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2212.")
_ASCII_DIGITS: Final = frozenset("0123456789")
# Longest input looked at; anything longer is malformed without further work.
_MAX_INPUT_CHARS: Final = 64
# Bytes >= this are rejected so that ``byte % 10`` is uniform (250 = 25 * 10).
_REJECT_FROM: Final = 250
# A random source that keeps yielding rejected bytes is broken, not unlucky:
# the chance of 64 all-rejected rounds is below 2**-300.
_MAX_ROUNDS: Final = 64

# Damm's weakly totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM: Final = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Bounds on wire-supplied Argon2id parameters (RFC 9106 / OWASP floor, old-PC ceiling).
MIN_M_KIB: Final = 19456
MAX_M_KIB: Final = 262144
MIN_T: Final = 1
MAX_T: Final = 8
MIN_P: Final = 1
MAX_P: Final = 4


# --- check digit and code format ------------------------------------------------------


def damm_check_digit(digits: str) -> str:
    """Return the Damm check digit of a string of ASCII digits.

    Raises:
        ValueError: ``digits`` contains something other than ASCII digits.
    """
    interim = 0
    for char in digits:
        if char not in _ASCII_DIGITS:
            raise ValueError("ASCII digits expected")
        interim = _DAMM[interim][ord(char) - 48]
    return chr(48 + interim)


def damm_is_valid(digits: str) -> bool:
    """True when ``digits`` (data followed by its check digit) passes the Damm check."""
    return len(digits) > 0 and damm_check_digit(digits) == "0"


def generate_claim_code(random_bytes: Callable[[int], bytes]) -> str:
    """Make a new claim code (district side): 11 uniform random digits + a Damm digit.

    Each digit is ``byte % 10`` of a byte below 250; bytes 250..255 are rejected, so no
    digit is more likely than another (no modulo bias).

    Raises:
        ValueError: ``random_bytes`` returned the wrong number of bytes, or only ever
            bytes that must be rejected (a broken random source).
    """
    digits: list[str] = []
    for _ in range(_MAX_ROUNDS):
        wanted = RANDOM_DIGITS - len(digits)
        chunk = random_bytes(wanted)
        if len(chunk) != wanted:
            raise ValueError("random_bytes returned the wrong number of bytes")
        digits.extend(chr(48 + byte % 10) for byte in chunk if byte < _REJECT_FROM)
        if len(digits) == RANDOM_DIGITS:
            data = "".join(digits)
            return data + damm_check_digit(data)
    raise ValueError("random_bytes keeps returning bytes >= 250")


def normalize_claim_code(text: str) -> str:
    """Validate a typed or pasted claim code and return its 12 canonical digits.

    Spaces, dashes and dots are dropped; nothing else is tolerated.

    Raises:
        ClaimError: CLAIM_MALFORMED for a wrong character or length, or with detail
            ``"check digit"`` for a typo the check digit caught. A malformed code is not
            a failed attempt: the caller must not count it towards the lockout.
    """
    if not isinstance(text, str) or len(text) > _MAX_INPUT_CHARS:
        raise ClaimError(Reason.CLAIM_MALFORMED, "too long")
    kept: list[str] = []
    for char in text:
        if char in _ASCII_DIGITS:
            kept.append(char)
        elif char not in _SEPARATORS:
            # The detail never echoes the input: it may be (part of) a secret code.
            raise ClaimError(Reason.CLAIM_MALFORMED, "only digits, spaces, dashes and dots")
    code = "".join(kept)
    if len(code) != CODE_DIGITS:
        raise ClaimError(Reason.CLAIM_MALFORMED, f"{CODE_DIGITS} digits expected")
    if not damm_is_valid(code):
        raise ClaimError(Reason.CLAIM_MALFORMED, "check digit")
    return code


def format_claim_code(code: str) -> str:
    """Show a claim code as three groups of four digits, e.g. ``"1234 5678 9012"``.

    Raises:
        ClaimError: CLAIM_MALFORMED as :func:`normalize_claim_code`.
    """
    canonical = normalize_claim_code(code)
    return " ".join(canonical[i : i + 4] for i in range(0, CODE_DIGITS, 4))


# --- slow hash -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimParams:
    """Argon2id cost: memory in KiB, passes (time cost) and lanes (parallelism)."""

    m_kib: int
    t: int
    p: int


DEFAULT: Final = ClaimParams(m_kib=65536, t=2, p=1)


@dataclass(frozen=True, slots=True)
class ClaimVerifier:
    """What the job data carries to check a code offline: cost and 32-byte digest.

    Raises:
        WireError: BAD_CLAIM when ``digest`` is not 32 bytes.
    """

    params: ClaimParams
    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_BYTES:
            raise WireError(Reason.BAD_CLAIM, f"claim digest must be {DIGEST_BYTES} bytes")


def _bounded(name: str, value: object, low: int, high: int) -> None:
    # bool is an int subclass; a JSON true must not pass as 1.
    if type(value) is not int or not low <= value <= high:
        raise WireError(Reason.BAD_CLAIM, f"claim {name} must be an integer in {low}..{high}")


def validate_params(params: ClaimParams) -> ClaimParams:
    """Return ``params`` if its cost is within the bounds an old kiosk PC can afford.

    Raises:
        WireError: BAD_CLAIM when a value is not an int or is out of bounds.
    """
    _bounded("m_kib", params.m_kib, MIN_M_KIB, MAX_M_KIB)
    _bounded("t", params.t, MIN_T, MAX_T)
    _bounded("p", params.p, MIN_P, MAX_P)
    return params


def claim_salt(device_id: str) -> bytes:
    """The per-device 16-byte salt: ``sha256(b"cedoka/1|claim|" + device_id)[:16]``.

    Raises:
        UnicodeEncodeError: ``device_id`` is not ASCII (ids always are).
    """
    return hashlib.sha256(SALT_PREFIX + device_id.encode("ascii")).digest()[:SALT_BYTES]


def _argon2id(password: bytes, salt: bytes, params: ClaimParams) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=DIGEST_BYTES,
        iterations=params.t,
        lanes=params.p,
        memory_cost=params.m_kib,
    )
    return kdf.derive(password)


def claim_digest(code: str, *, device_id: str, params: ClaimParams) -> bytes:
    """Argon2id digest of a claim code for one device.

    Raises:
        ClaimError: CLAIM_MALFORMED when ``code`` is not a valid claim code.
        WireError: BAD_CLAIM when ``params`` is out of bounds.
    """
    canonical = normalize_claim_code(code)
    validate_params(params)
    return _argon2id(canonical.encode("ascii"), claim_salt(device_id), params)


def make_verifier(code: str, *, device_id: str, params: ClaimParams = DEFAULT) -> ClaimVerifier:
    """Build the verifier the district puts into a job for ``device_id`` (district side).

    Raises:
        ClaimError: CLAIM_MALFORMED when ``code`` is not a valid claim code.
        WireError: BAD_CLAIM when ``params`` is out of bounds.
    """
    return ClaimVerifier(params, claim_digest(code, device_id=device_id, params=params))


def match_claim(
    code_text: str, *, device_id: str, candidates: Mapping[str, ClaimVerifier]
) -> list[str]:
    """Return the sorted keys (job ids) of every candidate the typed code opens.

    The slow hash runs once per distinct :class:`ClaimParams`; every candidate is then
    compared in constant time, with no early exit, so timing reveals nothing about which
    or how many jobs match. An empty list means a wrong code: the caller records it with
    :func:`record_failure`.

    Raises:
        ClaimError: CLAIM_MALFORMED (not a failed attempt).
        WireError: BAD_CLAIM when a candidate's parameters are out of bounds; checked
            for all candidates before any hashing.
    """
    canonical = normalize_claim_code(code_text)
    distinct = {validate_params(verifier.params) for verifier in candidates.values()}
    salt = claim_salt(device_id)
    password = canonical.encode("ascii")
    digests = {params: _argon2id(password, salt, params) for params in distinct}
    matched: list[str] = []
    for key, verifier in candidates.items():
        if hmac.compare_digest(digests[verifier.params], verifier.digest):
            matched.append(key)
    return sorted(matched)


# --- lockout against guessing --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many wrong codes lock claim release, and for how long (seconds)."""

    max_failures: int = 5  # wrong codes within window_s that trigger a lock
    window_s: int = 600  # failures older than this are forgotten
    lock_s: int = 300  # first lock; doubles on each consecutive lockout
    max_lock_s: int = 3600  # cap on a single lock


@dataclass(frozen=True, slots=True)
class LockoutState:
    """Stored between attempts; all times are trusted Unix seconds."""

    failures_s: tuple[int, ...] = ()  # times of recent failures within the window
    locked_until_s: int = 0  # release refused while now_s < locked_until_s
    lockouts: int = 0  # consecutive lockouts since the last success


# The lock doubles per lockout; beyond this many doublings it is at its cap anyway,
# and bounding the shift keeps a corrupt, huge ``lockouts`` from costing time.
_MAX_DOUBLINGS: Final = 32


def check_unlocked(state: LockoutState, policy: LockoutPolicy, *, now_s: int) -> None:
    """Return None when a code may be tried now.

    ``policy`` is taken for a uniform signature with the other lockout functions.

    Raises:
        ClaimLockedError: while ``now_s < state.locked_until_s``, with the seconds left.
    """
    del policy
    if now_s < state.locked_until_s:
        raise ClaimLockedError(state.locked_until_s - now_s)


def record_failure(state: LockoutState, policy: LockoutPolicy, *, now_s: int) -> LockoutState:
    """Record one wrong code; lock when ``max_failures`` fall within ``window_s``.

    The lock lasts ``lock_s * 2**lockouts`` seconds, capped at ``max_lock_s``.
    """
    recent = (*(t for t in state.failures_s if now_s - t < policy.window_s), now_s)
    if len(recent) < policy.max_failures:
        return LockoutState(recent, state.locked_until_s, state.lockouts)
    doublings = min(state.lockouts, _MAX_DOUBLINGS)
    lock_s = min(policy.lock_s << doublings, policy.max_lock_s)
    return LockoutState((), now_s + lock_s, state.lockouts + 1)


def begin_attempt(state: LockoutState, policy: LockoutPolicy, *, now_s: int) -> LockoutState:
    """Admit one attempt and count it as a failure before it is checked.

    The caller stores the result in the same transaction that read ``state``, then runs the
    slow hash: attempts made at the same moment are counted one after the other, so at most
    ``max_failures`` of them are ever checked per window (the last one admitted sets the
    lock). A wrong attempt needs nothing more; a right one calls :func:`record_success`.

    Raises:
        ClaimLockedError: while locked (nothing is counted), with the seconds left.
    """
    check_unlocked(state, policy, now_s=now_s)
    return record_failure(state, policy, now_s=now_s)


def forgive_attempt(state: LockoutState, policy: LockoutPolicy, *, now_s: int) -> LockoutState:
    """Take back one attempt :func:`begin_attempt` counted at ``now_s``: its code matched a
    job that is no longer held (used, cancelled, expired), so it was no guess.

    Only that one attempt is taken back — the other failures stay, unlike
    :func:`record_success` — so a spent code (a guesser's own old one) cannot be used to
    wipe the count between guesses. When that attempt was the one that set the lock, the
    lock is lifted again and the failures before it are kept as if made at ``now_s`` (they
    are then forgotten a little later than they would have been: never sooner). When the
    state changed otherwise meanwhile, nothing is taken back.
    """
    if now_s in state.failures_s:
        failures = list(state.failures_s)
        failures.remove(now_s)  # one of them: all are the same moment
        return LockoutState(tuple(failures), state.locked_until_s, state.lockouts)
    if not state.failures_s and state.lockouts > 0:
        doublings = min(state.lockouts - 1, _MAX_DOUBLINGS)
        if state.locked_until_s == now_s + min(policy.lock_s << doublings, policy.max_lock_s):
            return LockoutState((now_s,) * (policy.max_failures - 1), 0, state.lockouts - 1)
    return state


def seconds_locked(state: LockoutState, *, now_s: int) -> int:
    """Seconds until a code may be tried again (0: now)."""
    return max(0, state.locked_until_s - now_s)


def record_success(state: LockoutState, policy: LockoutPolicy, *, now_s: int) -> LockoutState:
    """Record a matching code: forget failures, reset the lock doubling, and lift the lock.

    A lock can be running here only when this attempt's own up-front count
    (:func:`begin_attempt`), or an attempt admitted at the same moment, set it: the attempt
    that matched was admitted while the lock was open.
    """
    del state, policy, now_s
    return LockoutState()
