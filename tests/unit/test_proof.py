"""Device request proofs: replay, re-targeting, swapped body, expiry, revocation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.errors import Reason, RejectedError
from kiosk.proof import DeviceKeyState, RequestFacts, make_proof, verify_proof
from tests.sim.district import T0, fixed_key

DEVICE = "dev_01JD0000000000000000000001"
KEY = fixed_key("device-auth")
FEED = RequestFacts("https://disdukcapil.invalid", "GET", "/v1/feed?after=3&wait=55", b"")
EVENTS = RequestFacts("https://disdukcapil.invalid", "POST", "/v1/events", b'{"v":1,"events":[]}')
JTI = "AAAAAAAAAAAAAAAAAAAAAA"


def _verify(
    token: bytes,
    request: RequestFacts = FEED,
    *,
    now_s: int = T0,
    revoked: bool = False,
    seen: set[str] | None = None,
) -> object:
    seen = set() if seen is None else seen

    def devices(device_id: str) -> DeviceKeyState | None:
        return DeviceKeyState(KEY.public_key(), revoked) if device_id == DEVICE else None

    proof = verify_proof(token, request, devices=devices, is_replay=seen.__contains__, now_s=now_s)
    seen.add(proof.jti)
    return proof


def _proof(request: RequestFacts = FEED, **kwargs: object) -> bytes:
    args: dict[str, object] = {"device_id": DEVICE, "key": KEY, "now_s": T0, "jti": JTI}
    args.update(kwargs)
    return make_proof(request, **args)  # type: ignore[arg-type]


def test_valid_proof() -> None:
    assert _verify(_proof()) is not None
    assert _verify(_proof(EVENTS), EVENTS) is not None


def test_replayed_proof() -> None:
    seen: set[str] = set()
    _verify(_proof(), seen=seen)
    with pytest.raises(RejectedError) as caught:
        _verify(_proof(), seen=seen)
    assert caught.value.reason is Reason.REPLAYED


def _check_since(token: bytes, since_s: int) -> None:
    verify_proof(
        token, FEED, devices=lambda _: DeviceKeyState(KEY.public_key(), False),
        is_replay=lambda _: False, now_s=T0 + 30, remembered_since_s=since_s,
    )  # fmt: skip


def test_proof_older_than_the_replay_memory() -> None:
    """After a server restart the in-memory cache holds every proof accepted from second
    ``since`` on. A proof is accepted up to 60 s before its ``iat`` (clock leeway), so one
    with ``iat`` < ``since`` + 60 may have been accepted before the restart: refused."""
    _check_since(_proof(now_s=T0), since_s=T0 - 60)  # accepted before T0 - 60: never
    with pytest.raises(RejectedError) as caught:
        _check_since(_proof(now_s=T0), since_s=T0 - 59)  # accepted at T0 - 60: maybe
    assert caught.value.reason is Reason.REPLAYED


CASES: dict[str, tuple[Callable[[], object], Reason]] = {
    "retargeted_url": (
        lambda: _verify(_proof(), RequestFacts(FEED.origin, "GET", "/v1/feed?after=0", b"")),
        Reason.REQUEST_MISMATCH,
    ),
    "retargeted_method": (
        lambda: _verify(_proof(), RequestFacts(FEED.origin, "POST", FEED.target, b"")),
        Reason.REQUEST_MISMATCH,
    ),
    "retargeted_server": (
        lambda: _verify(_proof(), RequestFacts("https://evil.invalid", "GET", FEED.target, b"")),
        Reason.REQUEST_MISMATCH,
    ),
    "swapped_post_body": (
        lambda: _verify(
            _proof(EVENTS),
            RequestFacts(EVENTS.origin, "POST", EVENTS.target, b'{"v":1,"events":["x"]}'),
        ),
        Reason.BODY_MISMATCH,
    ),
    "expired_proof": (lambda: _verify(_proof(), now_s=T0 + 600), Reason.EXPIRED),
    "proof_from_the_future": (lambda: _verify(_proof(), now_s=T0 - 600), Reason.ISSUED_IN_FUTURE),
    "proof_lifetime_too_long": (lambda: _verify(_proof(lifetime_s=3600)), Reason.LIFETIME_TOO_LONG),
    "revoked_device": (lambda: _verify(_proof(), revoked=True), Reason.DEVICE_REVOKED),
    "unknown_device": (
        lambda: _verify(_proof(device_id="dev_01JD0000000000000000000777")),
        Reason.UNKNOWN_DEVICE,
    ),
    "signed_by_another_key": (
        lambda: _verify(_proof(key=fixed_key("attacker"))),
        Reason.BAD_SIGNATURE,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_proof_rejected(name: str) -> None:
    call, reason = CASES[name]
    with pytest.raises(RejectedError) as caught:
        call()
    assert caught.value.reason is reason, caught.value
