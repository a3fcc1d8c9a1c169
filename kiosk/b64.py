"""Strict, canonical base64url without padding (RFC 7515 section 2, RFC 4648 section 5)."""

from __future__ import annotations

import base64
import binascii
import re

from kiosk.errors import Reason, WireError

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64u_encode(data: bytes) -> str:
    """Encode without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url.

    Raises:
        WireError: padding, characters outside the alphabet, an impossible length, or
            non-zero trailing bits (a second spelling of the same bytes).
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise WireError(Reason.MALFORMED, "bad base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise WireError(Reason.MALFORMED, "bad base64url") from None
    if b64u_encode(data) != text:
        raise WireError(Reason.MALFORMED, "non-canonical base64url")
    return data
