"""Public keys on the wire: JWK (RFC 7517/8037) encoding, thumbprints and fingerprints.

Only two key types exist in protocol v1: Ed25519 (signing: district root, job signers,
device authentication) and X25519 (HPKE sealing to a device). A key is identified by its
RFC 7638 JWK thumbprint (SHA-256, base64url) wherever the protocol needs a stable id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.errors import Reason, WireError
from kiosk.ids import CROCKFORD
from kiosk.strictjson import canonical_dumps

OKP_KEY_BYTES = 32


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    """The 32 raw public-key bytes."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey | X25519PublicKey) -> dict[str, str]:
    """The public JWK with exactly the members ``kty``, ``crv``, ``x``."""
    crv = "Ed25519" if isinstance(key, Ed25519PublicKey) else "X25519"
    return {"kty": "OKP", "crv": crv, "x": b64u_encode(raw_public(key))}


def thumbprint(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), base64url: the key's stable id."""
    return b64u_encode(hashlib.sha256(canonical_dumps(public_jwk(key))).digest())


def fingerprint_code(key: Ed25519PublicKey, *, chars: int = 10) -> str:
    """A short, typeable fingerprint: the first ``chars`` Crockford base32 characters
    (5 bits each, most significant first; 10 characters = 50 bits) of the 32-byte SHA-256
    digest that the RFC 7638 thumbprint encodes."""
    digest = int.from_bytes(hashlib.sha256(canonical_dumps(public_jwk(key))).digest(), "big")
    return "".join(CROCKFORD[(digest >> (251 - 5 * i)) & 31] for i in range(chars))


def parse_ed25519_jwk(value: object) -> Ed25519PublicKey:
    """Parse a public Ed25519 JWK.

    Raises:
        WireError: anything but exactly ``{"kty":"OKP","crv":"Ed25519","x":<32 bytes>}``.
    """
    key = _parse_okp(value, "Ed25519")
    assert isinstance(key, Ed25519PublicKey)
    return key


def parse_x25519_jwk(value: object) -> X25519PublicKey:
    """Parse a public X25519 JWK.

    Raises:
        WireError: anything but exactly ``{"kty":"OKP","crv":"X25519","x":<32 bytes>}``.
    """
    key = _parse_okp(value, "X25519")
    assert isinstance(key, X25519PublicKey)
    return key


def _parse_okp(value: object, crv: str) -> Ed25519PublicKey | X25519PublicKey:
    if not isinstance(value, Mapping) or set(value) != {"kty", "crv", "x"}:
        raise WireError(Reason.BAD_CLAIM, "a public JWK has exactly kty, crv, x")
    if value["kty"] != "OKP" or value["crv"] != crv or not isinstance(value["x"], str):
        raise WireError(Reason.BAD_CLAIM, f"expected an OKP {crv} key")
    raw = b64u_decode(value["x"])
    if len(raw) != OKP_KEY_BYTES:
        raise WireError(Reason.BAD_CLAIM, "an OKP key has 32 bytes")
    try:
        if crv == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(raw)
        return X25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise WireError(Reason.BAD_CLAIM, f"invalid {crv} key") from None
