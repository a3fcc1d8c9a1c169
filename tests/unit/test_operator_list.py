"""The office operator list (``cedoka-operators+jwt``, protocol §6.6), pure: each step of the
kiosk's verification refuses with its reason, in order; the list is sealed to the device."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.b64 import b64u_decode
from kiosk.errors import Reason, RejectedError
from kiosk.issue import Signer
from kiosk.jose import sign_compact
from kiosk.keys import thumbprint
from kiosk.operator_list import (
    MAX_OPERATORS,
    TYP_OPERATORS,
    ListedOperator,
    OperatorList,
    issue_operator_list,
    ops_plaintext,
    parse_ops,
    verify_operator_list,
)
from kiosk.pin import hash_pin
from kiosk.verify import TrustState
from tests.sim.district import DistrictSim

PIN_HASH = hash_pin("4826", random_bytes=lambda n: b"\x01" * n)
ANI = ListedOperator("ani", "Ani Wulandari", "staff", "active", PIN_HASH, 2_000_000_000)
BUDI = ListedOperator("budi", "Budi", "supervisor", "disabled")


def _setup() -> tuple[DistrictSim, TrustState, dict[str, X25519PrivateKey]]:
    sim = DistrictSim()
    trust = TrustState(sim.district_code, sim.device_id, sim.root.public_key(), sim.keyring(),
                       None, sim.now_s)  # fmt: skip
    return sim, trust, {thumbprint(sim.seal_key.public_key()): sim.seal_key}


def _token(sim: DistrictSim, **changes: object) -> bytes:
    listed = OperatorList(sim.district_code, sim.device_id, sim.office_code, 3, sim.now_s,
                          sim.now_s + 600, (ANI, BUDI))  # fmt: skip
    signer = changes.pop("signer", sim.signer)
    listed = dataclasses.replace(listed, **changes)  # type: ignore[arg-type]
    return issue_operator_list(listed, seal_key=sim.seal_key.public_key(),
                               signer=signer)  # type: ignore[arg-type]  # fmt: skip


def _verify(sim: DistrictSim, trust: TrustState, keys: dict[str, X25519PrivateKey], token: bytes,
            *, current: int = 2, office: str | None = None) -> OperatorList:  # fmt: skip
    return verify_operator_list(token, trust=trust, office_code=office or sim.office_code,
                                current_version=current, seal_keys=keys,
                                local_now_s=sim.now_s)  # fmt: skip


def test_a_list_verifies_and_opens_only_on_its_device() -> None:
    sim, trust, keys = _setup()
    token = _token(sim)
    listed = _verify(sim, trust, keys, token)
    assert listed.version == 3 and listed.operators == (ANI, BUDI)
    claims = b64u_decode(token.split(b".")[1].decode())
    assert b"Ani" not in claims and b"scrypt" not in claims  # sealed, not in the clear
    other = {thumbprint(sim.seal_key.public_key()): X25519PrivateKey.generate()}
    with pytest.raises(RejectedError) as refused:
        _verify(sim, trust, other, token)
    assert refused.value.reason is Reason.OPEN_FAILED


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("forged", Reason.BAD_SIGNATURE),
        ("unknown_kid", Reason.UNKNOWN_KID),
        ("other_district", Reason.WRONG_ISSUER),
        ("other_device", Reason.WRONG_AUDIENCE),
        ("other_office", Reason.WRONG_AUDIENCE),
        ("too_long", Reason.LIFETIME_TOO_LONG),
        ("expired", Reason.EXPIRED),
        ("same_version", Reason.REPLAYED),
        ("older_version", Reason.REPLAYED),
        ("head_typ", Reason.BAD_TYP),
    ],
)
def test_each_refusal_has_its_reason(case: str, reason: Reason) -> None:
    sim, trust, keys = _setup()
    current, office = 2, None
    if case == "forged":
        token = _token(sim, signer=Signer(sim.active_kid, Ed25519PrivateKey.generate()))
    elif case == "unknown_kid":
        token = _token(sim, signer=Signer("job-other", Ed25519PrivateKey.generate()))
    elif case == "other_district":
        token = _token(sim, issuer="74.09")
    elif case == "other_device":
        token = _token(sim, device_id="dev_01JD0000000000000000000002")
    elif case == "other_office":
        token, office = _token(sim), "74.08.01.2003"
    elif case == "too_long":
        token = _token(sim, expires_at_s=sim.now_s + 3601)
    elif case == "expired":
        token = _token(sim, issued_at_s=sim.now_s - 700, expires_at_s=sim.now_s - 100)
    elif case in ("same_version", "older_version"):
        token, current = _token(sim), 3 if case == "same_version" else 7
    else:
        token = sign_compact({"v": 1}, typ="cedoka-head+jwt", kid=sim.active_kid,
                             key=sim.signers[sim.active_kid])  # fmt: skip
    with pytest.raises(RejectedError) as refused:
        _verify(sim, trust, keys, token, current=current, office=office)
    assert refused.value.reason is reason


def test_the_plaintext_rules() -> None:
    assert parse_ops(ops_plaintext([BUDI, ANI])) == (ANI, BUDI)  # ordered by id
    for bad in (
        b'{"ops":[{"id":"a","name":"A","role":"staff","state":"active","pin":"x"}],"v":1}',
        b'{"ops":[{"id":"a","name":"A","role":"boss","state":"active"}],"v":1}',
        b'{"ops":[{"id":"a","name":"A","role":"staff","state":"active"},'
        b'{"id":"a","name":"B","role":"staff","state":"active"}],"v":1}',
        b'{"ops":[{"id":"A!","name":"A","role":"staff","state":"active"}],"v":1}',
    ):
        with pytest.raises(RejectedError) as refused:
            parse_ops(bad)
        assert refused.value.reason is Reason.BAD_CLAIM
    sim, _, _ = _setup()
    many = tuple(ListedOperator(f"op{i}", "N", "staff", "active") for i in range(MAX_OPERATORS + 1))
    with pytest.raises(ValueError, match="at most"):
        _token(sim, operators=many)
    assert TYP_OPERATORS == "cedoka-operators+jwt"
