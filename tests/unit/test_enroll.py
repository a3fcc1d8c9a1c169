"""Enrolment: code format, MAC binding both ways, root pinning by fingerprint."""

from __future__ import annotations

import random

import pytest

from kiosk.enroll import (
    EnrollRequest,
    EnrollResponse,
    enroll_request_body,
    enroll_response_body,
    new_enroll_code,
    parse_enroll_code,
    parse_enroll_request,
    parse_enroll_response,
    read_enroll_code_id,
)
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.keys import public_jwk
from kiosk.strictjson import canonical_dumps, loads_object
from kiosk.verify import verify_keyring
from tests.sim.district import T0, DistrictSim, fixed_key, fixed_seal_key

NONCE = "BBBBBBBBBBBBBBBBBBBBBB"


def _rng(seed: int = 1) -> random.Random:
    return random.Random(seed)


@pytest.fixture
def sim() -> DistrictSim:
    return DistrictSim()


def _request(code_id: str) -> EnrollRequest:
    return EnrollRequest(
        code_id,
        fixed_key("device-auth").public_key(),
        fixed_seal_key("device-seal").public_key(),
        "cedoka/0.1.0",
        NONCE,
    )


def _response(sim: DistrictSim) -> EnrollResponse:
    return EnrollResponse(
        device_id=sim.device_id,
        district_code="74.08",
        district_name="Disdukcapil Kolaka Utara",
        office_code="74.08.01.2002",
        office_name="Desa Pitulua",
        root_key=sim.root.public_key(),
        keyring_token=sim.keyring_token(),
        server_time_s=T0,
    )


def test_full_exchange(sim: DistrictSim) -> None:
    code = new_enroll_code(sim.root.public_key(), _rng().randbytes)
    typed = code.text().lower().replace("0", "o")  # how a person might type it
    kiosk_code = parse_enroll_code(typed)
    assert kiosk_code == code
    body = enroll_request_body(_request(code.code_id), kiosk_code)
    assert read_enroll_code_id(body) == code.code_id
    request = parse_enroll_request(body, code)
    assert public_jwk(request.auth_key) == public_jwk(fixed_key("device-auth").public_key())
    answer = enroll_response_body(_response(sim), nonce=request.nonce, code=code)
    response = parse_enroll_response(answer, code=kiosk_code, nonce=NONCE)
    keyring = verify_keyring(
        response.keyring_token,
        district_code=response.district_code,
        root_key=response.root_key,
        current=None,
    )
    assert keyring.version == 1 and response.device_id == sim.device_id
    assert code.secret not in body.decode() and code.secret not in answer.decode()


@pytest.mark.parametrize(
    "text", ["", "ABCDE", "X" * 36, "ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-8901U"]
)
def test_malformed_codes(text: str) -> None:
    with pytest.raises(WireError) as caught:
        parse_enroll_code(text)
    assert caught.value.reason is Reason.ENROLL_CODE_MALFORMED


def test_middlebox_swaps_device_keys(sim: DistrictSim) -> None:
    code = new_enroll_code(sim.root.public_key(), _rng().randbytes)
    body = loads_object(enroll_request_body(_request(code.code_id), code), max_bytes=10_000)
    body["seal_jwk"] = public_jwk(fixed_seal_key("attacker").public_key())
    with pytest.raises(RejectedError) as caught:
        parse_enroll_request(canonical_dumps(body), code)
    assert caught.value.reason is Reason.ENROLL_MAC_INVALID


def test_wrong_code_secret(sim: DistrictSim) -> None:
    code = new_enroll_code(sim.root.public_key(), _rng(1).randbytes)
    guess = new_enroll_code(sim.root.public_key(), _rng(2).randbytes)
    body = enroll_request_body(_request(code.code_id), guess)
    with pytest.raises(RejectedError) as caught:
        parse_enroll_request(body, code)
    assert caught.value.reason is Reason.ENROLL_MAC_INVALID


def test_middlebox_swaps_the_root_key(sim: DistrictSim) -> None:
    code = new_enroll_code(sim.root.public_key(), _rng().randbytes)
    body = loads_object(
        enroll_response_body(_response(sim), nonce=NONCE, code=code), max_bytes=100_000
    )
    body["root_jwk"] = public_jwk(fixed_key("attacker-root").public_key())
    with pytest.raises(RejectedError) as caught:
        parse_enroll_response(canonical_dumps(body), code=code, nonce=NONCE)
    assert caught.value.reason is Reason.ENROLL_MAC_INVALID


def test_server_knowing_the_code_but_not_the_root(sim: DistrictSim) -> None:
    """Even with a valid MAC, a root that does not match the code's fingerprint is refused."""
    code = new_enroll_code(sim.root.public_key(), _rng().randbytes)
    impostor = DistrictSim(root=fixed_key("attacker-root"))
    answer = enroll_response_body(_response(impostor), nonce=NONCE, code=code)
    with pytest.raises(RejectedError) as caught:
        parse_enroll_response(answer, code=code, nonce=NONCE)
    assert caught.value.reason is Reason.ROOT_MISMATCH


def test_replayed_response_for_another_request(sim: DistrictSim) -> None:
    code = new_enroll_code(sim.root.public_key(), _rng().randbytes)
    answer = enroll_response_body(_response(sim), nonce="CCCCCCCCCCCCCCCCCCCCCC", code=code)
    with pytest.raises(RejectedError) as caught:
        parse_enroll_response(answer, code=code, nonce=NONCE)
    assert caught.value.reason is Reason.REPLAYED
