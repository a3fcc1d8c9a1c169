"""Strict JSON: the only way bytes from outside become Python values.

Rules (docs/protocol.md, "Encoding"): UTF-8 without BOM; a size cap checked before
parsing; duplicate object keys rejected; no floats, NaN or Infinity (protocol v1 has only
integers); integers within ±(2**53 - 1); no lone surrogates; nesting at most
``MAX_JSON_DEPTH``. Every failure is a :class:`~kiosk.errors.WireError`.

``canonical_dumps`` is the one serializer for what we sign or seal: sorted keys, no
whitespace, UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kiosk.errors import Reason, WireError
from kiosk.limits import MAX_JSON_DEPTH, MAX_SAFE_INT

_MAX_INT_DIGITS = len(str(MAX_SAFE_INT))


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise WireError(Reason.DUPLICATE_KEY, f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _reject_float(text: str) -> float:
    raise WireError(Reason.BAD_TYPE, "floats are not used in protocol v1")


def _reject_constant(text: str) -> float:
    raise WireError(Reason.BAD_TYPE, f"{text} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise WireError(Reason.BAD_TYPE, "integer too large")
    value = int(text)
    if abs(value) > MAX_SAFE_INT:
        raise WireError(Reason.BAD_TYPE, "integer too large")
    return value


def _check_tree(value: object, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise WireError(Reason.MALFORMED, "JSON nested too deeply")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_tree(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_tree(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(Reason.MALFORMED, "lone surrogate in JSON string") from None


def loads_strict(data: bytes, *, max_bytes: int) -> object:
    """Parse ``data`` as strict JSON.

    Raises:
        WireError: too large, not UTF-8, not JSON, a duplicate key, a float, an integer
            outside ±(2**53 - 1), or nested deeper than ``MAX_JSON_DEPTH``.
    """
    if len(data) > max_bytes:
        raise WireError(Reason.TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(Reason.MALFORMED, "not UTF-8") from None
    try:
        value: object = json.loads(
            text,
            object_pairs_hook=_pairs_without_duplicates,
            parse_float=_reject_float,
            parse_int=_bounded_int,
            parse_constant=_reject_constant,
        )
    except WireError:
        raise
    except (ValueError, RecursionError):
        raise WireError(Reason.MALFORMED, "not JSON") from None
    _check_tree(value, 0)
    return value


def loads_object(data: bytes, *, max_bytes: int) -> dict[str, object]:
    """Like :func:`loads_strict` but the top level must be a JSON object.

    Raises:
        WireError: as :func:`loads_strict`, or the value is not an object.
    """
    value = loads_strict(data, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise WireError(Reason.BAD_TYPE, "expected a JSON object")
    return value


def canonical_dumps(value: Mapping[str, object] | list[object]) -> bytes:
    """Serialize for signing or sealing: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")
