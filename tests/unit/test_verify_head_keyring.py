"""Feed heads, keyrings, rotation and the trusted clock: rollback, freeze, replay, binding."""

from __future__ import annotations

import pytest

from kiosk.errors import Reason, RejectedError
from kiosk.issue import Signer, sign_keyring
from kiosk.limits import TYP_HEAD
from kiosk.strictjson import canonical_dumps
from kiosk.verify import check_printable_now
from kiosk.wire import head_claims, parse_head
from tests.sim.district import DAY_S, DistrictSim, KioskHarness, fixed_key, forge_compact


def _reason(call: object) -> Reason:
    assert callable(call)
    with pytest.raises(RejectedError) as caught:
        call()
    return caught.value.reason


@pytest.fixture
def sim() -> DistrictSim:
    return DistrictSim()


@pytest.fixture
def kiosk(sim: DistrictSim) -> KioskHarness:
    return KioskHarness(sim)


def test_head_raises_the_time_floor(sim: DistrictSim, kiosk: KioskHarness) -> None:
    kiosk.local_now_s = sim.now_s - 2 * DAY_S  # a village PC whose clock is two days behind
    head = kiosk.take_head(sim.head())
    assert kiosk.state.time_floor_s == head.issued_at_s == sim.now_s


def test_feed_rollback_lower_seq(sim: DistrictSim, kiosk: KioskHarness) -> None:
    sim.job()
    sim.job()
    kiosk.take_head(sim.head())
    sim.now_s += 10
    assert _reason(lambda: kiosk.take_head(sim.head(seq=1))) is Reason.HEAD_ROLLBACK


def test_replayed_older_head(sim: DistrictSim, kiosk: KioskHarness) -> None:
    old = sim.head()
    sim.now_s += 30
    kiosk.local_now_s += 30
    kiosk.take_head(sim.head())
    assert _reason(lambda: kiosk.take_head(old)) is Reason.HEAD_REPLAYED


def test_frozen_feed_expired_head(sim: DistrictSim, kiosk: KioskHarness) -> None:
    stale = sim.head(lifetime_s=600)
    kiosk.local_now_s += 601
    assert _reason(lambda: kiosk.take_head(stale)) is Reason.HEAD_EXPIRED


def test_clock_set_back_two_days_with_a_stale_head(sim: DistrictSim, kiosk: KioskHarness) -> None:
    """An attacker replays a two-day-old head and sets the PC clock back two days."""
    stale = sim.head(issued_at_s=sim.now_s - 2 * DAY_S)
    kiosk.take_head(sim.head())  # the kiosk saw a current head once: floor = now
    kiosk.local_now_s = sim.now_s - 2 * DAY_S
    assert _reason(lambda: kiosk.take_head(stale)) in {Reason.HEAD_REPLAYED, Reason.HEAD_EXPIRED}


def test_clock_set_back_cannot_revive_an_expired_job(sim: DistrictSim, kiosk: KioskHarness) -> None:
    issued = sim.job(lifetime_s=DAY_S)
    job = kiosk.sync(sim.head(), [issued.token])[0]
    assert not isinstance(job, RejectedError)
    sim.now_s += 2 * DAY_S
    kiosk.local_now_s += 2 * DAY_S
    kiosk.take_head(sim.head())  # floor moves past the job's expiry
    kiosk.local_now_s -= 3 * DAY_S  # someone sets the clock back
    assert (
        _reason(lambda: check_printable_now(job, trust=kiosk.state, local_now_s=kiosk.local_now_s))
        is Reason.EXPIRED
    )


def test_head_for_another_device(sim: DistrictSim, kiosk: KioskHarness) -> None:
    token = sim.head(device_id="dev_01JD0000000000000000000999")
    assert _reason(lambda: kiosk.take_head(token)) is Reason.WRONG_AUDIENCE


def test_head_of_another_district(sim: DistrictSim, kiosk: KioskHarness) -> None:
    claims = head_claims(parse_head({**head_claims(parse_head(_claims_of(sim))), "iss": "16.12"}))
    token = forge_compact(
        {"alg": "Ed25519", "kid": "job-2026a", "typ": TYP_HEAD},
        canonical_dumps(claims),
        sim.signers["job-2026a"],
    )
    assert _reason(lambda: kiosk.take_head(token)) is Reason.WRONG_ISSUER


def _claims_of(sim: DistrictSim) -> dict[str, object]:
    from kiosk.b64 import b64u_decode
    from kiosk.strictjson import loads_object

    return loads_object(b64u_decode(sim.head().split(b".")[1].decode()), max_bytes=10_000)


def test_a_head_carries_the_optional_seal_rotate_claim(
    sim: DistrictSim, kiosk: KioskHarness
) -> None:
    assert "seal_rotate" not in _claims_of(sim)  # absent until district IT asks
    assert kiosk.take_head(sim.head()).seal_rotate_s is None
    sim.now_s += 10
    sim.seal_rotate_s = sim.now_s - 5
    assert _claims_of(sim)["seal_rotate"] == sim.seal_rotate_s
    assert kiosk.take_head(sim.head()).seal_rotate_s == sim.seal_rotate_s


@pytest.mark.parametrize("value", ["1732000000", -1, True, None, [1]])
def test_a_seal_rotate_that_is_not_an_integer_fails_the_head(
    sim: DistrictSim, kiosk: KioskHarness, value: object
) -> None:
    token = forge_compact(
        {"alg": "Ed25519", "kid": "job-2026a", "typ": TYP_HEAD},
        canonical_dumps({**_claims_of(sim), "seal_rotate": value}),
        sim.signers["job-2026a"],
    )
    assert _reason(lambda: kiosk.take_head(token)) is Reason.BAD_CLAIM


def test_head_lifetime_above_cap(sim: DistrictSim, kiosk: KioskHarness) -> None:
    assert (
        _reason(lambda: kiosk.take_head(sim.head(lifetime_s=2 * 3600))) is Reason.LIFETIME_TOO_LONG
    )


def test_head_signed_by_unknown_key(sim: DistrictSim, kiosk: KioskHarness) -> None:
    token = sim.head(signer=Signer("job-2026a", fixed_key("attacker")))
    assert _reason(lambda: kiosk.take_head(token)) is Reason.BAD_SIGNATURE


def test_head_naming_an_older_keyring(sim: DistrictSim, kiosk: KioskHarness) -> None:
    sim.rotate("job-2026b")
    kiosk.take_keyring(sim.keyring_token())
    assert _reason(lambda: kiosk.take_head(sim.head(keyring_version=1))) is Reason.KEYRING_ROLLBACK


def test_gap_detection_data_is_available(sim: DistrictSim, kiosk: KioskHarness) -> None:
    """Seqs 1..head.seq not received and not cancelled are gaps the agent reports."""
    jobs = [sim.job() for _ in range(3)]
    head = kiosk.take_head(sim.head())
    received = {
        kiosk.take_job(jobs[0].token).manifest.seq,
        kiosk.take_job(jobs[2].token).manifest.seq,
    }
    assert set(range(1, head.seq + 1)) - received == {2}


# --- keyring and rotation -----------------------------------------------------------------


def test_rotation_with_overlap(sim: DistrictSim, kiosk: KioskHarness) -> None:
    old_job = sim.job()  # signed by job-2026a
    sim.rotate("job-2026b")
    new_job = sim.job()  # signed by job-2026b
    # before the kiosk takes the new keyring, the new key is unknown
    kiosk.take_head(
        sim.head(keyring_version=1, signer=Signer("job-2026a", sim.signers["job-2026a"]))
    )
    assert _reason(lambda: kiosk.take_job(new_job.token)) is Reason.UNKNOWN_KID
    # after the update both keys verify (overlap)
    kiosk.take_keyring(sim.keyring_token())
    sim.now_s += 1
    kiosk.take_head(sim.head())
    assert kiosk.take_job(new_job.token).signer_kid == "job-2026b"
    assert kiosk.take_job(old_job.token).signer_kid == "job-2026a"
    # once the old key is dropped, it no longer verifies anything
    late_old = sim.job(signer=Signer("job-2026a", sim.signers["job-2026a"]))
    sim.drop("job-2026a")
    kiosk.take_keyring(sim.keyring_token())
    sim.now_s += 1
    kiosk.take_head(sim.head())
    assert _reason(lambda: kiosk.take_job(late_old.token)) is Reason.UNKNOWN_KID


def test_keyring_rollback(sim: DistrictSim, kiosk: KioskHarness) -> None:
    old = sim.keyring_token()
    sim.rotate("job-2026b")
    kiosk.take_keyring(sim.keyring_token())
    assert _reason(lambda: kiosk.take_keyring(old)) is Reason.KEYRING_ROLLBACK


def test_keyring_same_version_other_keys(sim: DistrictSim, kiosk: KioskHarness) -> None:
    sim.signers["job-evil"] = fixed_key("job-evil")
    assert _reason(lambda: kiosk.take_keyring(sim.keyring_token())) is Reason.KEYRING_ROLLBACK


def test_keyring_same_version_same_content_is_a_no_op(
    sim: DistrictSim, kiosk: KioskHarness
) -> None:
    before = kiosk.state.keyring
    kiosk.take_keyring(sim.keyring_token())
    assert kiosk.state.keyring == before


def test_keyring_signed_by_a_job_key_not_the_root(sim: DistrictSim, kiosk: KioskHarness) -> None:
    sim.rotate("job-2026b")
    token = sign_keyring(sim.keyring(), sim.signers["job-2026a"])
    assert _reason(lambda: kiosk.take_keyring(token)) is Reason.UNKNOWN_KID


def test_keyring_of_another_district(sim: DistrictSim, kiosk: KioskHarness) -> None:
    other = DistrictSim(district_code="16.12", root=sim.root)
    other.keyring_version = 2
    assert _reason(lambda: kiosk.take_keyring(other.keyring_token())) is Reason.WRONG_ISSUER


def test_cancelled_after_verification_is_not_printable(
    sim: DistrictSim, kiosk: KioskHarness
) -> None:
    issued = sim.job()
    [job] = kiosk.sync(sim.head(), [issued.token])
    assert not isinstance(job, RejectedError)
    sim.cancelled.add(issued.manifest.job_id)
    sim.now_s += 5
    kiosk.take_head(sim.head())
    assert (
        _reason(lambda: check_printable_now(job, trust=kiosk.state, local_now_s=kiosk.local_now_s))
        is Reason.CANCELLED
    )


def test_replay_after_restart_uses_durable_tombstones(
    sim: DistrictSim, kiosk: KioskHarness
) -> None:
    """A restarted agent loads its tombstones; a re-delivered job is refused."""
    issued = sim.job()
    kiosk.sync(sim.head(), [issued.token])
    restarted = KioskHarness(sim, tombstones=set(kiosk.tombstones), local_now_s=kiosk.local_now_s)
    restarted.take_head(sim.head())
    assert _reason(lambda: restarted.take_job(issued.token)) is Reason.REPLAYED
