"""The order of one sync step (``kiosk.sync_step.apply_feed``), pure and table-driven.

Each case builds one feed answer with the district simulator (production signing code) and
checks what ``apply_feed`` decides: the keyring, the head, each token's outcome, the
cancellations and the next feed position. No spool, no agent: the recorded jobs are plain
sets and dicts passed in as lookups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kiosk.errors import Reason
from kiosk.feed import FeedResponse
from kiosk.limits import TYP_MANIFEST
from kiosk.strictjson import canonical_dumps
from kiosk.sync_step import (
    Accepted,
    Deferred,
    FeedOutcome,
    Ignored,
    Known,
    Refused,
    apply_feed,
    seq_gaps,
)
from kiosk.wire import manifest_claims
from tests.sim.district import DAY_S, DistrictSim, KioskHarness, fixed_key, forge_compact


@dataclass
class Recorded:
    """What the agent's spool would answer: tombstones, manifest digests, document ids."""

    digests: dict[str, bytes] = field(default_factory=dict)
    docs: set[str] = field(default_factory=set)


def _apply(
    sim: DistrictSim, feed: FeedResponse, *, recorded: Recorded | None = None,
    max_document_bytes: int = 20 * 2**20, kiosk: KioskHarness | None = None,
) -> FeedOutcome:  # fmt: skip
    kiosk = kiosk or KioskHarness(sim)
    rec = recorded or Recorded()
    return apply_feed(
        kiosk.state, feed, local_now_s=sim.now_s, is_known=rec.digests.__contains__,
        manifest_digest=rec.digests.get, docs_taken=rec.docs.intersection,
        seal_keys=kiosk.seal_keys, max_document_bytes=max_document_bytes,
    )  # fmt: skip


def _feed(head: bytes, *jobs: bytes, keyring: bytes | None = None) -> FeedResponse:
    return FeedResponse(head=head, jobs=jobs, keyring=keyring)


def test_a_job_is_accepted_and_the_head_raises_the_time_floor() -> None:
    sim = DistrictSim()
    issued = sim.job()
    out = _apply(sim, _feed(sim.head(), issued.token))
    assert out.head_refused is None and out.head is not None and out.head.seq == 1
    assert out.trust.head == out.head and out.trust.time_floor_s == sim.now_s
    [accepted] = out.tokens
    assert isinstance(accepted, Accepted) and accepted.job.manifest.job_id == issued.manifest.job_id
    assert accepted.signer_jwk.startswith(b"{")
    assert out.after == 1 and out.cancelled == ()


def test_a_refused_head_decides_nothing_after_it() -> None:
    sim = DistrictSim()
    issued = sim.job()
    out = _apply(sim, _feed(sim.head(device_id="dev_01JD0000000000000000000999"), issued.token))
    assert out.head is None and out.head_refused is Reason.WRONG_AUDIENCE
    assert out.tokens == () and out.cancelled == () and out.trust.head is None


def test_the_keyring_comes_before_the_head() -> None:
    """A head signed by a key only the new keyring holds verifies in the same answer."""
    sim = DistrictSim()
    kiosk = KioskHarness(sim)  # enrolled with keyring 1
    sim.rotate("job-2026b")
    sim.drop("job-2026a")
    issued = sim.job()
    keyring = sim.keyring_token()
    out = _apply(sim, _feed(sim.head(), issued.token, keyring=keyring), kiosk=kiosk)
    assert out.keyring_token is not None and out.keyring_refused is None
    assert out.trust.keyring.version == sim.keyring_version > kiosk.state.keyring.version
    assert out.head_refused is None
    assert isinstance(out.tokens[0], Accepted)


def test_a_refused_keyring_is_reported_and_the_head_still_decided() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    sim.signers["job-evil"] = fixed_key("job-evil")  # same version, other keys
    out = _apply(sim, _feed(sim.head(), keyring=sim.keyring_token()), kiosk=kiosk)
    assert out.keyring_token is None and out.keyring_refused is Reason.KEYRING_ROLLBACK
    assert out.head_refused is None


Outcome = Accepted | Refused | Deferred | Ignored | Known
# (name, build the answer's job tokens, the expected outcome types, the expected reasons)
Case = tuple[str, Callable[[DistrictSim], list[bytes]], list[type[Outcome]], list[Reason | None]]


def _beyond_head(sim: DistrictSim) -> list[bytes]:
    first = sim.job()
    later = sim.job()
    sim.seq = 1  # the head names seq 1 only
    return [first.token, later.token]


def _cancelled(sim: DistrictSim) -> list[bytes]:
    issued = sim.job()
    sim.cancelled.add(issued.manifest.job_id)
    return [issued.token]


def _forged(sim: DistrictSim) -> list[bytes]:
    header = {"alg": "Ed25519", "kid": "job-2026a", "typ": TYP_MANIFEST}
    claims = canonical_dumps(manifest_claims(sim.job().manifest))
    return [forge_compact(header, claims, fixed_key("attacker"))]


def _twice(sim: DistrictSim) -> list[bytes]:
    issued = sim.job()
    return [issued.token, issued.token]


def _resigned(sim: DistrictSim) -> list[bytes]:
    issued = sim.job()
    return [issued.token, sim.resign(issued, issued_at_s=sim.now_s - 60)]


def _expired(sim: DistrictSim) -> list[bytes]:
    return [sim.job(issued_at_s=sim.now_s - 4 * DAY_S, lifetime_s=DAY_S).token]


CASES: list[Case] = [
    ("seq_beyond_head_is_deferred", _beyond_head, [Accepted, Deferred],
     [None, Reason.SEQ_BEYOND_HEAD]),
    ("cancelled_in_the_head_is_refused", _cancelled, [Refused], [Reason.CANCELLED]),
    ("forged_is_ignored", _forged, [Ignored], [Reason.BAD_SIGNATURE]),
    ("same_token_twice_is_a_redelivery", _twice, [Accepted, Known], [None, None]),
    ("second_signed_version_is_a_conflict", _resigned, [Accepted, Known], [None, None]),
    ("expired_is_refused_for_good", _expired, [Refused], [Reason.EXPIRED]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "kinds", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_each_token_has_its_own_outcome(
    name: str, build: Callable[[DistrictSim], list[bytes]], kinds: list[type[Outcome]],
    reasons: list[Reason | None],
) -> None:  # fmt: skip
    sim = DistrictSim()
    tokens = build(sim)
    out = _apply(sim, _feed(sim.head(), *tokens))
    assert [type(t) for t in out.tokens] == kinds, name
    assert [getattr(t, "reason", None) for t in out.tokens] == reasons, name
    if name == "second_signed_version_is_a_conflict":
        assert isinstance(out.tokens[1], Known) and out.tokens[1].conflict
    if name == "same_token_twice_is_a_redelivery":
        assert isinstance(out.tokens[1], Known) and not out.tokens[1].conflict
    if name == "cancelled_in_the_head_is_refused":
        assert out.cancelled == tuple(sorted(sim.cancelled))


def test_a_job_recorded_before_with_another_token_is_a_conflict() -> None:
    sim = DistrictSim()
    issued = sim.job()
    recorded = Recorded(digests={issued.manifest.job_id: hashlib.sha256(b"other").digest()})
    [known] = _apply(sim, _feed(sim.head(), issued.token), recorded=recorded).tokens
    assert isinstance(known, Known) and known.conflict and known.seq == 1


def test_a_document_over_the_kiosk_cap_is_refused() -> None:
    sim = DistrictSim()
    issued = sim.job()
    [refused] = _apply(sim, _feed(sim.head(), issued.token), max_document_bytes=10).tokens
    assert isinstance(refused, Refused) and refused.reason is Reason.TOO_LARGE
    assert refused.manifest_sha256 == hashlib.sha256(issued.token).digest()


def test_a_document_id_another_job_uses_is_refused() -> None:
    sim = DistrictSim()
    issued = sim.job()
    recorded = Recorded(docs={d.doc_id for d in issued.manifest.documents})
    [refused] = _apply(sim, _feed(sim.head(), issued.token), recorded=recorded).tokens
    assert isinstance(refused, Refused) and refused.reason is Reason.BAD_CLAIM
    assert refused.docs_of_another_job == 1 and refused.seq == 1


@pytest.mark.parametrize(("copies", "after"), [(49, 2), (50, 1)])
def test_a_full_answer_moves_the_position_to_its_highest_seq(copies: int, after: int) -> None:
    """A full answer (MAX_JOBS_PER_FEED tokens) may have more behind it: ``after`` is its
    highest seq, not the head's."""
    sim = DistrictSim()
    issued = sim.job()
    sim.job()  # seq 2, not in this answer
    out = _apply(sim, _feed(sim.head(), *[issued.token] * copies))
    assert out.after == after


def test_seq_gaps() -> None:
    assert seq_gaps(5, {1, 3}) == [2, 4, 5]
    assert seq_gaps(0, set()) == []
