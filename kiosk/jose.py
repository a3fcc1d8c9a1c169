"""JWS compact serialization with one pinned algorithm (Ed25519) and strict headers.

Verification order (security notes): size cap -> structure and header rules -> key by
``kid`` from the caller's trusted keys only -> signature over the exact bytes received
(joserfc, algorithms pinned to ``["Ed25519"]``) -> ``typ`` -> strict JSON payload. The
protected header may hold exactly ``alg``, ``kid`` and ``typ``: ``crit`` is refused (we
understand no extensions) and so is every other member, notably ``jku``, ``x5u``, ``jwk``
and ``x5c`` (keys are never taken from a token), and ``b64`` (RFC 7797).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from kiosk.b64 import b64u_decode
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.ids import KID
from kiosk.limits import JWS_ALG
from kiosk.strictjson import canonical_dumps, loads_object

_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_MAX_HEADER_BYTES = 512
ED25519_SIGNATURE_BYTES = 64
_COMPACT_SEGMENTS = 3

KeyLookup = Callable[[str], Ed25519PublicKey | None]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A JWS whose signature checked out: the signer's ``kid`` and the parsed payload."""

    kid: str
    typ: str
    claims: dict[str, object]


def sign_compact(
    claims: Mapping[str, object], *, typ: str, kid: str, key: Ed25519PrivateKey
) -> bytes:
    """Sign ``claims`` (canonical JSON) as a compact JWS with alg Ed25519."""
    okp = OKPKey.import_key(key)
    token = jws.serialize_compact(
        {"alg": JWS_ALG, "kid": kid, "typ": typ},
        canonical_dumps(claims),
        okp,
        algorithms=[JWS_ALG],
    )
    return token.encode("ascii")


def read_unverified_header(token: bytes, *, max_bytes: int) -> dict[str, object]:
    """Split the token and return its header after the structural rules, unverified.

    Raises:
        WireError / RejectedError: size, structure, base64, JSON or header rules.
    """
    header, _, _ = _split(token, max_bytes=max_bytes)
    return header


def verify_compact(token: bytes, *, typ: str, keys: KeyLookup, max_bytes: int) -> VerifiedToken:
    """Verify a compact JWS against trusted keys and return its payload.

    ``keys(kid)`` returns the trusted Ed25519 key for that id, or None.

    Raises:
        WireError: TOO_LARGE, MALFORMED, DUPLICATE_KEY, BAD_TYPE (structure, JSON).
        RejectedError: BAD_ALG, MISSING_KID, UNKNOWN_KID, BAD_CRIT, FORBIDDEN_HEADER,
            BAD_SIGNATURE, BAD_TYP.
    """
    header, payload, _ = _split(token, max_bytes=max_bytes)
    kid = header["kid"]
    assert isinstance(kid, str)
    public_key = keys(kid)
    if public_key is None:
        raise RejectedError(Reason.UNKNOWN_KID, f"kid {kid!r} is not trusted")
    try:
        jws.deserialize_compact(token, OKPKey.import_key(public_key), algorithms=[JWS_ALG])
    except (JoseError, ValueError):
        raise RejectedError(Reason.BAD_SIGNATURE, f"signature by {kid!r} invalid") from None
    if header.get("typ") != typ:
        raise RejectedError(Reason.BAD_TYP, f"expected typ {typ!r}")
    claims = loads_object(payload, max_bytes=max_bytes)
    return VerifiedToken(kid=kid, typ=typ, claims=claims)


def _split(token: bytes, *, max_bytes: int) -> tuple[dict[str, object], bytes, bytes]:
    if len(token) > max_bytes:
        raise WireError(Reason.TOO_LARGE, f"token {len(token)} bytes > {max_bytes}")
    try:
        text = token.decode("ascii")
    except UnicodeDecodeError:
        raise WireError(Reason.MALFORMED, "token is not ASCII") from None
    parts = text.split(".")
    if len(parts) != _COMPACT_SEGMENTS:
        raise WireError(Reason.MALFORMED, f"compact JWS has 3 segments, not {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    if len(header_b64) > _MAX_HEADER_BYTES:
        raise WireError(Reason.TOO_LARGE, "header too large")
    header = loads_object(b64u_decode(header_b64), max_bytes=_MAX_HEADER_BYTES)
    payload = b64u_decode(payload_b64)
    signature = b64u_decode(signature_b64)
    _check_header(header)
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise RejectedError(Reason.BAD_SIGNATURE, "an Ed25519 signature has 64 bytes")
    return header, payload, signature


def _check_header(header: dict[str, object]) -> None:
    if "crit" in header:
        raise RejectedError(Reason.BAD_CRIT, "no JWS extension is understood")
    extra = set(header) - _HEADER_MEMBERS
    if extra:
        raise RejectedError(Reason.FORBIDDEN_HEADER, f"header members {sorted(extra)!r}")
    if header.get("alg") != JWS_ALG:
        raise RejectedError(Reason.BAD_ALG, f"alg must be {JWS_ALG!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID.fullmatch(kid):  # absent, null or malformed
        raise RejectedError(Reason.MISSING_KID, "kid (1-64 characters [A-Za-z0-9_-]) required")
    if not isinstance(header.get("typ"), str):
        raise RejectedError(Reason.BAD_TYP, "typ is required")


__all__ = [
    "KeyLookup",
    "VerifiedToken",
    "read_unverified_header",
    "sign_compact",
    "verify_compact",
]
