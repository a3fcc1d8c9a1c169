"""Device request proofs: a short-lived JWS per HTTP request, signed by the device key.

Claims follow RFC 7523 (``iss``, ``aud``, ``iat``, ``exp``, ``jti``) and RFC 9449 DPoP
(``htm``, ``htu``), plus ``bh``, the SHA-256 of the request body, so a proof cannot be
replayed, re-targeted to another URL or method, or moved to another body. The header's
``kid`` is the device id. The district keeps each ``jti`` for the proof's lifetime
(≤ ``MAX_PROOF_LIFETIME_S``) and refuses a second use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_encode
from kiosk.errors import Reason, RejectedError
from kiosk.fields import Fields
from kiosk.ids import check_id
from kiosk.jose import read_unverified_header, sign_compact, verify_compact
from kiosk.limits import DEFAULT_LEEWAY_S, MAX_PROOF_BYTES, MAX_PROOF_LIFETIME_S, TYP_PROOF

_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]{1,255}")
_TARGET = re.compile(r"/[\x21-\x7e]{0,1023}")
_JTI = re.compile(r"[A-Za-z0-9_-]{22}")

AUTH_SCHEME = "CedokaProof"  # HTTP header: "Authorization: CedokaProof <compact JWS>"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the server saw: the proof must match each of these exactly."""

    origin: str  # e.g. "https://cedoka.kolakautarakab.go.id" or "http://127.0.0.1:8700"
    method: str  # "GET", "POST", …
    target: str  # path and query as sent, e.g. "/v1/feed?after=3&wait=55"
    body: bytes  # b"" for GET


@dataclass(frozen=True, slots=True)
class DeviceKeyState:
    """The server's view of a device: its key and whether it was revoked."""

    public_key: Ed25519PublicKey
    revoked: bool


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A proof that checked out; the caller stores ``jti`` until ``expires_at_s``."""

    device_id: str
    jti: str
    expires_at_s: int


def body_hash(body: bytes) -> str:
    """``bh``: base64url SHA-256 of the exact request body bytes."""
    return b64u_encode(hashlib.sha256(body).digest())


def make_proof(
    request: RequestFacts,
    *,
    device_id: str,
    key: Ed25519PrivateKey,
    now_s: int,
    jti: str,
    lifetime_s: int = 60,
) -> bytes:
    """Sign a proof for one request. ``jti``: 16 random bytes, base64url (22 chars).

    ``now_s`` should be the agent's estimate of the server's clock (local clock corrected
    by the last verified head), so a wrong village clock does not lock the device out.
    """
    claims = {
        "v": PROTOCOL_VERSION,
        "iss": device_id,
        "aud": request.origin,
        "htm": request.method,
        "htu": request.target,
        "bh": body_hash(request.body),
        "iat": now_s,
        "exp": now_s + lifetime_s,
        "jti": jti,
    }
    return sign_compact(claims, typ=TYP_PROOF, kid=device_id, key=key)


def verify_proof(
    token: bytes,
    request: RequestFacts,
    *,
    devices: Callable[[str], DeviceKeyState | None],
    is_replay: Callable[[str], bool],
    now_s: int,
    leeway_s: int = DEFAULT_LEEWAY_S,
    remembered_since_s: int | None = None,
) -> VerifiedProof:
    """Verify a request proof on the district side.

    Raises:
        RejectedError: any JWS failure; UNKNOWN_DEVICE; DEVICE_REVOKED; REQUEST_MISMATCH
            (audience, method or target differ); BODY_MISMATCH; EXPIRED;
            ISSUED_IN_FUTURE; LIFETIME_TOO_LONG; REPLAYED (``jti`` used before, or
            ``iat`` < ``remembered_since_s`` + leeway: a replay cache that holds every proof
            accepted from second ``remembered_since_s`` on, e.g. in memory after a restart,
            cannot vouch for it, as a proof is accepted up to ``leeway_s`` before its ``iat``).
    """
    header = read_unverified_header(token, max_bytes=MAX_PROOF_BYTES)
    device_id = str(header["kid"])
    state = devices(device_id) if device_id.startswith("dev_") else None
    if state is None:
        raise RejectedError(Reason.UNKNOWN_DEVICE, "no such device")
    verified = verify_compact(
        token,
        typ=TYP_PROOF,
        keys=lambda kid: state.public_key if kid == device_id else None,
        max_bytes=MAX_PROOF_BYTES,
    )
    if state.revoked:  # only after the signature: no revocation oracle for strangers
        raise RejectedError(Reason.DEVICE_REVOKED, f"{device_id} is revoked")
    f = Fields(verified.claims, "proof")
    f.version()
    if check_id(f.text("iss", max_len=30), "dev") != device_id:
        raise RejectedError(Reason.BAD_CLAIM, "proof.iss differs from kid")
    if f.text("aud", pattern=_ORIGIN, max_len=300) != request.origin:
        raise RejectedError(Reason.REQUEST_MISMATCH, "proof for another server")
    if f.choice("htm", _METHODS) != request.method:
        raise RejectedError(Reason.REQUEST_MISMATCH, "proof for another method")
    if f.text("htu", pattern=_TARGET, max_len=1024) != request.target:
        raise RejectedError(Reason.REQUEST_MISMATCH, "proof for another URL")
    if f.text("bh", max_len=43) != body_hash(request.body):
        raise RejectedError(Reason.BODY_MISMATCH, "body differs from the signed hash")
    issued_at_s, expires_at_s = f.integer("iat"), f.integer("exp")
    if expires_at_s - issued_at_s > MAX_PROOF_LIFETIME_S or expires_at_s <= issued_at_s:
        raise RejectedError(Reason.LIFETIME_TOO_LONG, "proof lifetime outside 1..120 s")
    if issued_at_s > now_s + leeway_s:
        raise RejectedError(Reason.ISSUED_IN_FUTURE, "proof from the future: check the clock")
    if expires_at_s + leeway_s <= now_s:
        raise RejectedError(Reason.EXPIRED, "proof expired: check the clock")
    jti = f.text("jti", pattern=_JTI, max_len=22)
    if remembered_since_s is not None and issued_at_s < remembered_since_s + leeway_s:
        raise RejectedError(Reason.REPLAYED, "proof older than the replay memory: sign anew")
    if is_replay(jti):
        raise RejectedError(Reason.REPLAYED, "proof used before")
    return VerifiedProof(device_id=device_id, jti=jti, expires_at_s=expires_at_s + leeway_s)
