"""The sync service against a district that misbehaves (issue 14, items 2, 3, 4 and 6).

The agent's real parts (``Syncer``, ``JobBook``, SQLite ``Spool``, ``BlobStore``,
``DistrictClient``, ``Reporter``) talk real HTTP to the district simulator
(``tests.agent.simserver``), which signs on demand with production code and records the
events and heartbeats it receives: what the district sees. Time is one injected clock the
test moves; nothing sleeps.

- an unsigned 404 or 410 for a blob never cancels a job: a 404 is retried with backoff and,
  if it persists, rejects the job as ``blob_not_found``; a 410 makes the agent ask for the
  next signed head at once and apply what it says (§8.2, §13, §15.1);
- every signed manifest that fails a check is reported with its reason; a second, different
  manifest for a known job id is logged and reported (§9.5);
- one bad token in a feed answer is refused on its own; the honest jobs go on (§6.2);
- a sequence gap is re-asked with backoff for as long as it lasts (§9.9).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import trust as trust_store
from agent.client import LinkDownError
from kiosk.b64 import b64u_encode
from kiosk.issue import DocumentSpec, JobSpec, Recipient, issue_job
from kiosk.lifecycle import JobState
from kiosk.limits import MAX_MANIFEST_BYTES, TYP_MANIFEST
from kiosk.model import ReleaseMode
from kiosk.strictjson import canonical_dumps
from kiosk.wire import manifest_claims
from tests.agent.simserver import Clock, SimKiosk, SimServer
from tests.sim.district import RESIDENT, DistrictSim, fixed_key, forge_compact, make_pdf

pytestmark = pytest.mark.loopback

HOUR_S = 3600


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[SimKiosk]:
    sim = DistrictSim()
    auth = fixed_key("device-auth")
    with SimServer(sim, device_key=auth.public_key()) as district:
        kiosk = SimKiosk(tmp_path / "kiosk", district, Clock(sim), auth=auth)
        try:
            yield kiosk
        finally:
            kiosk.close()


def _sign(sim: DistrictSim, claims: dict[str, object]) -> str:
    """A manifest signed with the district's real job key: the signature verifies."""
    header = {"alg": "Ed25519", "kid": sim.active_kid, "typ": TYP_MANIFEST}
    return forge_compact(header, canonical_dumps(claims), sim.signers[sim.active_kid]).decode()


# --- item 2: an unsigned 404 or 410 on a blob never cancels a job ---------------------------


def test_a_blob_404_is_retried_with_backoff_and_the_job_goes_on(kiosk: SimKiosk) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    job = district.issue(sim.job())
    job_id, [doc] = job.manifest.job_id, job.manifest.documents
    district.blob_errors[doc.doc_id] = [(404, "not_found")] * 2
    kiosk.syncer.round(1)
    assert kiosk.state(job_id) is JobState.RECEIVED  # not cancelled: nothing signed said so
    assert district.blob_asks == [doc.doc_id]
    kiosk.syncer.round(1)
    kiosk.syncer.round(1)
    assert district.blob_asks == [doc.doc_id]  # not again before its backoff: no hot loop
    kiosk.clock.advance(1)  # the first retry waits at most backoff_initial_s (1 s)
    kiosk.syncer.round(1)
    assert district.blob_asks == [doc.doc_id] * 2 and kiosk.state(job_id) is JobState.RECEIVED
    kiosk.clock.advance(2)  # then at most 2 s
    kiosk.syncer.round(1)
    assert kiosk.state(job_id) is JobState.HELD
    kiosk.report()
    assert district.events_of(job_id) == [("verify_ok", None), ("hold", None)]


def test_a_blob_that_stays_404_rejects_the_job_and_the_district_sees_why(
    kiosk: SimKiosk,
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    job = district.issue(sim.job())
    job_id, [doc] = job.manifest.job_id, job.manifest.documents
    district.blob_errors[doc.doc_id] = [(404, "not_found")] * 1000
    first = kiosk.clock()
    kiosk.syncer.round(1)
    assert kiosk.state(job_id) is JobState.RECEIVED
    asked_at = [kiosk.clock()]
    while kiosk.state(job_id) is JobState.RECEIVED and kiosk.clock() - first < 6 * HOUR_S:
        kiosk.clock.advance(60)
        before = len(district.blob_asks)
        kiosk.syncer.round(1)
        if len(district.blob_asks) > before:
            asked_at.append(kiosk.clock())
    assert kiosk.state(job_id) is JobState.PURGED
    rejected_after_s = kiosk.clock() - first
    gaps = [b - a for a, b in itertools.pairwise(asked_at)]
    print(f"404 answers: {len(asked_at)}, spaced {gaps} s; rejected after {rejected_after_s} s")
    assert HOUR_S <= rejected_after_s <= HOUR_S + 600  # patience: an hour, then at once
    assert gaps == sorted(gaps) and max(gaps) <= 300 + 60  # backoff, capped (backoff_max_s)
    kiosk.report()
    assert district.events_of(job_id) == [("verify_fail", "blob_not_found"), ("purge", None)]
    assert "blob_not_found" in kiosk.reasons()


def test_an_unsigned_410_never_cancels_the_agent_asks_the_head_at_once(
    kiosk: SimKiosk,
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    job = district.issue(sim.job())
    job_id, [doc] = job.manifest.job_id, job.manifest.documents
    district.blob_errors[doc.doc_id] = [(410, "job_cancelled")] * 1000
    kiosk.syncer.round(55)
    assert kiosk.state(job_id) is JobState.RECEIVED  # a 410 alone cancels nothing
    kiosk.syncer.round(55)
    assert district.feed_asks[-1]["wait"] == 1  # the next signed head, at once
    assert kiosk.state(job_id) is JobState.RECEIVED  # the head does not list it: it stays
    asks = len(district.blob_asks)
    for _ in range(3):
        kiosk.syncer.round(55)
    assert district.feed_asks[-1]["wait"] == 55  # back to long polls: no hot loop
    assert len(district.blob_asks) == asks
    kiosk.clock.advance(1)  # after its backoff the blob is asked for again: still 410
    kiosk.syncer.round(55)
    assert len(district.blob_asks) == asks + 1 and district.feed_asks[-1]["wait"] == 1
    sim.cancelled.add(job_id)  # now a signed head says so
    kiosk.syncer.round(55)
    assert kiosk.state(job_id) is JobState.PURGED
    kiosk.report()
    assert district.events_of(job_id) == [("cancel", "cancelled"), ("purge", None)]


def test_a_410_that_no_head_confirms_passes_and_the_job_prints(kiosk: SimKiosk) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    job = district.issue(sim.job(release=ReleaseMode.AUTO))
    job_id, [doc] = job.manifest.job_id, job.manifest.documents
    district.blob_errors[doc.doc_id] = [(410, "job_expired")] * 3
    kiosk.syncer.round(55)
    for _ in range(10):
        kiosk.clock.advance(8)
        kiosk.syncer.round(55)
    assert kiosk.state(job_id) is JobState.RELEASED and kiosk.ready
    assert district.blob_asks == [doc.doc_id] * 4
    kiosk.report()
    assert district.events_of(job_id) == [("verify_ok", None), ("auto_release", None)]


# --- item 3: every signed manifest that fails a check is reported ----------------------------


def _card(claims: dict[str, object]) -> None:
    claims["docs"][0]["type"] = "KTP_EL"  # type: ignore[index]


def _unknown_type(claims: dict[str, object]) -> None:
    claims["docs"][0]["type"] = "SURAT_SAKTI"  # type: ignore[index]


def _copies(claims: dict[str, object]) -> None:
    claims["docs"][0]["copies"] = 99  # type: ignore[index]


def _copies_text(claims: dict[str, object]) -> None:
    claims["docs"][0]["copies"] = "1"  # type: ignore[index]


def _fit(claims: dict[str, object]) -> None:
    claims["ticket"]["scaling"] = "fit"  # type: ignore[index]


def _letter(claims: dict[str, object]) -> None:
    claims["ticket"]["media"] = "letter"  # type: ignore[index]


def _release(claims: dict[str, object]) -> None:
    claims["release"] = "later"


def _version(claims: dict[str, object]) -> None:
    claims["v"] = 2


def _seq_text(claims: dict[str, object]) -> None:
    claims["seq"] = "7"


SIGNED_BUT_BAD = {
    "card_type_ktp_el": (_card, "not_printable_at_village"),
    "unknown_document_type": (_unknown_type, "bad_claim"),
    "too_many_copies": (_copies, "bad_claim"),
    "copies_as_text": (_copies_text, "bad_claim"),
    "scaling_fit_to_page": (_fit, "bad_claim"),
    "media_not_a4": (_letter, "bad_claim"),
    "unknown_release_value": (_release, "bad_claim"),
    "unsupported_version": (_version, "unsupported_version"),
    "seq_unreadable": (_seq_text, "bad_claim"),
}


@pytest.mark.parametrize("case", SIGNED_BUT_BAD)
def test_a_signed_manifest_whose_claims_fail_is_reported_with_its_reason(
    kiosk: SimKiosk, case: str
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    change, reason = SIGNED_BUT_BAD[case]
    claims = manifest_claims(sim.job().manifest)
    change(claims)
    bad_id, bad_seq = str(claims["jti"]), sim.seq
    district.add_raw(_sign(sim, claims), seq=bad_seq)
    honest = district.issue(sim.job())
    kiosk.syncer.round(1)
    assert kiosk.state(bad_id) is JobState.PURGED  # tombstoned: rejected, then purged
    assert kiosk.state(honest.manifest.job_id) is JobState.HELD  # the next job goes on
    kiosk.report()
    assert district.events_of(bad_id) == [("verify_fail", reason), ("purge", None)]


def test_a_second_different_manifest_for_a_known_job_is_logged_and_reported(
    kiosk: SimKiosk, caplog: pytest.LogCaptureFixture
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    job = district.issue(sim.job())
    job_id = job.manifest.job_id
    kiosk.syncer.round(1)
    assert kiosk.state(job_id) is JobState.HELD
    trust_store.set_feed_after(kiosk.spool, 0)  # the same token again: a plain re-delivery
    kiosk.syncer.round(1)
    assert "manifest_conflict" not in kiosk.reasons()
    claims = manifest_claims(job.manifest)
    claims["docs"][0]["copies"] = 2  # type: ignore[index]
    sim.seq += 1
    claims["seq"] = sim.seq
    district.add_raw(_sign(sim, claims), seq=sim.seq)  # re-signed: same job id, other content
    with caplog.at_level(logging.INFO, logger="cedoka.agent.sync"):
        kiosk.syncer.round(1)
    assert f"event=manifest_conflict job={job_id}" in caplog.text
    assert kiosk.state(job_id) is JobState.HELD  # the first signed manifest stays the job
    kiosk.report()
    assert district.events_of(job_id) == [("verify_ok", None), ("hold", None)]
    assert "manifest_conflict" in [reason for _, reason in district.heartbeats[-1].last_errors]


# --- item 4: one bad token does not hold back the honest jobs --------------------------------


def test_one_bad_token_is_refused_alone_and_the_honest_jobs_go_on(kiosk: SimKiosk) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    first = district.issue(sim.job())
    claims = canonical_dumps(manifest_claims(sim.job().manifest))
    sim.seq -= 1  # that one was never issued
    header = b64u_encode(b'{"alg":"none","typ":"cedoka-job+jwt"}')
    unsigned = f"{header}.{b64u_encode(claims)}."
    district.add_raw(unsigned, seq=sim.seq)  # alg=none: no signature segment at all
    district.add_raw("e" * (MAX_MANIFEST_BYTES + 1), seq=sim.seq)  # over the token cap
    district.add_raw(42, seq=sim.seq)  # not even a string
    second = district.issue(sim.job())
    kiosk.syncer.round(1)
    assert kiosk.state(first.manifest.job_id) is JobState.HELD
    assert kiosk.state(second.manifest.job_id) is JobState.HELD
    assert {"bad_alg", "too_large", "malformed"} <= set(kiosk.reasons())
    assert trust_store.feed_after(kiosk.spool) == sim.seq


def test_a_signed_manifest_reusing_a_document_id_does_not_jam_the_feed(
    kiosk: SimKiosk,
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    first = district.issue(sim.job())
    [taken] = first.manifest.documents
    sim.seq += 1
    twin = issue_job(
        JobSpec(
            job_id=sim.next_id("job"), seq=sim.seq, office_code=sim.office_code,
            release=ReleaseMode.STAFF, resident_name=RESIDENT,
            documents=(DocumentSpec(taken.doc_id, "KK", make_pdf(), title="Kartu Keluarga"),),
            issued_at_s=sim.now_s, lifetime_s=HOUR_S,
        ),
        district_code=sim.district_code,
        recipient=Recipient(sim.device_id, sim.seal_key.public_key()), signer=sim.signer,
    )  # fmt: skip
    district.add_raw(twin.token.decode(), seq=sim.seq)
    last = district.issue(sim.job())
    kiosk.syncer.round(1)
    kiosk.syncer.round(1)
    assert kiosk.state(first.manifest.job_id) is JobState.HELD
    assert kiosk.state(last.manifest.job_id) is JobState.HELD
    assert kiosk.state(twin.manifest.job_id) is JobState.PURGED
    kiosk.report()
    assert district.events_of(twin.manifest.job_id) == [
        ("verify_fail", "bad_claim"), ("purge", None),
    ]  # fmt: skip


# --- item 6: a sequence gap is re-asked with backoff -----------------------------------------


def test_a_gap_is_re_asked_with_backoff_until_the_job_arrives(kiosk: SimKiosk) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    a, b, c = (district.issue(sim.job()) for _ in range(3))
    lost = b.manifest.seq
    district.withheld[lost] = 4  # the first answer and three re-asks lose it
    start = kiosk.clock()
    re_asked_at: list[int] = []
    for _ in range(24 * 60):
        asks = len(district.feed_asks)
        kiosk.syncer.round(1)
        re_asked_at += [kiosk.clock() for q in district.feed_asks[asks:] if q["after"] == lost - 1]
        if kiosk.state(b.manifest.job_id) is not None:
            break
        kiosk.clock.advance(60)
    assert kiosk.state(b.manifest.job_id) is JobState.HELD
    assert kiosk.state(a.manifest.job_id) is kiosk.state(c.manifest.job_id) is JobState.HELD
    offsets = [t - start for t in re_asked_at]
    print(f"re-asked from the gap at +{offsets} s")
    assert len(re_asked_at) == 4
    spacing = [y - x for x, y in itertools.pairwise(offsets)]
    assert spacing == sorted(spacing) and spacing[0] < spacing[-1]  # backing off
    assert "seq_gap" in kiosk.reasons()


def test_after_a_restart_a_lasting_gap_is_re_asked_at_once(kiosk: SimKiosk) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    _, b, _ = (district.issue(sim.job()) for _ in range(3))
    lost = b.manifest.seq
    district.withheld[lost] = 2
    kiosk.syncer.round(1)
    kiosk.syncer.round(1)  # the first re-ask: still lost
    asks = len(district.feed_asks)
    kiosk.syncer.round(1)
    assert [q["after"] for q in district.feed_asks[asks:]] == [3]  # not again at once
    kiosk.restart()
    kiosk.syncer.round(1)
    kiosk.syncer.round(1)
    assert kiosk.state(b.manifest.job_id) is JobState.HELD


# --- one blob the district fails to serve holds back nothing else ---------------------------


def test_a_blob_that_keeps_failing_holds_back_neither_other_jobs_nor_the_head(
    kiosk: SimKiosk,
) -> None:
    district, sim = kiosk.district, kiosk.district.sim
    broken = district.issue(sim.job())
    [doc] = broken.manifest.documents
    district.blob_errors[doc.doc_id] = [(500, "internal")] * 1000
    honest = district.issue(sim.job())
    with pytest.raises(LinkDownError):  # the loop still hears of the failure and backs off
        kiosk.syncer.round(1)
    assert kiosk.state(honest.manifest.job_id) is JobState.HELD  # not stuck behind it
    assert kiosk.state(broken.manifest.job_id) is JobState.RECEIVED
    sim.cancelled.add(broken.manifest.job_id)  # the signed head still gets through
    kiosk.syncer.round(1)
    assert kiosk.state(broken.manifest.job_id) is JobState.PURGED
    kiosk.report()
    assert district.events_of(broken.manifest.job_id) == [("cancel", "cancelled"), ("purge", None)]
