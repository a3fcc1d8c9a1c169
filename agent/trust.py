"""The kiosk's trust state, kept in the spool's ``meta`` table.

Pinned at enrolment (district code, device id, district root key, first keyring) and then
advanced only by verified messages: a newer keyring, a newer head, a higher time floor.
The keyring is stored as its signed token and verified again on every load; the head as
the fields of the verified head (it may have expired since: a stored head is history, not
a fresh confirmation). The time floor is the signed ``iat`` of that head (0 before the
first; protocol 9.1, 9.2): nothing unsigned moves it. Also here: why the newest head was
refused (for the freeze, :mod:`kiosk.freshness`), the feed position and the claim lockout
state.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.spool import Spool
from kiosk.claim import LockoutState
from kiosk.clock import raise_floor, trusted_now
from kiosk.errors import OperatorError, Reason
from kiosk.freshness import Freshness
from kiosk.freshness import freshness as judge_freshness
from kiosk.keys import parse_ed25519_jwk, public_jwk
from kiosk.model import FeedHead, Keyring
from kiosk.strictjson import canonical_dumps, loads_object
from kiosk.verify import TrustState, verify_keyring


def pin(spool: Spool, trust: TrustState, keyring_token: bytes) -> None:
    """Record the trust pinned at enrolment."""
    spool.set_meta({
        "district_code": trust.district_code.encode(),
        "device_id": trust.device_id.encode(),
        "root_jwk": canonical_dumps(public_jwk(trust.root_key)),
        "keyring": keyring_token,
        "time_floor": str(trust.time_floor_s).encode(),
        "feed_after": b"0",
    })  # fmt: skip


def load(spool: Spool) -> TrustState:
    district, device, root_jwk, keyring_token = (
        spool.get_meta(k) for k in ("district_code", "device_id", "root_jwk", "keyring")
    )
    if district is None or device is None or root_jwk is None or keyring_token is None:
        raise OperatorError("this kiosk is not enrolled: run 'cedoka enroll' first")
    root, keyring = _verified_keyring(root_jwk, keyring_token, district)
    head_raw = spool.get_meta("head")
    head = None if head_raw is None else _head_from_json(head_raw)
    return TrustState(
        district_code=district.decode(), device_id=device.decode(), root_key=root,
        keyring=keyring, head=head, time_floor_s=_time_floor(head),
    )  # fmt: skip


def cancelled_in_head(spool: Spool) -> frozenset[str]:
    """The job ids the stored (verified) head lists as cancelled; none before the first."""
    head_raw = spool.get_meta("head")
    return frozenset() if head_raw is None else _head_from_json(head_raw).cancelled


def seal_rotate_s(spool: Spool) -> int | None:
    """The stored (verified) head's ``seal_rotate`` claim: when district IT last asked this
    kiosk to rotate its sealing key (protocol 6.3, 14.2); None when it never asked."""
    head_raw = spool.get_meta("head")
    return None if head_raw is None else _head_from_json(head_raw).seal_rotate_s


def time_floor_s(spool: Spool) -> int:
    """The trusted-time floor alone (:func:`_time_floor` of the stored head), without
    verifying the keyring: for the clock of every staff action and event stamp."""
    head_raw = spool.get_meta("head")
    return _time_floor(None if head_raw is None else _head_from_json(head_raw))


def _time_floor(head: FeedHead | None) -> int:
    """The trusted-time floor: the ``iat`` of the last verified head, 0 before the first
    (protocol 9.1). It is taken from the stored head, not from the stored ``time_floor``
    (a copy for quick reads, which ``store_head`` writes in the same transaction), because
    agents before issue 14 wrote the enrolment answer's unsigned ``server_time`` there: a
    district clock that was wrong at enrolment, or anyone holding the code, could set it
    years ahead, and every honest head was then refused as ``head_expired``. Such a kiosk
    accepts the next honest head, which rewrites the copy."""
    return raise_floor(0, head.issued_at_s) if head is not None else 0


@functools.lru_cache(maxsize=4)
def _verified_keyring(root_jwk: bytes, keyring_token: bytes,
                      district: bytes) -> tuple[Ed25519PublicKey, Keyring]:  # fmt: skip
    """The stored keyring, verified against the stored root: once per exact bytes (``load``
    runs several times per job; a changed byte is a new key here, so it is verified again)."""
    root = parse_ed25519_jwk(loads_object(root_jwk, max_bytes=1024))
    keyring = verify_keyring(
        keyring_token, district_code=district.decode(), root_key=root, current=None
    )
    return root, keyring


def store_keyring(spool: Spool, keyring_token: bytes, *,
                  root: tuple[Ed25519PublicKey, int] | None = None) -> None:  # fmt: skip
    """Store a verified keyring; with ``root`` (a rotated root the chain led to, and its
    version, protocol §9.10) also that root, in the same transaction: the stored keyring is
    verified against the stored root on every load, so the two only ever change together."""
    values = {"keyring": keyring_token}
    if root is not None:
        values["root_jwk"] = canonical_dumps(public_jwk(root[0]))
        values["root_version"] = str(root[1]).encode()
    spool.set_meta(values)


def root_version(spool: Spool) -> int | None:
    """The version of the pinned root once a rotation moved it (None: the root pinned at
    enrolment, whose version the kiosk was not told)."""
    raw = spool.get_meta("root_version")
    return None if raw is None else int(raw)


def store_head(spool: Spool, trust: TrustState, head: FeedHead) -> TrustState:
    """Store a verified head and raise the time floor to its ``iat``; the newest head is
    no longer refused."""
    floor = raise_floor(trust.time_floor_s, head.issued_at_s)
    spool.set_meta({
        "head": _head_to_json(head), "time_floor": str(floor).encode(), "head_refused": b"",
    })  # fmt: skip
    return replace(trust, head=head, time_floor_s=floor)


def store_head_refused(spool: Spool, reason: Reason) -> None:
    """Record why the newest head the district sent was refused (the stored head stays)."""
    spool.set_meta({"head_refused": reason.value.encode()})


def freshness(spool: Spool, trust: TrustState, *, local_now_s: int) -> Freshness:
    """The district's last confirmation and whether the feed is frozen (protocol 9.8), from
    the stored head and refusal: the same answer in every process (the service, the screen,
    ``cedoka status`` and ``cedoka doctor``)."""
    refused = (spool.get_meta("head_refused") or b"").decode("ascii", "replace")
    now = trusted_now(local_now_s=local_now_s, floor_s=trust.time_floor_s)
    return judge_freshness(trust.head, refused=refused or None, trusted_now_s=now)


def with_keyring(trust: TrustState, keyring: Keyring) -> TrustState:
    return replace(trust, keyring=keyring)


def feed_after(spool: Spool) -> int:
    return int(spool.get_meta("feed_after") or b"0")


def set_feed_after(spool: Spool, after: int) -> None:
    spool.set_meta({"feed_after": str(after).encode()})


def lockout_from_bytes(raw: bytes | None) -> LockoutState:
    """A stored lockout state (the claim lockout, or an operator's PIN lockout)."""
    if raw is None:
        return LockoutState()
    data = loads_object(raw, max_bytes=4096)
    return LockoutState(
        failures_s=tuple(int(t) for t in data["failures_s"]),  # type: ignore[attr-defined]
        locked_until_s=int(data["locked_until_s"]),  # type: ignore[call-overload]
        lockouts=int(data["lockouts"]),  # type: ignore[call-overload]
    )


def lockout_to_bytes(state: LockoutState) -> bytes:
    return canonical_dumps(asdict(state))


def load_lockout(spool: Spool) -> LockoutState:
    return lockout_from_bytes(spool.get_meta("lockout"))


def store_lockout(spool: Spool, state: LockoutState) -> None:
    spool.set_meta({"lockout": lockout_to_bytes(state)})


def change_lockout(spool: Spool, change: Callable[[LockoutState], LockoutState]) -> LockoutState:
    """Read the claim lockout and store ``change(state)`` in one transaction, so attempts
    made at the same moment (threads, or the service and ``cedoka release``) are counted one
    after the other; returns the stored state. What ``change`` raises (a lock) propagates
    and nothing is stored."""
    stored = spool.change_meta(
        "lockout", lambda raw: lockout_to_bytes(change(lockout_from_bytes(raw)))
    )
    return lockout_from_bytes(stored)


def _head_to_json(head: FeedHead) -> bytes:
    data: dict[str, object] = {
        "device_id": head.device_id, "issuer": head.issuer, "seq": head.seq,
        "iat": head.issued_at_s, "exp": head.expires_at_s, "cancelled": sorted(head.cancelled),
        "kr": head.keyring_version,
    }  # fmt: skip
    if head.seal_rotate_s is not None:
        data["seal_rotate"] = head.seal_rotate_s
    return canonical_dumps(data)


def _head_from_json(raw: bytes) -> FeedHead:
    data = json.loads(raw)
    return FeedHead(
        device_id=data["device_id"], issuer=data["issuer"], seq=data["seq"],
        issued_at_s=data["iat"], expires_at_s=data["exp"], cancelled=frozenset(data["cancelled"]),
        keyring_version=data["kr"], seal_rotate_s=data.get("seal_rotate"),
    )  # fmt: skip
