"""Every negative case of the security notes that the pure core can see, table-driven.

Each case builds a token with the district simulator (production signing code, or forged
byte by byte), runs the real recipe through the kiosk harness, and expects one Reason.
docs/protocol.md ("Threats and the tests that cover them") points here by case name.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.errors import Reason, RejectedError
from kiosk.jose import verify_compact
from kiosk.limits import MAX_MANIFEST_BYTES, TYP_HEAD, TYP_MANIFEST
from kiosk.model import ReleaseMode
from kiosk.strictjson import canonical_dumps
from kiosk.verify import reopen_job
from kiosk.wire import manifest_claims
from tests.sim.district import (
    DAY_S,
    DistrictSim,
    KioskHarness,
    fixed_key,
    fixed_seal_key,
    forge_compact,
    make_pdf,
)

Case = Callable[[DistrictSim, KioskHarness], bytes]


def _claims(sim: DistrictSim) -> dict[str, object]:
    return manifest_claims(sim.job().manifest)


def _header(**changes: object) -> dict[str, object]:
    header: dict[str, object] = {"alg": "Ed25519", "kid": "job-2026a", "typ": TYP_MANIFEST}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def _forge(sim: DistrictSim, claims: dict[str, object] | bytes, **header: object) -> bytes:
    payload = claims if isinstance(claims, bytes) else canonical_dumps(claims)
    return forge_compact(_header(**header), payload, sim.signers["job-2026a"])


def _with(sim: DistrictSim, **changes: object) -> bytes:
    claims = _claims(sim)
    claims.update(changes)
    return _forge(sim, claims)


def tampered_claim(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    head, payload, sig = sim.job().token.split(b".")
    claims = json.loads(b64u_decode(payload.decode()))
    claims["docs"][0]["copies"] = 5
    return b".".join([head, b64u_encode(canonical_dumps(claims)).encode(), sig])


def spoofed_kid(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return forge_compact(_header(), canonical_dumps(_claims(sim)), fixed_key("attacker"))


def hs256_with_public_key(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    import hashlib
    import hmac

    from kiosk.keys import raw_public

    secret = raw_public(sim.signers["job-2026a"].public_key())
    signing_input = (
        b64u_encode(json.dumps(_header(alg="HS256")).encode())
        + "."
        + b64u_encode(canonical_dumps(_claims(sim)))
    ).encode()
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return signing_input + b"." + b64u_encode(mac).encode()


def alg_none(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    signing_input = (
        b64u_encode(json.dumps(_header(alg="none")).encode())
        + "."
        + b64u_encode(canonical_dumps(_claims(sim)))
    ).encode()
    return signing_input + b"."


def head_as_manifest(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return _forge(sim, _claims(sim), typ=TYP_HEAD)


def valid_head_token(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return sim.head()


def oversized(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return _with(sim, pad="x" * MAX_MANIFEST_BYTES)


def another_device(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    other = "dev_01JD0000000000000000000999"
    return sim.job(device_id=other, seal_key=fixed_seal_key("other-device")).token


def job_a_claims_under_other_seal(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return sim.job(seal_key=fixed_seal_key("other-device")).token


def replayed(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    token = sim.job().token
    kiosk.take_head(sim.head())
    kiosk.take_job(token)
    return token


def cancelled(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    job = sim.job()
    sim.cancelled.add(job.manifest.job_id)
    return job.token


def seq_beyond_head(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    job = sim.job()
    kiosk.take_head(sim.head())
    return sim.resign(job, seq=sim.seq + 5)


def display_mismatch(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    a, b = sim.job(), sim.job()
    return sim.resign(b, display_sealed=a.manifest.display_sealed)


def claim_release_without_verifier(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    return sim.resign(sim.job(), release=ReleaseMode.CLAIM)


def expired_key(sim: DistrictSim, kiosk: KioskHarness) -> bytes:
    kiosk.local_now_s = sim.now_s + 400 * DAY_S
    sim.now_s += 400 * DAY_S
    return sim.job().token


CASES: dict[str, tuple[Case, Reason]] = {
    "tampered_claim": (tampered_claim, Reason.BAD_SIGNATURE),
    "wrong_key_spoofed_kid": (spoofed_kid, Reason.BAD_SIGNATURE),
    "unknown_kid": (lambda s, k: _forge(s, _claims(s), kid="job-1999z"), Reason.UNKNOWN_KID),
    "missing_kid": (lambda s, k: _forge(s, _claims(s), kid=None), Reason.MISSING_KID),
    "alg_none": (alg_none, Reason.BAD_ALG),
    "alg_hs256_public_key_as_secret": (hs256_with_public_key, Reason.BAD_ALG),
    "alg_other_ed25519_name": (lambda s, k: _forge(s, _claims(s), alg="EdDSA"), Reason.BAD_ALG),
    "unknown_crit": (lambda s, k: _forge(s, _claims(s), crit=["exp"]), Reason.BAD_CRIT),
    "jku_header": (
        lambda s, k: _forge(s, _claims(s), jku="https://x.invalid/k"),
        Reason.FORBIDDEN_HEADER,
    ),
    "x5u_header": (
        lambda s, k: _forge(s, _claims(s), x5u="https://x.invalid/c"),
        Reason.FORBIDDEN_HEADER,
    ),
    "embedded_jwk_header": (
        lambda s, k: _forge(s, _claims(s), jwk={"kty": "OKP"}),
        Reason.FORBIDDEN_HEADER,
    ),
    "valid_signature_other_typ": (head_as_manifest, Reason.BAD_TYP),
    "head_token_as_manifest": (valid_head_token, Reason.BAD_TYP),
    "malformed_base64": (lambda s, k: s.job().token.replace(b".", b".*", 1), Reason.MALFORMED),
    "two_segments": (lambda s, k: b".".join(s.job().token.split(b".")[:2]), Reason.MALFORMED),
    "four_segments": (lambda s, k: s.job().token + b".AAAA", Reason.MALFORMED),
    "non_json_header": (
        lambda s, k: forge_compact(b"{alg:Ed25519", b"{}", s.signers["job-2026a"]),
        Reason.MALFORMED,
    ),
    "duplicate_key_header": (
        lambda s, k: forge_compact(
            b'{"alg":"Ed25519","kid":"job-2026a","typ":"cedoka-job+jwt","kid":"x"}',
            b"{}",
            s.signers["job-2026a"],
        ),
        Reason.DUPLICATE_KEY,
    ),
    "json_array_payload": (lambda s, k: _forge(s, b"[1,2,3]"), Reason.BAD_TYPE),
    "duplicate_key_payload": (
        lambda s, k: _forge(s, canonical_dumps(_claims(s))[:-1] + b',"seq":1}'),
        Reason.DUPLICATE_KEY,
    ),
    "float_number": (
        lambda s, k: _forge(s, canonical_dumps(_claims(s)).replace(b'"seq":1', b'"seq":1.0')),
        Reason.BAD_TYPE,
    ),
    "bool_as_number": (lambda s, k: _with(s, seq=True), Reason.BAD_CLAIM),
    "huge_number": (
        lambda s, k: _forge(
            s, canonical_dumps(_claims(s)).replace(b'"seq":1', b'"seq":' + b"9" * 30)
        ),
        Reason.BAD_TYPE,
    ),
    "negative_number": (lambda s, k: _with(s, seq=-1), Reason.BAD_CLAIM),
    "nan_number": (
        lambda s, k: _forge(s, canonical_dumps(_claims(s)).replace(b'"seq":1', b'"seq":NaN')),
        Reason.BAD_TYPE,
    ),
    "oversized_manifest": (oversized, Reason.TOO_LARGE),
    "unsupported_version": (lambda s, k: _with(s, v=2), Reason.UNSUPPORTED_VERSION),
    "missing_version": (
        lambda s, k: _forge(s, {c: v for c, v in _claims(s).items() if c != "v"}),
        Reason.UNSUPPORTED_VERSION,
    ),
    "wrong_issuer": (lambda s, k: _with(s, iss="16.12"), Reason.WRONG_ISSUER),
    "job_for_another_device": (another_device, Reason.WRONG_AUDIENCE),
    "expired_job": (lambda s, k: s.job(issued_at_s=s.now_s - 4 * DAY_S), Reason.EXPIRED),
    "lifetime_too_long": (
        lambda s, k: _with(s, exp=s.now_s + 15 * DAY_S),
        Reason.LIFETIME_TOO_LONG,
    ),
    "issued_in_future": (
        lambda s, k: s.job(issued_at_s=s.now_s + 3600).token,
        Reason.ISSUED_IN_FUTURE,
    ),
    "replayed_job_id": (replayed, Reason.REPLAYED),
    "cancelled_job": (cancelled, Reason.CANCELLED),
    "seq_beyond_head": (seq_beyond_head, Reason.SEQ_BEYOND_HEAD),
    "card_type_ktp_el": (
        lambda s, k: _with(s, docs=[{**_claims(s)["docs"][0], "type": "KTP_EL"}]),
        Reason.NOT_PRINTABLE_AT_VILLAGE,
    ),  # type: ignore[index]
    "unknown_document_type": (
        lambda s, k: _with(s, docs=[{**_claims(s)["docs"][0], "type": "PASSPORT"}]),
        Reason.BAD_CLAIM,
    ),  # type: ignore[index]
    "scaling_fit": (
        lambda s, k: _with(
            s, ticket={"media": "iso_a4_210x297mm", "scaling": "fit", "sides": "one-sided"}
        ),
        Reason.BAD_CLAIM,
    ),
    "media_letter": (
        lambda s, k: _with(
            s, ticket={"media": "na_letter_8.5x11in", "scaling": "none", "sides": "one-sided"}
        ),
        Reason.BAD_CLAIM,
    ),
    "too_many_copies": (
        lambda s, k: _with(s, docs=[{**_claims(s)["docs"][0], "copies": 6}]),
        Reason.BAD_CLAIM,
    ),  # type: ignore[index]
    "sealed_to_unknown_device_key": (job_a_claims_under_other_seal, Reason.OPEN_FAILED),
    "display_of_another_job": (display_mismatch, Reason.OPEN_FAILED),
    "claim_release_without_verifier": (claim_release_without_verifier, Reason.BAD_CLAIM),
    "signing_key_past_validity": (expired_key, Reason.KEY_NOT_VALID),
}


def _token(value: bytes | object) -> bytes:
    return value if isinstance(value, bytes) else value.token  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("name", sorted(CASES))
def test_manifest_rejected(name: str) -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    build, reason = CASES[name]
    token = _token(build(sim, kiosk))
    with pytest.raises(RejectedError) as caught:
        if kiosk.state.head is None:
            kiosk.take_head(sim.head())
        kiosk.take_job(token)
    assert caught.value.reason is reason, caught.value


def test_a_valid_job_passes_the_same_harness() -> None:
    """The control case: without a fault, the harness accepts (so rejections are real)."""
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    job = sim.job(
        docs=(("KK", make_pdf(2, width_pt=841.89, height_pt=595.28)), ("AKTA_LAHIR", make_pdf()))
    )
    [verified] = kiosk.sync(sim.head(), [job.token])
    assert not isinstance(verified, RejectedError)
    for doc in job.manifest.documents:
        opened = kiosk.open(verified, doc.doc_id, job.blobs[doc.doc_id])
        assert opened.all_pages_a4
    assert [
        d.page_count
        for d in (
            kiosk.open(verified, d.doc_id, job.blobs[d.doc_id]) for d in job.manifest.documents
        )
    ] == [2, 1]


def test_oversized_manifest_is_refused_before_parsing_or_key_lookup() -> None:
    looked_up: list[str] = []

    def spy(kid: str) -> None:
        looked_up.append(kid)

    token = DistrictSim().job().token
    padded = token + b"A" * (MAX_MANIFEST_BYTES + 1 - len(token))
    with pytest.raises(RejectedError) as caught:
        verify_compact(padded, typ=TYP_MANIFEST, keys=spy, max_bytes=MAX_MANIFEST_BYTES)
    assert caught.value.reason is Reason.TOO_LARGE
    assert looked_up == []


def test_a_rejection_after_the_signature_names_the_job_and_a_forgery_does_not() -> None:
    """The agent tombstones and reports only what the district signed (``job_id``/``seq``
    on the error); a forged manifest must never block or name a real job."""
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    job = sim.job()
    kiosk.take_head(sim.head())
    kiosk.take_job(job.token)
    with pytest.raises(RejectedError) as replayed:
        kiosk.take_job(job.token)
    assert replayed.value.reason is Reason.REPLAYED
    assert (replayed.value.job_id, replayed.value.seq) == (job.manifest.job_id, job.manifest.seq)
    with pytest.raises(RejectedError) as forged:
        kiosk.take_job(tampered_claim(sim, kiosk))
    assert forged.value.reason is Reason.BAD_SIGNATURE
    assert (forged.value.job_id, forged.value.seq) == (None, None)


def test_reopen_job_from_the_spool_checks_the_signature_again() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    job = sim.job()
    kiosk.take_head(sim.head())
    verified = kiosk.take_job(job.token)
    signer = sim.signers[verified.signer_kid].public_key()
    again = reopen_job(
        job.token, signer_key=signer, device_id=sim.device_id, seal_keys=kiosk.seal_keys
    )
    assert again == verified
    with pytest.raises(RejectedError) as caught:
        reopen_job(
            tampered_claim(sim, kiosk), signer_key=signer, device_id=sim.device_id,
            seal_keys=kiosk.seal_keys,
        )  # fmt: skip
    assert caught.value.reason is Reason.BAD_SIGNATURE
