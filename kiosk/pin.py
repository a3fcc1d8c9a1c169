"""Operator PINs: the rules a PIN must meet, and its slow salted hash (scrypt, RFC 7914).

A PIN is 4 to 8 ASCII digits, not one digit repeated and not a run like ``1234`` or
``9876``. It is stored only as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64url), with a
fresh 16-byte salt; checking costs about 16 MiB and some tens of milliseconds, and the
kiosk locks an operator after repeated wrong PINs (the claim lockout's policy, per operator).

Pure: randomness is injected as ``random_bytes``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from typing import Final

from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.errors import CedokaError, WireError

MIN_DIGITS: Final = 4
MAX_DIGITS: Final = 8
_N, _R, _P, _DKLEN, _SALT = 2**14, 8, 1, 32, 16
_MAX_N: Final = 2**17  # refuse stored parameters that would cost too much memory


class PinError(CedokaError, ValueError):
    """The PIN breaks a rule; ``str()`` says which, in English."""


def check_pin_rules(pin: str) -> None:
    """Raise :class:`PinError` unless ``pin`` may be chosen as a PIN."""
    if not (MIN_DIGITS <= len(pin) <= MAX_DIGITS and pin.isascii() and pin.isdigit()):
        raise PinError(f"a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits")
    if len(set(pin)) == 1:
        raise PinError("a PIN must not repeat one digit")
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        raise PinError("a PIN must not be a run like 1234 or 9876")


def one_time_pin(random_below: Callable[[int], int], *, digits: int = 6) -> str:
    """A fresh PIN that meets the rules, for district IT to hand to a clerk once (ADR 0034).

    ``random_below(k)`` returns a uniform integer in ``[0, k)``, e.g. ``secrets.randbelow``.
    """
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise PinError(f"a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits")
    while True:
        pin = "".join(str(random_below(10)) for _ in range(digits))
        try:
            check_pin_rules(pin)
        except PinError:
            continue
        return pin


def hash_pin(pin: str, *, random_bytes: Callable[[int], bytes]) -> str:
    """The stored form of ``pin`` (the rules are checked first)."""
    check_pin_rules(pin)
    salt = random_bytes(_SALT)
    digest = hashlib.scrypt(pin.encode("ascii"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${b64u_encode(salt)}${b64u_encode(digest)}"


def pin_matches(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN behind ``stored`` (constant-time compare). A malformed
    entry or input never matches."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":  # noqa: PLR2004 (the stored form's parts)
        return False
    if not (pin.isascii() and pin.isdigit() and len(pin) <= MAX_DIGITS):
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = b64u_decode(parts[4]), b64u_decode(parts[5])
    except (ValueError, WireError):
        return False
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):  # noqa: PLR2004
        return False
    digest = hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=len(expected),
                            maxmem=256 * 1024 * 1024)  # fmt: skip
    return hmac.compare_digest(digest, expected)
