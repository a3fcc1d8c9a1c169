"""Enrolment: a one-time code binds a new kiosk's keys to the district and pins its root.

An enrolment code is 35 Crockford base32 characters, shown in groups of five::

    code_id (5) | secret (20 = 100 bits) | root fingerprint (10 = 50 bits)

``code_id`` lets the server find the code (not secret). Both sides derive a MAC key from
the secret with HKDF-SHA256; the request (the device's public keys) and the response (the
device id, the root key, the keyring) each carry an HMAC-SHA256 over their canonical JSON,
so a middlebox can swap neither. The kiosk then checks the root key against the
fingerprint in the code and pins it. The secret itself never crosses the wire.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_encode
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.fields import Fields
from kiosk.ids import CROCKFORD, DISTRICT_CODE, OFFICE_CODE, check_id
from kiosk.keys import fingerprint_code, parse_ed25519_jwk, parse_x25519_jwk, public_jwk
from kiosk.strictjson import canonical_dumps, loads_object

CODE_ID_CHARS, SECRET_CHARS, FINGERPRINT_CHARS = 5, 20, 10
CODE_CHARS = CODE_ID_CHARS + SECRET_CHARS + FINGERPRINT_CHARS
MAX_ENROLL_BYTES = 24 * 1024
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,80}")
_AGENT = re.compile(r"[A-Za-z0-9._/+-]{1,64}")
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class EnrollCode:
    """A parsed enrolment code."""

    code_id: str
    secret: str
    root_fingerprint: str

    def mac_key(self) -> bytes:
        """HKDF-SHA256(secret, info = "cedoka/1|enroll|" + code_id): the HMAC key."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"cedoka/1|enroll|{self.code_id}".encode("ascii"),
        ).derive(self.secret.encode("ascii"))

    def text(self) -> str:
        """The code as shown to district IT: seven groups of five."""
        raw = self.code_id + self.secret + self.root_fingerprint
        return "-".join(raw[i : i + 5] for i in range(0, CODE_CHARS, 5))


def new_enroll_code(root_key: Ed25519PublicKey, random_bytes: Callable[[int], bytes]) -> EnrollCode:
    """Make a fresh code for ``root_key`` (district side)."""
    value = int.from_bytes(random_bytes(16), "big")
    chars = "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in range(CODE_ID_CHARS + SECRET_CHARS))
    return EnrollCode(
        code_id=chars[:CODE_ID_CHARS],
        secret=chars[CODE_ID_CHARS:],
        root_fingerprint=fingerprint_code(root_key, chars=FINGERPRINT_CHARS),
    )


def parse_enroll_code(text: str) -> EnrollCode:
    """Parse a code as typed: case, dashes and spaces are ignored; O→0, I/L→1.

    Raises:
        WireError: ENROLL_CODE_MALFORMED.
    """
    if not text.isascii():
        raise WireError(Reason.ENROLL_CODE_MALFORMED, "only letters A-Z, digits and dashes")
    raw = "".join(text.split()).replace("-", "").upper().translate(_CROCKFORD_ALIASES)
    if len(raw) != CODE_CHARS or any(c not in CROCKFORD for c in raw):
        raise WireError(Reason.ENROLL_CODE_MALFORMED, f"expected {CODE_CHARS} base32 characters")
    return EnrollCode(
        code_id=raw[:CODE_ID_CHARS],
        secret=raw[CODE_ID_CHARS : CODE_ID_CHARS + SECRET_CHARS],
        root_fingerprint=raw[CODE_ID_CHARS + SECRET_CHARS :],
    )


def _mac(key: bytes, body: dict[str, object]) -> str:
    return b64u_encode(hmac.new(key, canonical_dumps(body), hashlib.sha256).digest())


def _check_mac(key: bytes, body: dict[str, object], where: str) -> None:
    claimed = body.pop("mac", None)
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _mac(key, body)):
        raise RejectedError(Reason.ENROLL_MAC_INVALID, f"{where}: MAC does not match the code")


# --- request (kiosk -> district) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnrollRequest:
    """A device's public keys, bound to an enrolment code."""

    code_id: str
    auth_key: Ed25519PublicKey
    seal_key: X25519PublicKey
    agent: str  # e.g. "cedoka/0.1.0"
    nonce: str  # 16 random bytes, base64url: echoed in the response


def enroll_request_body(request: EnrollRequest, code: EnrollCode) -> bytes:
    """The JSON body of ``POST /v1/enroll``, MAC'd with the code."""
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "code_id": request.code_id,
        "auth_jwk": public_jwk(request.auth_key),
        "seal_jwk": public_jwk(request.seal_key),
        "agent": request.agent,
        "nonce": request.nonce,
    }
    body["mac"] = _mac(code.mac_key(), body)
    return canonical_dumps(body)


def read_enroll_code_id(data: bytes) -> str:
    """The ``code_id`` of a request body, so the server can look up the code.

    Raises:
        WireError: not strict JSON, or no valid code_id.
    """
    f = Fields(loads_object(data, max_bytes=MAX_ENROLL_BYTES), "enroll")
    return f.text("code_id", pattern=re.compile(r"[0-9A-HJKMNP-TV-Z]{5}"), max_len=5)


def parse_enroll_request(data: bytes, code: EnrollCode) -> EnrollRequest:
    """Check and parse a request body against the stored code (district side).

    Raises:
        WireError: malformed; RejectedError: ENROLL_MAC_INVALID.
    """
    body = loads_object(data, max_bytes=MAX_ENROLL_BYTES)
    _check_mac(code.mac_key(), body, "request")
    f = Fields(body, "enroll")
    f.version()
    if f.text("code_id", max_len=5) != code.code_id:
        raise RejectedError(Reason.ENROLL_CODE_INVALID, "code_id differs")
    return EnrollRequest(
        code_id=code.code_id,
        auth_key=parse_ed25519_jwk(f.raw("auth_jwk")),
        seal_key=parse_x25519_jwk(f.raw("seal_jwk")),
        agent=f.text("agent", pattern=_AGENT, max_len=64),
        nonce=f.text("nonce", pattern=re.compile(r"[A-Za-z0-9_-]{22}"), max_len=22),
    )


# --- response (district -> kiosk) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnrollResponse:
    """What a kiosk learns at enrolment; it pins ``root_key`` after the fingerprint check."""

    device_id: str
    district_code: str
    district_name: str
    office_code: str
    office_name: str
    root_key: Ed25519PublicKey
    keyring_token: bytes  # verified next with kiosk.verify.verify_keyring
    server_time_s: int


def enroll_response_body(response: EnrollResponse, *, nonce: str, code: EnrollCode) -> bytes:
    """The JSON body of a successful enrolment, MAC'd with the code."""
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "device_id": response.device_id,
        "district": {"code": response.district_code, "name": response.district_name},
        "office": {"code": response.office_code, "name": response.office_name},
        "root_jwk": public_jwk(response.root_key),
        "keyring": response.keyring_token.decode("ascii"),
        "server_time": response.server_time_s,
        "nonce": nonce,
    }
    body["mac"] = _mac(code.mac_key(), body)
    return canonical_dumps(body)


def parse_enroll_response(data: bytes, *, code: EnrollCode, nonce: str) -> EnrollResponse:
    """Check a response against the code the kiosk was given (kiosk side).

    Raises:
        WireError: malformed; RejectedError: ENROLL_MAC_INVALID, REPLAYED (nonce differs),
            ROOT_MISMATCH (the root key does not match the code's fingerprint).
    """
    body = loads_object(data, max_bytes=MAX_ENROLL_BYTES)
    _check_mac(code.mac_key(), body, "response")
    f = Fields(body, "enroll")
    f.version()
    if f.text("nonce", max_len=22) != nonce:
        raise RejectedError(Reason.REPLAYED, "response to another request")
    root_key = parse_ed25519_jwk(f.raw("root_jwk"))
    if not hmac.compare_digest(
        fingerprint_code(root_key, chars=FINGERPRINT_CHARS), code.root_fingerprint
    ):
        raise RejectedError(Reason.ROOT_MISMATCH, "district root differs from the code")
    district, office = f.nested("district"), f.nested("office")
    district_code = district.text("code", pattern=DISTRICT_CODE, max_len=5)
    office_code = office.text("code", pattern=OFFICE_CODE, max_len=13)
    if not office_code.startswith(district_code + "."):
        raise WireError(Reason.BAD_CLAIM, "office outside the district")
    return EnrollResponse(
        device_id=check_id(f.text("device_id", max_len=30), "dev"),
        district_code=district_code,
        district_name=district.text("name", pattern=_NAME, max_len=80),
        office_code=office_code,
        office_name=office.text("name", pattern=_NAME, max_len=80),
        root_key=root_key,
        keyring_token=f.text("keyring", pattern=_JWS, max_len=16384).encode("ascii"),
        server_time_s=f.integer("server_time"),
    )
