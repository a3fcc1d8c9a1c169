"""Typed, strict readers for the members of a parsed JSON object.

``Fields(obj, where)`` wraps a dict from :mod:`kiosk.strictjson`; each reader returns a
value of exactly the asked type and range or raises ``WireError(BAD_CLAIM)`` naming the
member (``where.member``) — never the value, which may be personal data. Booleans are not
integers here. Unknown members are ignored: within protocol v1 a producer may add optional
members; anything a consumer must understand needs a new major version (docs/protocol.md).
"""

from __future__ import annotations

import re
import unicodedata

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_decode
from kiosk.errors import Reason, WireError
from kiosk.limits import MAX_SAFE_INT

_SEPARATORS = frozenset({"Zl", "Zp"})


class Fields:
    """Strict typed access to one JSON object's members."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise WireError(Reason.BAD_CLAIM, f"{where}: expected an object")
        self._obj: dict[str, object] = value
        self._where = where

    def _get(self, name: str) -> object:
        if name not in self._obj:
            raise WireError(Reason.BAD_CLAIM, f"{self._where}.{name}: missing")
        return self._obj[name]

    def _bad(self, name: str, problem: str) -> WireError:
        return WireError(Reason.BAD_CLAIM, f"{self._where}.{name}: {problem}")

    def has(self, name: str) -> bool:
        """Whether the member is present (even if null)."""
        return name in self._obj

    def integer(self, name: str, *, low: int = 0, high: int = MAX_SAFE_INT) -> int:
        """An integer (not a bool) within ``[low, high]``."""
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "expected an integer")
        if not low <= value <= high:
            raise self._bad(name, f"outside {low}..{high}")
        return value

    def text(self, name: str, *, pattern: re.Pattern[str] | None = None, max_len: int = 64) -> str:
        """A string of at most ``max_len`` characters, matching ``pattern`` if given."""
        value = self._get(name)
        if not isinstance(value, str):
            raise self._bad(name, "expected a string")
        if not value or len(value) > max_len:
            raise self._bad(name, f"length must be 1..{max_len}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self._bad(name, "bad format")
        return value

    def display_text(self, name: str, *, max_len: int) -> str:
        """Text shown on the kiosk screen: 1..``max_len`` characters, none of them a control,
        format (e.g. a right-to-left override or a zero-width space), line/paragraph
        separator, private-use or unassigned character, so what staff see is what was sent.
        """
        value = self.text(name, max_len=max_len)
        if any(
            unicodedata.category(c)[0] == "C" or unicodedata.category(c) in _SEPARATORS
            for c in value
        ):
            raise self._bad(name, "invisible or control characters")
        return value

    def choice(self, name: str, options: frozenset[str]) -> str:
        """A string that is one of ``options``."""
        value = self._get(name)
        if not isinstance(value, str) or value not in options:
            raise self._bad(name, f"must be one of {sorted(options)}")
        return value

    def constant(self, name: str, expected: object) -> None:
        """A member that must have exactly ``expected`` (e.g. the version)."""
        value = self._get(name)
        if type(value) is not type(expected) or value != expected:
            raise self._bad(name, f"must be {expected!r}")

    def version(self) -> None:
        """The protocol major version member ``v``, which must be ``PROTOCOL_VERSION``.

        Raises:
            WireError: UNSUPPORTED_VERSION when missing or different.
        """
        value = self._obj.get("v")
        if type(value) is not int or value != PROTOCOL_VERSION:
            raise WireError(
                Reason.UNSUPPORTED_VERSION, f"{self._where}.v must be {PROTOCOL_VERSION}"
            )

    def binary(self, name: str, *, exact: int | None = None, max_len: int = 64) -> bytes:
        """Base64url bytes, of exactly ``exact`` bytes or at most ``max_len``."""
        value = self._get(name)
        if not isinstance(value, str) or len(value) > (max_len * 4 + 2) // 3 + 1:
            raise self._bad(name, "expected base64url of bounded length")
        raw = b64u_decode(value)
        if (exact is not None and len(raw) != exact) or len(raw) > max_len:
            raise self._bad(name, "wrong length")
        return raw

    def array(self, name: str, *, min_items: int = 0, max_items: int) -> list[object]:
        """A JSON array with ``min_items..max_items`` elements."""
        value = self._get(name)
        if not isinstance(value, list):
            raise self._bad(name, "expected an array")
        if not min_items <= len(value) <= max_items:
            raise self._bad(name, f"must have {min_items}..{max_items} items")
        return value

    def nested(self, name: str) -> Fields:
        """A nested object."""
        return Fields(self._get(name), f"{self._where}.{name}")

    def raw(self, name: str) -> object:
        """The member as parsed, for a dedicated parser (e.g. a JWK)."""
        return self._get(name)
