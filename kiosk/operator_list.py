"""The office operator list (``cedoka-operators+jwt``, protocol §6.6, ADR 0034): the village
staff that district IT manages for one office, signed by a job signer and sealed to one
device.

The token's claims are public (district, device, office, version, times, the sealing key's
thumbprint); the list itself (ids, display names, roles, states and, for a pending one-time
PIN, its scrypt hash) travels HPKE-sealed to the device in ``ops`` (``info`` =
``cedoka/1|operators|<device_id>|<ver>``): staff names and PIN hashes are readable only by
the district and that one kiosk. A kiosk takes a list whose ``ver`` is above the one it
holds; an older or equal one is a replay or a rollback (``replayed``).

Pure: no I/O; the district issues with :func:`issue_operator_list`, the kiosk verifies with
:func:`verify_operator_list`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from kiosk import PROTOCOL_VERSION
from kiosk.b64 import b64u_encode
from kiosk.clock import trusted_now
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.fields import Fields
from kiosk.ids import DISTRICT_CODE, OFFICE_CODE, check_id
from kiosk.issue import Signer
from kiosk.jose import sign_compact, verify_compact
from kiosk.keys import thumbprint
from kiosk.limits import MAX_HEAD_LIFETIME_S
from kiosk.seal import open_sealed, seal
from kiosk.strictjson import canonical_dumps, loads_object
from kiosk.verify import TrustState

TYP_OPERATORS: Final = "cedoka-operators+jwt"
MAX_OPERATORS: Final = 200  # entries in one office's list
MAX_OPERATORS_PLAINTEXT_BYTES: Final = 96 * 1024  # the sealed list's canonical JSON
MAX_OPERATORS_BYTES: Final = 160 * 1024  # the whole token
OPERATORS_LIFETIME_S: Final = 600  # the reference server's exp - iat (cap: 3 600)
ONE_TIME_PIN_VALID_S: Final = 72 * 3600
ROLES: Final = frozenset({"staff", "supervisor"})
STATES: Final = frozenset({"active", "disabled"})
OPERATOR_ID: Final = re.compile(r"[a-z0-9._-]{1,32}")
NAME: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,40}")  # as the kiosk's operator book
PIN_HASH: Final = re.compile(
    r"scrypt\$[0-9]{1,7}\$[0-9]{1,2}\$[0-9]{1,2}\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}"
)
_THUMBPRINT: Final = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class ListedOperator:
    """One operator of an office list. ``pin``/``pin_expires_s``: a pending one-time PIN's
    scrypt hash and when it stops working (both or neither)."""

    operator_id: str
    name: str
    role: str  # staff | supervisor
    state: str  # active | disabled
    pin: str | None = None
    pin_expires_s: int | None = None


@dataclass(frozen=True, slots=True)
class OperatorList:
    """A verified (kiosk) or to-be-signed (district) office operator list."""

    issuer: str  # district code
    device_id: str
    office_code: str
    version: int
    issued_at_s: int
    expires_at_s: int
    operators: tuple[ListedOperator, ...]


def operators_info(device_id: str, version: int) -> bytes:
    """HPKE info of a sealed list: ``cedoka/1|operators|<device_id>|<ver>`` (ASCII)."""
    return f"cedoka/1|operators|{device_id}|{version}".encode("ascii")


def _entry_json(op: ListedOperator) -> dict[str, object]:
    entry: dict[str, object] = {"id": op.operator_id, "name": op.name, "role": op.role,
                                "state": op.state}  # fmt: skip
    if op.pin is not None and op.pin_expires_s is not None:
        entry["pin"], entry["pin_exp"] = op.pin, op.pin_expires_s
    return entry


def ops_plaintext(operators: Sequence[ListedOperator]) -> bytes:
    """The sealed plaintext: canonical JSON ``{"ops": [...], "v": 1}``, entries by id."""
    ordered = sorted(operators, key=lambda op: op.operator_id)
    return canonical_dumps({"v": PROTOCOL_VERSION, "ops": [_entry_json(o) for o in ordered]})


def issue_operator_list(listed: OperatorList, *, seal_key: X25519PublicKey,
                        signer: Signer) -> bytes:  # fmt: skip
    """Seal the list to ``seal_key`` and sign the token (district side).

    Raises:
        ValueError: over :data:`MAX_OPERATORS` entries or the plaintext cap (the district
            must not issue it).
    """
    if len(listed.operators) > MAX_OPERATORS:
        raise ValueError(f"an office list holds at most {MAX_OPERATORS} operators")
    plaintext = ops_plaintext(listed.operators)
    if len(plaintext) > MAX_OPERATORS_PLAINTEXT_BYTES:
        raise ValueError("the office list is over its size cap")
    sealed = seal(plaintext, seal_key, info=operators_info(listed.device_id, listed.version))
    claims = {
        "v": PROTOCOL_VERSION, "iss": listed.issuer, "aud": listed.device_id,
        "office": listed.office_code, "ver": listed.version, "iat": listed.issued_at_s,
        "exp": listed.expires_at_s, "seal_kid": thumbprint(seal_key), "ops": b64u_encode(sealed),
    }  # fmt: skip
    return sign_compact(claims, typ=TYP_OPERATORS, kid=signer.kid, key=signer.key)


def parse_ops(plaintext: bytes) -> tuple[ListedOperator, ...]:
    """Parse the opened ``ops`` plaintext.

    Raises:
        WireError: TOO_LARGE, MALFORMED, UNSUPPORTED_VERSION, BAD_CLAIM (a member outside
            its rule, a duplicate id, ``pin`` without ``pin_exp`` or the reverse).
    """
    f = Fields(loads_object(plaintext, max_bytes=MAX_OPERATORS_PLAINTEXT_BYTES), "ops")
    f.version()
    out: list[ListedOperator] = []
    for item in f.array("ops", max_items=MAX_OPERATORS):
        e = Fields(item, "ops[]")
        if e.has("pin") != e.has("pin_exp"):
            raise WireError(Reason.BAD_CLAIM, "ops[]: pin and pin_exp go together")
        out.append(ListedOperator(
            operator_id=e.text("id", pattern=OPERATOR_ID, max_len=32),
            name=e.text("name", pattern=NAME, max_len=40),
            role=e.choice("role", ROLES), state=e.choice("state", STATES),
            pin=e.text("pin", pattern=PIN_HASH, max_len=100) if e.has("pin") else None,
            pin_expires_s=e.integer("pin_exp") if e.has("pin_exp") else None,
        ))  # fmt: skip
    if len({o.operator_id for o in out}) != len(out):
        raise WireError(Reason.BAD_CLAIM, "ops[]: an id twice")
    return tuple(out)


def verify_operator_list(
    token: bytes, *, trust: TrustState, office_code: str, current_version: int,
    seal_keys: Mapping[str, X25519PrivateKey], local_now_s: int,
) -> OperatorList:  # fmt: skip
    """Verify an office operator list, in the order of protocol §6.6: size, structure,
    header and signature (a job signer of the stored keyring, valid at ``iat``), claims,
    issuer, audience, office, lifetime, expiry, version, then open and parse ``ops``.

    Raises:
        WireError / RejectedError: the reason (``too_large``, ``malformed``, ``bad_typ``,
            ``unknown_kid``, ``bad_signature``, ``key_not_valid``, ``bad_claim``,
            ``wrong_issuer``, ``wrong_audience``, ``lifetime_too_long``, ``expired``,
            ``replayed``, ``open_failed``).
    """

    def lookup(kid: str) -> Ed25519PublicKey | None:
        entry = trust.keyring.key_for(kid)
        return None if entry is None else entry.public_key

    verified = verify_compact(token, typ=TYP_OPERATORS, keys=lookup, max_bytes=MAX_OPERATORS_BYTES)
    f = Fields(verified.claims, "operators")
    f.version()
    issued_at_s, expires_at_s = f.integer("iat"), f.integer("exp")
    if expires_at_s <= issued_at_s:
        raise RejectedError(Reason.BAD_CLAIM, "operators.exp: not after iat")
    listed = OperatorList(
        issuer=f.text("iss", pattern=DISTRICT_CODE, max_len=5),
        device_id=check_id(f.text("aud", max_len=30), "dev"),
        office_code=f.text("office", pattern=OFFICE_CODE, max_len=13),
        version=f.integer("ver", low=1), issued_at_s=issued_at_s, expires_at_s=expires_at_s,
        operators=(),
    )  # fmt: skip
    seal_kid = f.text("seal_kid", pattern=_THUMBPRINT, max_len=43)
    sealed = f.binary("ops", max_len=MAX_OPERATORS_BYTES)
    entry = trust.keyring.key_for(verified.kid)
    if entry is None or not entry.not_before_s <= issued_at_s < entry.not_after_s:
        raise RejectedError(Reason.KEY_NOT_VALID, f"key {verified.kid!r} not valid at iat")
    if listed.issuer != trust.district_code:
        raise RejectedError(Reason.WRONG_ISSUER, "operator list of another district")
    if listed.device_id != trust.device_id:
        raise RejectedError(Reason.WRONG_AUDIENCE, "operator list for another device")
    if listed.office_code != office_code:
        raise RejectedError(Reason.WRONG_AUDIENCE, "operator list for another office")
    if expires_at_s - issued_at_s > MAX_HEAD_LIFETIME_S:
        raise RejectedError(Reason.LIFETIME_TOO_LONG, "operator list lifetime above the cap")
    if expires_at_s <= trusted_now(local_now_s=local_now_s, floor_s=trust.time_floor_s):
        raise RejectedError(Reason.EXPIRED, "operator list expired")
    if listed.version <= current_version:
        raise RejectedError(Reason.REPLAYED, f"version {listed.version} <= {current_version}")
    key = seal_keys.get(seal_kid)
    if key is None:
        raise RejectedError(Reason.OPEN_FAILED, "sealed to a key this kiosk does not hold")
    plaintext = open_sealed(sealed, key, info=operators_info(listed.device_id, listed.version))
    try:
        operators = parse_ops(plaintext)
    except WireError as error:
        raise RejectedError(error.reason, str(error)) from None
    return OperatorList(listed.issuer, listed.device_id, listed.office_code, listed.version,
                        issued_at_s, expires_at_s, operators)  # fmt: skip
