"""Identifiers: ULID-shaped ids with a kind prefix, and Indonesian region codes.

A job, document, device or event id is ``<prefix>_`` + 26 Crockford base32 characters
(a ULID: 48-bit millisecond time + 80 random bits), e.g. ``job_01JD3V6Q8X4M2T7R5W9Y0ZB1CE``.
Ids carry no personal data and never contain ``|``, so they can be joined unambiguously
in HPKE ``info`` strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from kiosk.errors import Reason, WireError

CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PREFIXES: Final = ("job", "doc", "dev", "evt")
_ID = re.compile(r"(job|doc|dev|evt)_[0-9A-HJKMNP-TV-Z]{26}")
DISTRICT_CODE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}")
OFFICE_CODE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[123][0-9]{3}")
KID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_id(prefix: str, *, now_ms: int, random_bytes: Callable[[int], bytes]) -> str:
    """Make a ULID-shaped id; ``now_ms`` is Unix time in milliseconds."""
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    if not 0 <= now_ms < 2**48:
        raise ValueError("now_ms out of range")
    value = (now_ms << 80) | int.from_bytes(random_bytes(10), "big")
    chars = [CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return f"{prefix}_{''.join(chars)}"


def check_id(value: str, prefix: str) -> str:
    """Return ``value`` if it is an id of kind ``prefix``.

    Raises:
        WireError: BAD_CLAIM when it is not.
    """
    if not _ID.fullmatch(value) or not value.startswith(prefix + "_"):
        raise WireError(Reason.BAD_CLAIM, f"not a {prefix} id")
    return value
