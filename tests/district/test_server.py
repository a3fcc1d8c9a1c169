"""The district server over real HTTP on 127.0.0.1: enrolment, proofs, feed, blobs, reports."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from district.store import EnrollCodeRow
from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.claim import match_claim
from kiosk.enroll import EnrollRequest, enroll_request_body, parse_enroll_code
from kiosk.feed import parse_feed
from kiosk.keys import public_jwk, thumbprint
from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import ReleaseMode
from kiosk.report import JobReport, event_batch_body, sign_report
from kiosk.strictjson import canonical_dumps, loads_object
from kiosk.verify import verify_document, verify_keyring, verify_manifest
from tests.district.conftest import Kiosk, Server, enrolled, execute_raw
from tests.sim.district import FAKE_NIK, RESIDENT, make_pdf

OFFICE = "74.08.01.2002"
STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


def _until_a_poll_is_held(server: Server) -> None:
    deadline = time.monotonic() + 5
    while server.notifier.waiting == 0:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def _push(
    server: Server, release: ReleaseMode = ReleaseMode.CLAIM, docs: int = 1
) -> tuple[str, str | None]:
    result = server.admin.push(
        office_code=OFFICE, resident=RESIDENT,
        documents=[("KK", make_pdf(2)), ("AKTA_LAHIR", make_pdf()), ("BIODATA", make_pdf())][:docs],
        release=release, copies=1, lifetime_s=72 * 3600,
    )  # fmt: skip
    return result.job_id, result.claim_code


def _error(answer: object) -> str:
    return str(loads_object(answer.content, max_bytes=4096)["error"]["code"])  # type: ignore[attr-defined,index]


# --- enrolment ------------------------------------------------------------------------


def test_enrolment_good_and_the_code_is_single_use(server: Server) -> None:
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    first = Kiosk(server.base_url)
    assert first.enroll(code).status_code == 200
    second = Kiosk(server.base_url)
    answer = second.enroll(code)
    assert answer.status_code == 403 and _error(answer) == "enroll_code_invalid"


def test_identical_retry_gets_the_same_answer(server: Server) -> None:
    code = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    kiosk = Kiosk(server.base_url)
    body = enroll_request_body(
        EnrollRequest(code.code_id, kiosk.auth.public_key(), kiosk.seal.public_key(),
                      "cedoka/0.1.0", b64u_encode(secrets.token_bytes(16))), code,
    )  # fmt: skip
    one = kiosk.session.post(server.base_url + "/v1/enroll", data=body, timeout=10)
    two = kiosk.session.post(server.base_url + "/v1/enroll", data=body, timeout=10)
    assert one.status_code == two.status_code == 200 and one.content == two.content


def test_wrong_code(server: Server) -> None:
    real = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    wrong = replace(real, secret="0" * 20)
    answer = Kiosk(server.base_url).enroll(wrong.text())
    assert answer.status_code == 403 and _error(answer) == "enroll_mac_invalid"


def test_expired_code(server: Server) -> None:
    code = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    row = server.keys.store.enroll_code(code.code_id)
    assert row is not None
    execute_raw(server, "UPDATE enroll_codes SET expires_s = ? WHERE code_id = ?",
                (int(time.time()) - 1, code.code_id))  # fmt: skip
    answer = Kiosk(server.base_url).enroll(code.text())
    assert answer.status_code == 403 and _error(answer) == "enroll_code_invalid"
    assert isinstance(row, EnrollCodeRow)


def test_swapped_keys_are_refused(server: Server) -> None:
    code = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    kiosk, attacker = Kiosk(server.base_url), Kiosk(server.base_url)
    request = EnrollRequest(
        code.code_id, kiosk.auth.public_key(), kiosk.seal.public_key(), "cedoka/0.1.0", "A" * 22
    )
    body = loads_object(enroll_request_body(request, code), max_bytes=10_000)
    body["seal_jwk"] = public_jwk(attacker.seal.public_key())
    answer = kiosk.session.post(
        server.base_url + "/v1/enroll", data=canonical_dumps(body), timeout=10
    )
    assert answer.status_code == 403 and _error(answer) == "enroll_mac_invalid"
    # the code was not consumed by the forged attempt: the real kiosk can still enrol
    assert kiosk.enroll(code.text()).status_code == 200


def test_enrolment_is_rate_limited(server: Server) -> None:
    code = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    wrong = replace(code, secret="1" * 20).text()
    statuses = [Kiosk(server.base_url).enroll(wrong).status_code for _ in range(12)]
    assert statuses[:10] == [403] * 10 and statuses[-1] == 429


# --- proofs ---------------------------------------------------------------------------


def test_proof_checks_over_http(server: Server) -> None:
    kiosk = enrolled(server)
    target = "/v1/feed?after=0&kr=1&wait=0"
    header = kiosk.proof("GET", target)
    ok = kiosk.session.get(server.base_url + target, headers={"Authorization": header}, timeout=10)
    assert ok.status_code == 200
    replay = kiosk.session.get(
        server.base_url + target, headers={"Authorization": header}, timeout=10
    )
    assert replay.status_code == 409 and _error(replay) == "replayed"
    other_url = kiosk.session.get(
        server.base_url + "/v1/feed?after=5&kr=1&wait=0",
        headers={"Authorization": kiosk.proof("GET", target)}, timeout=10,
    )  # fmt: skip
    assert other_url.status_code == 401 and _error(other_url) == "proof_invalid"
    beat = b'{"v":1}'
    swapped = kiosk.session.post(
        server.base_url + "/v1/heartbeat", data=b'{"v":2}',
        headers={"Authorization": kiosk.proof("POST", "/v1/heartbeat", beat)}, timeout=10,
    )  # fmt: skip
    assert swapped.status_code == 401 and _error(swapped) == "proof_invalid"
    expired = kiosk.session.get(
        server.base_url + target,
        headers={"Authorization": kiosk.proof("GET", target, now_s=int(time.time()) - 600)},
        timeout=10,
    )
    assert expired.status_code == 401 and _error(expired) == "expired"
    missing = kiosk.session.get(server.base_url + target, timeout=10)
    assert missing.status_code == 401


def test_revoked_device(server: Server) -> None:
    kiosk = enrolled(server)
    server.admin.revoke(kiosk.device_id)
    answer = kiosk.feed()
    assert answer.status_code == 403 and _error(answer) == "device_revoked"


# --- feed, long-poll, blobs -----------------------------------------------------------


def test_push_reaches_the_kiosk_verified_and_opens(server: Server) -> None:
    kiosk = enrolled(server)
    job_id, claim_code = _push(server, docs=3)
    answer = kiosk.feed()
    assert answer.status_code == 200
    kiosk.take_head(answer)
    [token] = parse_feed(answer.content).jobs
    assert kiosk.trust is not None
    job = verify_manifest(
        token, trust=kiosk.trust, local_now_s=int(time.time()), is_known=lambda _: False,
        seal_keys=kiosk.seal_keys,
    )  # fmt: skip
    assert job.manifest.job_id == job_id and len(job.manifest.documents) == 3
    assert claim_code is not None and job.display.claim is not None
    assert match_claim(
        claim_code, device_id=kiosk.device_id, candidates={job_id: job.display.claim}
    ) == [job_id]
    for doc in job.manifest.documents:
        blob = kiosk.call("GET", f"/v1/blobs/{job_id}/{doc.doc_id}")
        assert blob.status_code == 200 and int(blob.headers["Content-Length"]) == doc.sealed_size
        opened = verify_document(job, doc.doc_id, blob.content, seal_keys=kiosk.seal_keys)
        assert opened.all_pages_a4


def test_the_server_keeps_no_plaintext(server: Server) -> None:
    enrolled(server)
    _push(server, docs=2)
    for path in server.home.rglob("*"):
        if path.is_file() and "keys" not in path.parts:
            data = path.read_bytes()
            assert (
                b"%PDF-" not in data
                and RESIDENT.encode() not in data
                and FAKE_NIK.encode() not in data
            ), path


def test_long_poll_wakes_within_100_ms_of_a_push(server: Server) -> None:
    kiosk = enrolled(server)
    kiosk.feed()  # the first answer (nothing new)
    woke: list[float] = []

    def poll() -> None:
        answer = kiosk.feed(wait=30)
        assert answer.status_code == 200 and parse_feed(answer.content).jobs
        woke.append(time.perf_counter())

    thread = threading.Thread(target=poll)
    thread.start()
    _until_a_poll_is_held(server)
    pushed = time.perf_counter()
    _push(server, ReleaseMode.AUTO)
    thread.join(timeout=10)
    assert woke, "the long-poll did not return"
    latency_ms = (woke[0] - pushed) * 1000
    print(f"wake-up latency after push: {latency_ms:.1f} ms")
    assert latency_ms < 2000  # functional bound; the 100 ms target is measured in bench/


def test_a_seal_key_rotation_request_wakes_the_long_poll_and_rides_in_the_head(
    server: Server,
) -> None:
    kiosk = enrolled(server)
    kiosk.take_head(kiosk.feed())
    assert kiosk.trust is not None and kiosk.trust.head is not None
    assert kiosk.trust.head.seal_rotate_s is None
    answers: list[object] = []

    def poll() -> None:
        answers.append(kiosk.feed(wait=30))

    thread = threading.Thread(target=poll)
    thread.start()
    _until_a_poll_is_held(server)
    started = time.monotonic()
    asked = server.admin.rotate_seal(kiosk.device_id)
    thread.join(timeout=10)
    assert answers and time.monotonic() - started < 5, "the long-poll did not wake"
    kiosk.take_head(answers[0])  # type: ignore[arg-type]
    assert kiosk.trust.head.seal_rotate_s == asked  # type: ignore[union-attr]
    # The kiosk answers with a new key (protocol 14.2); new jobs are sealed to it.
    new = X25519PrivateKey.generate()
    body = canonical_dumps({"v": 1, "seal_jwk": public_jwk(new.public_key())})
    for _ in range(2):  # idempotent
        answer = kiosk.call("POST", "/v1/device/seal-key", body)
        assert answer.status_code == 200, answer.text
        assert loads_object(answer.content, max_bytes=1024) == {
            "v": 1,
            "seal_kid": thumbprint(new.public_key()),
        }
    job_id, _ = _push(server, ReleaseMode.STAFF)
    token = server.keys.store.job(job_id).token  # type: ignore[union-attr]
    payload = loads_object(b64u_decode(token.split(b".")[1].decode()), max_bytes=16384)
    assert payload["seal_kid"] == thumbprint(new.public_key())
    assert kiosk.trust.head.seal_rotate_s == asked  # type: ignore[union-attr]


def test_range_requests(server: Server) -> None:
    kiosk = enrolled(server)
    job_id, _ = _push(server, ReleaseMode.STAFF)
    row = server.keys.store.blobs(job_id)[0]
    full = kiosk.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}").content
    part = kiosk.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}", Range="bytes=100-")
    assert part.status_code == 206 and part.content == full[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{row.size - 1}/{row.size}"
    middle = kiosk.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}", Range="bytes=10-19")
    assert middle.status_code == 206 and middle.content == full[10:20]
    stale = kiosk.call(
        "GET", f"/v1/blobs/{job_id}/{row.doc_id}", Range="bytes=10-19", **{"If-Range": '"other"'}
    )
    assert stale.status_code == 200 and stale.content == full
    beyond = kiosk.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}", Range=f"bytes={row.size}-")
    assert beyond.status_code == 416
    other = enrolled(server)
    assert other.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}").status_code == 404


def test_cancellation_reaches_the_kiosk_through_the_head(server: Server) -> None:
    kiosk = enrolled(server)
    job_id, _ = _push(server, ReleaseMode.STAFF)
    server.admin.cancel(job_id, reason="other")
    answer = kiosk.feed()
    kiosk.take_head(answer)
    assert kiosk.trust is not None and kiosk.trust.head is not None
    assert job_id in kiosk.trust.head.cancelled
    row = server.keys.store.blobs(job_id)[0]
    gone = kiosk.call("GET", f"/v1/blobs/{job_id}/{row.doc_id}")
    assert gone.status_code == 410 and _error(gone) == "job_cancelled"


def test_rotation_with_overlap_over_the_feed(server: Server) -> None:
    kiosk = enrolled(server)
    old_job, _ = _push(server, ReleaseMode.STAFF)
    new_kid = server.admin.rotate_key()
    new_job, _ = _push(server, ReleaseMode.STAFF)
    answer = kiosk.feed(kr=1)
    feed = parse_feed(answer.content)
    assert feed.keyring is not None
    assert kiosk.trust is not None
    keyring = verify_keyring(
        feed.keyring,
        district_code="74.08",
        root_key=kiosk.trust.root_key,
        current=kiosk.trust.keyring,
    )
    assert keyring.version == 2 and {k.kid for k in keyring.keys} >= {new_kid}
    kiosk.trust = replace(kiosk.trust, keyring=keyring)
    kiosk.take_head(answer)
    verified = [
        verify_manifest(
            t,
            trust=kiosk.trust,
            local_now_s=int(time.time()),
            is_known=lambda _: False,
            seal_keys=kiosk.seal_keys,
        )
        for t in feed.jobs
    ]
    assert [v.manifest.job_id for v in verified] == [old_job, new_job]
    assert verified[1].signer_kid == new_kid and verified[0].signer_kid != new_kid


# --- reports --------------------------------------------------------------------------


def test_events_are_idempotent_and_jobs_show_the_state(server: Server) -> None:
    kiosk = enrolled(server)
    job_id, _ = _push(server, ReleaseMode.AUTO)
    report = JobReport(
        event_id="evt_01JD0000000000000000000001", device_id=kiosk.device_id, district_code="74.08",
        job_id=job_id, event=JobEvent.PRINT_DONE, state=JobState.PRINTED, at_s=int(time.time()),
    )  # fmt: skip
    body = event_batch_body([sign_report(report, kiosk.auth)])
    first = json.loads(kiosk.call("POST", "/v1/events", body).content)
    again = json.loads(kiosk.call("POST", "/v1/events", body).content)
    assert (
        first["results"][0]["status"] == "stored" and again["results"][0]["status"] == "duplicate"
    )
    job = server.keys.store.job(job_id)
    assert job is not None and job.state == "printed"
    foreign = replace(
        report, event_id="evt_01JD0000000000000000000002", job_id="job_01JD0000000000000000000009"
    )
    result = json.loads(
        kiosk.call(
            "POST", "/v1/events", event_batch_body([sign_report(foreign, kiosk.auth)])
        ).content
    )
    assert result["results"][0]["status"] == "rejected"


def test_heartbeat_is_stored(server: Server) -> None:
    kiosk = enrolled(server)
    body = (
        b'{"agent":"cedoka/0.1.0","feed_seq":0,"journal_head":null,"keyring_version":1,'
        b'"last_errors":[],"printers":[{"accepting":true,"backend":"virtual","markers":[],'
        b'"media":null,"reasons":[],"role":"a4","state":"idle"}],"sent_at":1,"spool":{},'
        b'"time_floor":1,"v":1}'
    )
    answer = kiosk.call("POST", "/v1/heartbeat", body)
    assert answer.status_code == 200, answer.text
    device = server.keys.store.device(kiosk.device_id)
    assert device is not None and device.heartbeat == body and device.agent == "cedoka/0.1.0"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/nothing",
        "/v1/feed?after=x&kr=1",
        "/v1/feed?after=%C2%B2&kr=1",
        "/v1/feed?after=007&kr=1",
    ],
)
def test_errors_have_the_protocol_body(server: Server, path: str) -> None:
    kiosk = enrolled(server)
    answer = kiosk.call("GET", path)
    assert answer.status_code in {400, 404}
    assert _error(answer) in {"malformed", "not_found"}


def test_logs_carry_ids_never_names(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    kiosk = enrolled(server)
    job_id, _ = _push(server, ReleaseMode.AUTO)
    kiosk.feed()
    assert job_id in caplog.text and kiosk.device_id in caplog.text
    assert RESIDENT not in caplog.text and RESIDENT.split()[0] not in caplog.text
