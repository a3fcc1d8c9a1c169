"""The agent's HTTP adapter (agent/client.py) over real HTTP on 127.0.0.1.

Two servers: the real district (uvicorn, ``tests.district.conftest.server``) for the
protocol, and ``tests.agent.faulty`` (raw sockets) for everything a network or a
middlebox does wrong: resets, trickles, lying lengths, 5xx/429, captive portals, TLS.
No mocks: every test talks real HTTP on loopback.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import logging
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from agent.client import DistrictClient, LinkDownError, LinkKind, enroll
from kiosk.b64 import b64u_encode
from kiosk.enroll import (
    EnrollResponse,
    enroll_response_body,
    new_enroll_code,
    parse_enroll_code,
)
from kiosk.errors import GoneError, Reason, RejectedError, TransportError, WireError
from kiosk.feed import parse_feed
from kiosk.ids import new_id
from kiosk.keys import thumbprint
from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import ReleaseMode
from kiosk.proof import DeviceKeyState, RequestFacts, verify_proof
from kiosk.report import JobReport, sign_report
from kiosk.verify import (
    TrustState,
    verify_document,
    verify_head,
    verify_keyring,
    verify_manifest,
)
from tests.agent.faulty import Exchange, FaultyServer, Handler, trickle, wait_until
from tests.district.conftest import Server
from tests.sim.district import RESIDENT, make_pdf

pytestmark = pytest.mark.loopback

OFFICE = "74.08.01.2002"
AGENT = "cedoka/0.1.0"
FEED_BODY = b'{"head":"a.b.c","jobs":[],"v":1}'
DEVICE = "dev_01JD0000000000000000000001"
JOB = "job_01JD0000000000000000000001"
DOC = "doc_01JD0000000000000000000001"


# --- helpers ------------------------------------------------------------------------------


class Enrolled:
    """A kiosk enrolled through ``agent.client.enroll``, with its client."""

    def __init__(self, server: Server, **client_args: object) -> None:
        self.auth = Ed25519PrivateKey.generate()
        self.seal = X25519PrivateKey.generate()
        self.response = enroll(
            base_url=server.base_url,
            code_text=server.admin.new_enroll_code(OFFICE, valid_s=600),
            auth_key=self.auth,
            seal_key=self.seal,
            agent=AGENT,
            request_timeout_s=10,
        )
        self.client = DistrictClient(
            base_url=server.base_url,
            device_id=self.response.device_id,
            auth_key=self.auth,
            request_timeout_s=10,
            **client_args,  # type: ignore[arg-type]
        )

    @property
    def seal_keys(self) -> dict[str, X25519PrivateKey]:
        return {thumbprint(self.seal.public_key()): self.seal}

    def trust(self) -> TrustState:
        keyring = verify_keyring(
            self.response.keyring_token,
            district_code=self.response.district_code,
            root_key=self.response.root_key,
            current=None,
        )
        return TrustState(
            district_code=self.response.district_code,
            device_id=self.response.device_id,
            root_key=self.response.root_key,
            keyring=keyring,
            head=None,
            time_floor_s=0,
        )


@pytest.fixture
def kiosk(server: Server) -> Iterator[Enrolled]:
    enrolled = Enrolled(server)
    yield enrolled
    enrolled.client.close()


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    with FaultyServer() as running:
        yield running


@pytest.fixture
def client(faulty: FaultyServer) -> Iterator[DistrictClient]:
    with _client(faulty.base_url) as made:
        yield made


def _client(base_url: str, **args: object) -> DistrictClient:
    settings: dict[str, object] = {"request_timeout_s": 5.0}
    settings.update(args)
    return DistrictClient(
        base_url=base_url,
        device_id=DEVICE,
        auth_key=Ed25519PrivateKey.generate(),
        **settings,  # type: ignore[arg-type]
    )


def _push(server: Server, docs: int = 1, release: ReleaseMode = ReleaseMode.STAFF) -> str:
    result = server.admin.push(
        office_code=OFFICE,
        resident=RESIDENT,
        documents=[("KK", make_pdf(2)), ("AKTA_LAHIR", make_pdf()), ("BIODATA", make_pdf())][:docs],
        release=release,
        copies=1,
        lifetime_s=72 * 3600,
    )
    return result.job_id


def _etag(data: bytes) -> str:
    return b64u_encode(hashlib.sha256(data).digest())


def _sha(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def _link_down(call: Callable[[], object]) -> LinkDownError:
    with pytest.raises(LinkDownError) as caught:
        call()
    assert isinstance(caught.value, TransportError)
    return caught.value


def _serve_blob(blob: bytes) -> Handler:
    """A well-behaved blob handler: 200, or 206 for ``Range: bytes=N-``."""

    def handler(exchange: Exchange) -> None:
        wanted = exchange.request.headers.get("range")
        start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
        headers = {"Content-Length": str(len(blob) - start), "ETag": f'"{_etag(blob)}"'}
        if wanted:
            headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
        exchange.send_head(206 if wanted else 200, headers)
        exchange.send(blob[start:])

    return handler


# --- enrolment (real district) ----------------------------------------------------------


def test_enrol_good_and_the_code_is_single_use(server: Server) -> None:
    code = server.admin.new_enroll_code(OFFICE, valid_s=600)
    auth, seal = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    args = {"base_url": server.base_url, "agent": AGENT, "request_timeout_s": 10.0}
    response = enroll(code_text=code, auth_key=auth, seal_key=seal, **args)  # type: ignore[arg-type]
    assert response.device_id.startswith("dev_") and response.office_code == OFFICE
    assert abs(response.server_time_s - time.time()) < 5
    keyring = verify_keyring(
        response.keyring_token,
        district_code=response.district_code,
        root_key=response.root_key,
        current=None,
    )
    assert keyring.version == 1
    # another kiosk with the same code, and the same kiosk with a new nonce: both refused
    for key in (Ed25519PrivateKey.generate(), auth):
        with pytest.raises(RejectedError) as caught:
            enroll(code_text=code, auth_key=key, seal_key=seal, **args)  # type: ignore[arg-type]
        assert caught.value.reason is Reason.ENROLL_CODE_INVALID


def test_enrol_with_a_wrong_code(server: Server) -> None:
    real = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=600))
    wrong = replace(real, secret="0" * 20).text()
    with pytest.raises(RejectedError) as caught:
        enroll(
            base_url=server.base_url,
            code_text=wrong,
            auth_key=Ed25519PrivateKey.generate(),
            seal_key=X25519PrivateKey.generate(),
            agent=AGENT,
            request_timeout_s=10,
        )
    assert caught.value.reason is Reason.ENROLL_MAC_INVALID


def test_a_malformed_code_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(WireError) as caught:
        enroll(
            base_url=f"http://127.0.0.1:{_closed_port()}",
            code_text="SYPYA-4BY4N",
            auth_key=Ed25519PrivateKey.generate(),
            seal_key=X25519PrivateKey.generate(),
            agent=AGENT,
            request_timeout_s=1,
        )
    assert caught.value.reason is Reason.ENROLL_CODE_MALFORMED


def test_enrol_resends_the_same_body_after_a_transient_failure(faulty: FaultyServer) -> None:
    root = Ed25519PrivateKey.generate()
    code = new_enroll_code(root.public_key(), secrets.token_bytes)

    def handler(exchange: Exchange) -> None:
        if exchange.index == 0:
            exchange.send_head(502, {"Content-Type": "text/html", "Content-Length": "9"})
            exchange.send(b"<html>bad")
            return
        nonce = json.loads(exchange.request.body)["nonce"]
        answer = EnrollResponse(
            device_id=new_id("dev", now_ms=1, random_bytes=secrets.token_bytes),
            district_code="74.08",
            district_name="Kabupaten Kolaka Utara",
            office_code=OFFICE,
            office_name="Desa Pitulua",
            root_key=root.public_key(),
            keyring_token=b"a.b.c",
            server_time_s=1_732_000_000,
        )
        exchange.respond(200, enroll_response_body(answer, nonce=nonce, code=code))

    faulty.handler = handler
    slept: list[float] = []
    response = enroll(
        base_url=faulty.base_url,
        code_text=code.text(),
        auth_key=Ed25519PrivateKey.generate(),
        seal_key=X25519PrivateKey.generate(),
        agent=AGENT,
        request_timeout_s=5,
        random_bytes=lambda n: b"\x01" * n,
        sleep=slept.append,
    )
    assert response.server_time_s == 1_732_000_000
    first, second = faulty.requests
    assert first.body == second.body and "authorization" not in first.headers
    assert json.loads(first.body)["nonce"] == b64u_encode(b"\x01" * 16)
    assert len(slept) == 1 and 0 <= slept[0] <= 0.5


def test_enrol_gives_up_after_a_few_attempts(faulty: FaultyServer) -> None:
    code = new_enroll_code(Ed25519PrivateKey.generate().public_key(), secrets.token_bytes)
    faulty.handler = lambda exchange: exchange.error(503, "unavailable")
    slept: list[float] = []
    error = _link_down(
        lambda: enroll(
            base_url=faulty.base_url,
            code_text=code.text(),
            auth_key=Ed25519PrivateKey.generate(),
            seal_key=X25519PrivateKey.generate(),
            agent=AGENT,
            request_timeout_s=5,
            sleep=slept.append,
        )
    )
    assert error.kind is LinkKind.HTTP_5XX and len(faulty.requests) == 4 and len(slept) == 3
    assert len({seen.body for seen in faulty.requests}) == 1


def test_enrol_does_not_sleep_through_a_long_retry_after(faulty: FaultyServer) -> None:
    code = new_enroll_code(Ed25519PrivateKey.generate().public_key(), secrets.token_bytes)
    faulty.handler = lambda exchange: exchange.error(
        429, "rate_limited", {"Retry-After": "60"}, retry_after_s=60
    )
    error = _link_down(
        lambda: enroll(
            base_url=faulty.base_url,
            code_text=code.text(),
            auth_key=Ed25519PrivateKey.generate(),
            seal_key=X25519PrivateKey.generate(),
            agent=AGENT,
            request_timeout_s=5,
            sleep=lambda s: pytest.fail("slept"),
        )
    )
    assert error.kind is LinkKind.RATE_LIMITED and error.retry_after_s == 60
    assert len(faulty.requests) == 1


# --- the device client (real district) ----------------------------------------------------


def test_a_pushed_job_end_to_end(server: Server, kiosk: Enrolled, tmp_path: Path) -> None:
    trust = kiosk.trust()
    kiosk.client.clock_offset_s = kiosk.response.server_time_s - int(time.time())
    job_id = _push(server, docs=2)
    feed = parse_feed(kiosk.client.feed(after=0, keyring_version=1, wait_s=1))
    head = verify_head(feed.head, trust=trust, local_now_s=int(time.time()))
    trust = replace(trust, head=head, time_floor_s=head.issued_at_s)
    [token] = feed.jobs
    job = verify_manifest(
        token,
        trust=trust,
        local_now_s=int(time.time()),
        is_known=lambda _: False,
        seal_keys=kiosk.seal_keys,
    )
    assert job.manifest.job_id == job_id
    for doc in job.manifest.documents:
        part = tmp_path / f"{doc.doc_id}.part"
        got = kiosk.client.download_blob(
            job_id,
            doc.doc_id,
            part=part,
            size=doc.sealed_size,
            etag=b64u_encode(doc.sealed_sha256),
            deadline_s=30,
        )
        assert got == doc.sealed_size == part.stat().st_size
        assert verify_document(job, doc.doc_id, part.read_bytes(), seal_keys=kiosk.seal_keys)
        assert part.stat().st_mode & 0o777 == 0o600


def test_feed_long_poll_is_answered_by_a_push(server: Server, kiosk: Enrolled) -> None:
    answers: list[bytes] = []
    poll = threading.Thread(
        target=lambda: answers.append(kiosk.client.feed(after=0, keyring_version=1, wait_s=30))
    )
    started = time.monotonic()
    poll.start()
    wait_until(lambda: server.notifier.waiting > 0)
    job_id = _push(server, release=ReleaseMode.AUTO)
    poll.join(timeout=10)
    assert answers, "the long-poll did not return"
    assert time.monotonic() - started < 10
    feed = parse_feed(answers[0])
    trust = kiosk.trust()
    head = verify_head(feed.head, trust=trust, local_now_s=int(time.time()))
    [token] = feed.jobs
    job = verify_manifest(
        token,
        trust=replace(trust, head=head, time_floor_s=head.issued_at_s),
        local_now_s=int(time.time()),
        is_known=lambda _: False,
        seal_keys=kiosk.seal_keys,
    )
    assert job.manifest.job_id == job_id


def test_blob_download_whole_resumed_and_restarted(
    server: Server, kiosk: Enrolled, tmp_path: Path
) -> None:
    job_id = _push(server)
    [row] = server.keys.store.blobs(job_id)
    etag = b64u_encode(row.sha256)
    whole = tmp_path / "whole.part"

    def download(part: Path, tag: str = etag) -> int:
        return kiosk.client.download_blob(
            job_id, row.doc_id, part=part, size=row.size, etag=tag, deadline_s=30
        )

    assert download(whole) == row.size and _sha(whole) == row.sha256
    assert download(whole) == 0, "complete already: nothing is fetched"
    blob = whole.read_bytes()

    cut = row.size // 2
    resumed = tmp_path / "resumed.part"
    resumed.write_bytes(blob[:cut])
    assert download(resumed) == row.size - cut and _sha(resumed) == row.sha256

    stale = tmp_path / "stale.part"  # If-Range with another ETag: the server sends it all
    stale.write_bytes(blob[:cut])
    assert download(stale, "A" * 43) == row.size and _sha(stale) == row.sha256

    too_long = tmp_path / "too-long.part"
    too_long.write_bytes(blob + b"junk")
    assert download(too_long) == row.size and _sha(too_long) == row.sha256


def test_blob_of_a_cancelled_job_or_an_unknown_document_is_gone(
    server: Server, kiosk: Enrolled, tmp_path: Path
) -> None:
    job_id = _push(server)
    [row] = server.keys.store.blobs(job_id)
    args = {"part": tmp_path / "x.part", "size": row.size, "etag": "A" * 43, "deadline_s": 10}
    with pytest.raises(GoneError) as caught:
        kiosk.client.download_blob(job_id, DOC, **args)  # type: ignore[arg-type]
    assert caught.value.code == "not_found"
    server.admin.cancel(job_id, reason="other")
    with pytest.raises(GoneError) as caught:
        kiosk.client.download_blob(job_id, row.doc_id, **args)  # type: ignore[arg-type]
    assert caught.value.code == "job_cancelled"


def test_revoked_and_unknown_devices_are_rejected(server: Server, kiosk: Enrolled) -> None:
    server.admin.revoke(kiosk.response.device_id)
    for call in (
        lambda: kiosk.client.feed(after=0, keyring_version=1, wait_s=1),
        lambda: kiosk.client.post_heartbeat(b'{"v":1}'),
    ):
        with pytest.raises(RejectedError) as caught:
            call()
        assert caught.value.reason is Reason.DEVICE_REVOKED
    with _client(server.base_url) as stranger, pytest.raises(RejectedError) as caught:
        stranger.feed(after=0, keyring_version=1, wait_s=1)
    assert caught.value.reason is Reason.UNKNOWN_DEVICE


def test_events_stored_duplicate_and_rejected(server: Server, kiosk: Enrolled) -> None:
    job_id = _push(server, release=ReleaseMode.AUTO)
    report = JobReport(
        event_id="evt_01JD0000000000000000000001",
        device_id=kiosk.response.device_id,
        district_code="74.08",
        job_id=job_id,
        event=JobEvent.PRINT_DONE,
        state=JobState.PRINTED,
        at_s=int(time.time()),
    )
    token = sign_report(report, kiosk.auth)
    stranger = sign_report(
        replace(report, event_id="evt_01JD0000000000000000000002"), Ed25519PrivateKey.generate()
    )
    assert kiosk.client.post_events([token]) == [(report.event_id, "stored", None)]
    assert kiosk.client.post_events([token, stranger]) == [
        (report.event_id, "duplicate", None),
        (None, "rejected", "bad_signature"),
    ]
    assert kiosk.client.post_events([b"not a token"]) == [(None, "rejected", "malformed")]


def test_heartbeat_returns_the_server_time(server: Server, kiosk: Enrolled) -> None:
    body = (
        b'{"agent":"cedoka/0.1.0","feed_seq":0,"journal_head":null,"keyring_version":1,'
        b'"last_errors":[],"printers":[],"sent_at":1,"spool":{},"time_floor":1,"v":1}'
    )
    server_time = kiosk.client.post_heartbeat(body)
    assert server_time is not None and abs(server_time - time.time()) < 5
    device = server.keys.store.device(kiosk.response.device_id)
    assert device is not None and device.heartbeat == body
    for bad, reason in ((b'{"v":1}', Reason.MALFORMED), (b'{"v":2}', Reason.UNSUPPORTED_VERSION)):
        with pytest.raises(RejectedError) as caught:  # a bug of ours: not to be retried as is
            kiosk.client.post_heartbeat(bad)
        assert caught.value.reason is reason


@pytest.mark.parametrize("skew_s", [-10 * 86400, 10 * 86400])
def test_the_clock_offset_is_corrected_after_expired_or_future(
    server: Server, skew_s: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cedoka.agent.client")
    kiosk = Enrolled(server, wall_clock=lambda: time.time() + skew_s)
    with kiosk.client as client:
        parse_feed(client.feed(after=0, keyring_version=1, wait_s=1))
        assert abs(client.clock_offset_s + skew_s) <= 5
        parse_feed(client.feed(after=0, keyring_version=1, wait_s=1))
    assert caplog.text.count("event=clock_offset_corrected") == 1
    expected = "reason=expired" if skew_s < 0 else "reason=issued_in_future"
    assert expected in caplog.text


def test_logs_carry_ids_and_kinds_never_tokens_or_bodies(
    server: Server, kiosk: Enrolled, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    job_id = _push(server)
    body = kiosk.client.feed(after=0, keyring_version=1, wait_s=1)
    [row] = server.keys.store.blobs(job_id)
    kiosk.client.download_blob(
        job_id,
        row.doc_id,
        part=tmp_path / "p",
        size=row.size,
        etag=b64u_encode(row.sha256),
        deadline_s=30,
    )
    with pytest.raises(GoneError):
        kiosk.client.download_blob(
            job_id, DOC, part=tmp_path / "q", size=1, etag="A" * 43, deadline_s=30
        )
    client_lines = [r.getMessage() for r in caplog.records if r.name == "cedoka.agent.client"]
    assert any(job_id in line for line in client_lines)
    text = caplog.text
    feed = parse_feed(body)
    assert "CedokaProof" not in text and "eyJ" not in text
    assert feed.head.decode()[-40:] not in text and RESIDENT not in text


# --- faults: blobs ------------------------------------------------------------------------


def test_a_reset_mid_blob_resumes_where_it_stopped(
    faulty: FaultyServer, client: DistrictClient, tmp_path: Path
) -> None:
    blob = secrets.token_bytes(200_000)
    half = len(blob) // 2
    serve = _serve_blob(blob)

    def handler(exchange: Exchange) -> None:
        if exchange.index > 0:
            serve(exchange)
            return
        exchange.send_head(200, {"Content-Length": str(len(blob))})
        exchange.send(blob[:half])
        exchange.sleep(0.3)  # let the client read it all, then abort the connection
        exchange.reset()

    faulty.handler = handler
    part = tmp_path / "blob.part"
    args = {"part": part, "size": len(blob), "etag": _etag(blob), "deadline_s": 30}
    error = _link_down(lambda: client.download_blob(JOB, DOC, **args))  # type: ignore[arg-type]
    assert error.kind is LinkKind.RESET
    assert part.read_bytes() == blob[:half], "what arrived is kept"
    received = client.download_blob(JOB, DOC, **args)  # type: ignore[arg-type]
    assert received == len(blob) - half
    assert _sha(part) == hashlib.sha256(blob).digest()
    resume = faulty.requests[1].headers
    assert resume["range"] == f"bytes={half}-" and resume["if-range"] == f'"{_etag(blob)}"'
    assert "range" not in faulty.requests[0].headers
    assert faulty.body_bytes_sent == len(blob), "no full restart"


def test_a_trickling_server_cannot_hold_the_download(
    faulty: FaultyServer, client: DistrictClient, tmp_path: Path
) -> None:
    blob = secrets.token_bytes(1000)

    def handler(exchange: Exchange) -> None:
        exchange.send_head(200, {"Content-Length": str(len(blob))})
        trickle(exchange, blob, every_s=0.2)

    faulty.handler = handler
    part = tmp_path / "blob.part"
    started = time.monotonic()
    error = _link_down(
        lambda: client.download_blob(
            JOB, DOC, part=part, size=len(blob), etag=_etag(blob), deadline_s=1.0
        )
    )
    elapsed = time.monotonic() - started
    assert error.kind is LinkKind.DEADLINE and 1.0 <= elapsed < 2.0
    assert 0 < part.stat().st_size < 20 and part.read_bytes() == blob[: part.stat().st_size]


def test_a_download_whose_deadline_passed_sends_nothing(
    faulty: FaultyServer, client: DistrictClient, tmp_path: Path
) -> None:
    error = _link_down(
        lambda: client.download_blob(
            JOB, DOC, part=tmp_path / "p", size=10, etag="A" * 43, deadline_s=0
        )
    )
    assert error.kind is LinkKind.DEADLINE and faulty.requests == []


@pytest.mark.parametrize(
    ("lie", "kind", "kept"),
    [
        ("content_length_above_size", LinkKind.SIZE_MISMATCH, 0),
        ("content_length_below_size", LinkKind.SIZE_MISMATCH, 0),
        ("endless_body_without_length", LinkKind.SIZE_MISMATCH, 5000),
        ("short_body_without_length", LinkKind.TRUNCATED, 4000),
        ("short_body_with_length", LinkKind.TRUNCATED, 4000),
        ("wrong_content_range", LinkKind.SIZE_MISMATCH, 1000),
        ("content_encoding", LinkKind.BAD_ANSWER, 0),
    ],
)
def test_lying_lengths_never_write_beyond_the_size(
    faulty: FaultyServer,
    client: DistrictClient,
    tmp_path: Path,
    *,
    lie: str,
    kind: LinkKind,
    kept: int,
) -> None:
    blob = secrets.token_bytes(5000)
    longer = blob + secrets.token_bytes(200_000)

    def handler(exchange: Exchange) -> None:
        if lie == "content_length_above_size":
            exchange.send_head(200, {"Content-Length": str(len(longer))})
            exchange.send(longer)
        elif lie == "content_length_below_size":
            exchange.send_head(200, {"Content-Length": "4000"})
            exchange.send(blob[:4000])
        elif lie == "endless_body_without_length":
            exchange.send_head(200, {})
            exchange.send(longer)
        elif lie == "short_body_without_length":
            exchange.send_head(200, {})
            exchange.send(blob[:4000])
        elif lie == "short_body_with_length":
            exchange.send_head(200, {"Content-Length": str(len(blob))})
            exchange.send(blob[:4000])
        elif lie == "wrong_content_range":  # claims a bigger blob
            exchange.send_head(206, {"Content-Range": "bytes 1000-9999/10000"})
            exchange.send(longer[1000:10000])
        else:
            exchange.send_head(200, {"Content-Length": str(len(blob)), "Content-Encoding": "gzip"})
            exchange.send(blob)

    faulty.handler = handler
    part = tmp_path / "blob.part"
    if lie == "wrong_content_range":
        part.write_bytes(blob[:1000])
    error = _link_down(
        lambda: client.download_blob(
            JOB, DOC, part=part, size=len(blob), etag=_etag(blob), deadline_s=10
        )
    )
    assert error.kind is kind
    assert part.stat().st_size == kept and part.read_bytes() == blob[:kept]


def test_a_refused_range_restarts_from_byte_zero(
    faulty: FaultyServer, client: DistrictClient, tmp_path: Path
) -> None:
    blob = secrets.token_bytes(3000)
    serve = _serve_blob(blob)

    def handler(exchange: Exchange) -> None:
        if "range" in exchange.request.headers:
            exchange.error(416, "malformed", {"Content-Range": f"bytes */{len(blob)}"})
        else:
            serve(exchange)

    faulty.handler = handler
    part = tmp_path / "blob.part"
    part.write_bytes(b"x" * 100)
    received = client.download_blob(
        JOB, DOC, part=part, size=len(blob), etag=_etag(blob), deadline_s=10
    )
    assert received == len(blob) and part.read_bytes() == blob and len(faulty.requests) == 2


# --- faults: statuses, portals, the network -----------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after_s"),
    [
        (500, {}, b'{"error":{"code":"internal","message":"x"}}', LinkKind.HTTP_5XX, None),
        (502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>", LinkKind.HTTP_5XX, None),
        (503, {"Retry-After": "7"}, b"", LinkKind.HTTP_5XX, 7.0),
        (
            503,
            {"Retry-After": "7"},
            b'{"error":{"code":"unavailable","message":"x","retry_after_s":30}}',
            LinkKind.HTTP_5XX,
            30.0,
        ),
        (429, {"Retry-After": "5"}, b"", LinkKind.RATE_LIMITED, 5.0),
        (429, {"Retry-After": "soon"}, b"", LinkKind.RATE_LIMITED, None),
        (429, {"Retry-After": "999999999999"}, b"", LinkKind.RATE_LIMITED, 86400.0),
        (418, {}, b'{"error":{"code":"teapot","message":"x"}}', LinkKind.HTTP_STATUS, None),
        (404, {}, b'{"error":{"code":"not_found","message":"x"}}', LinkKind.HTTP_STATUS, None),
        (401, {}, b"", LinkKind.BAD_ANSWER, None),
        (
            403,
            {"Content-Type": "text/html"},
            b"<html>blocked</html>",
            LinkKind.CAPTIVE_PORTAL,
            None,
        ),
        (200, {"Content-Type": "text/html"}, b"<html>login</html>", LinkKind.CAPTIVE_PORTAL, None),
        (200, {}, b"<html>login</html>", LinkKind.BAD_ANSWER, None),
        (200, {}, b'{"v":1,"jobs":[]}', LinkKind.BAD_ANSWER, None),
        (204, {}, b"", LinkKind.BAD_ANSWER, None),
        (302, {"Location": "http://portal.invalid/login"}, b"", LinkKind.CAPTIVE_PORTAL, None),
        (307, {"Location": "/v1/feed"}, b"", LinkKind.CAPTIVE_PORTAL, None),
    ],
)
def test_statuses_and_bodies_that_are_link_failures(
    faulty: FaultyServer,
    client: DistrictClient,
    *,
    status: int,
    headers: dict[str, str],
    body: bytes,
    kind: LinkKind,
    retry_after_s: float | None,
) -> None:
    faulty.handler = lambda exchange: exchange.respond(
        status, body, headers, content_type=headers.get("Content-Type", "application/json")
    )
    error = _link_down(lambda: client.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is kind and error.retry_after_s == retry_after_s
    assert len(faulty.requests) == 1, "no redirect followed, no retry"


def test_retry_after_as_an_http_date(faulty: FaultyServer, client: DistrictClient) -> None:
    later = formatdate(time.time() + 120, usegmt=True)
    faulty.handler = lambda exchange: exchange.error(429, "rate_limited", {"Retry-After": later})
    error = _link_down(lambda: client.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is LinkKind.RATE_LIMITED and error.retry_after_s is not None
    assert 118 <= error.retry_after_s <= 121


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (400, "malformed", Reason.MALFORMED),
        (400, "unsupported_version", Reason.UNSUPPORTED_VERSION),
        (401, "proof_invalid", Reason.BAD_SIGNATURE),
        (401, "unknown_device", Reason.UNKNOWN_DEVICE),
        (401, "request_mismatch", Reason.REQUEST_MISMATCH),
        (401, "something_new", Reason.BAD_SIGNATURE),
        (403, "device_revoked", Reason.DEVICE_REVOKED),
        (413, "too_large", Reason.TOO_LARGE),
    ],
)
def test_refusals_the_protocol_names(
    faulty: FaultyServer, client: DistrictClient, status: int, code: str, reason: Reason
) -> None:
    faulty.handler = lambda exchange: exchange.error(status, code)
    with pytest.raises(RejectedError) as caught:
        client.post_heartbeat(b'{"v":1}')
    assert caught.value.reason is reason and len(faulty.requests) == 1


def test_an_expired_proof_is_retried_once_with_a_new_proof(
    faulty: FaultyServer, client: DistrictClient
) -> None:
    faulty.handler = lambda exchange: exchange.error(401, "expired")
    with pytest.raises(RejectedError) as caught:
        client.feed(after=0, keyring_version=1, wait_s=1)
    assert caught.value.reason is Reason.EXPIRED
    first, second = faulty.requests
    assert first.headers["authorization"] != second.headers["authorization"]
    assert abs(client.clock_offset_s) <= 2


def test_an_expired_proof_without_a_date_is_not_retried(
    faulty: FaultyServer, client: DistrictClient
) -> None:
    def handler(exchange: Exchange) -> None:
        body = b'{"error":{"code":"expired","message":"x"}}'
        exchange.conn.sendall(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    faulty.handler = handler
    with pytest.raises(RejectedError) as caught:
        client.feed(after=0, keyring_version=1, wait_s=1)
    assert caught.value.reason is Reason.EXPIRED and len(faulty.requests) == 1


def test_a_replayed_proof_is_retried_once(faulty: FaultyServer, client: DistrictClient) -> None:
    def once(exchange: Exchange) -> None:
        if exchange.index == 0:
            exchange.error(409, "replayed")
        else:
            exchange.respond(200, FEED_BODY)

    faulty.handler = once
    assert client.feed(after=0, keyring_version=1, wait_s=1) == FEED_BODY
    faulty.handler = lambda exchange: exchange.error(409, "replayed")
    error = _link_down(lambda: client.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is LinkKind.REPLAYED and len(faulty.requests) == 4


def test_proofs_bind_origin_target_and_body_with_a_path_prefix(faulty: FaultyServer) -> None:
    auth = Ed25519PrivateKey.generate()

    def handler(exchange: Exchange) -> None:
        if exchange.request.target.startswith("/cedoka/v1/feed?"):
            exchange.respond(200, FEED_BODY)
        else:
            exchange.respond(200, b'{"results":[{"id":"evt_1","status":"stored"}],"v":1}')

    faulty.handler = handler
    with DistrictClient(
        base_url=faulty.base_url + "/cedoka/",
        device_id=DEVICE,
        auth_key=auth,
        request_timeout_s=5,
    ) as prefixed:
        prefixed.feed(after=41, keyring_version=2, wait_s=55)
        assert prefixed.post_events([b"a.b.c"]) == [("evt_1", "stored", None)]
    feed, events = faulty.requests
    assert feed.target == "/cedoka/v1/feed?after=41&kr=2&ov=0&wait=55"
    assert events.target == "/cedoka/v1/events" and events.method == "POST"
    assert json.loads(events.body) == {"v": 1, "events": ["a.b.c"]}
    for seen in (feed, events):
        scheme, _, token = seen.headers["authorization"].partition(" ")
        assert scheme == "CedokaProof" and seen.headers["host"] == f"127.0.0.1:{faulty.port}"
        facts = RequestFacts(faulty.base_url, seen.method, seen.target, seen.body)
        proof = verify_proof(
            token.encode(),
            facts,
            devices=lambda _: DeviceKeyState(auth.public_key(), False),
            is_replay=lambda _: False,
            now_s=int(time.time()),
        )
        assert proof.device_id == DEVICE


def test_event_answers_that_do_not_match_the_batch(
    faulty: FaultyServer, client: DistrictClient
) -> None:
    for answer in (
        b'{"results":[],"v":1}',
        b'{"results":[{"id":"evt_1","status":"lost"}],"v":1}',
        b'{"results":[{"id":null,"status":"rejected"}],"v":1}',
        b'{"results":[{"id":"evt_1","status":"stored"}],"v":2}',
    ):
        faulty.handler = functools.partial(Exchange.respond, status=200, body=answer)
        assert _link_down(lambda: client.post_events([b"a.b.c"])).kind is LinkKind.BAD_ANSWER


def test_heartbeat_answer_without_server_time(faulty: FaultyServer, client: DistrictClient) -> None:
    faulty.handler = lambda exchange: exchange.respond(200, b'{"v":1}')
    assert client.post_heartbeat(b'{"v":1}') is None


def test_an_oversized_feed_answer_is_refused_unread(
    faulty: FaultyServer, client: DistrictClient
) -> None:
    def handler(exchange: Exchange) -> None:
        exchange.send_head(200, {"Content-Type": "application/json", "Content-Length": "2000000"})
        exchange.sleep(1)

    faulty.handler = handler
    error = _link_down(lambda: client.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is LinkKind.BAD_ANSWER and faulty.body_bytes_sent == 0


def test_an_endless_feed_answer_is_cut_at_the_cap(
    faulty: FaultyServer, client: DistrictClient
) -> None:
    def handler(exchange: Exchange) -> None:
        exchange.send_head(200, {"Content-Type": "application/json"})
        exchange.send(b'{"v":1,"jobs":[],"head":"' + b"a" * 1_200_000)

    faulty.handler = handler
    assert _link_down(lambda: client.feed(after=0, keyring_version=1, wait_s=1)).kind is (
        LinkKind.BAD_ANSWER
    )


def test_the_feed_read_timeout_covers_the_wait(faulty: FaultyServer) -> None:
    def handler(exchange: Exchange) -> None:
        exchange.sleep(1.5)  # longer than request_timeout_s, shorter than wait_s + it
        exchange.respond(200, FEED_BODY)

    faulty.handler = handler
    with _client(faulty.base_url, request_timeout_s=1.0) as slow:
        assert slow.feed(after=0, keyring_version=1, wait_s=1) == FEED_BODY
        faulty.handler = functools.partial(Exchange.sleep, seconds=5)  # never answers
        started = time.monotonic()
        assert _link_down(lambda: slow.post_heartbeat(b"{}")).kind is LinkKind.TIMEOUT
        assert time.monotonic() - started < 2.5


_TRICKLED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: "
    + b"a" * 2000 + b"\r\nContent-Length: 2000\r\n\r\n"
)  # fmt: skip


@pytest.mark.parametrize("where", ["status_line_and_headers", "body"])
def test_a_trickling_feed_answer_is_cut_at_its_overall_deadline(
    faulty: FaultyServer, where: str
) -> None:
    """One byte every second never trips the 2 s read timeout (wait_s 1 + request_timeout_s
    1): only the overall deadline (wait_s + 2 x request_timeout_s = 3 s) ends the call, in
    the status line and headers as in the body, while the server keeps trickling."""

    def handler(exchange: Exchange) -> None:
        if where == "body":
            exchange.conn.sendall(_TRICKLED_HEAD.replace(b"a" * 2000, b"a"))
            trickle(exchange, b'{"v":1,"jobs":[],"head":"' + b"a" * 1970, every_s=1.0)
        else:
            trickle(exchange, _TRICKLED_HEAD, every_s=1.0)

    faulty.handler = handler
    outcome: list[BaseException | bytes] = []
    with _client(faulty.base_url, request_timeout_s=1.0) as slow:

        def call() -> None:
            try:
                outcome.append(slow.feed(after=0, keyring_version=1, wait_s=1))
            except BaseException as error:  # reported by the asserts below
                outcome.append(error)

        started = time.monotonic()
        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(timeout=10)
        elapsed = time.monotonic() - started
        assert not caller.is_alive(), f"the feed call still runs after {elapsed:.1f} s"
    (error,) = outcome
    assert isinstance(error, LinkDownError) and error.kind is LinkKind.DEADLINE, error
    assert 2.5 <= elapsed < 4.5, elapsed
    assert faulty.body_bytes_sent < 10, "ended after a few of the thousands of bytes to come"


def test_connection_refused() -> None:
    with _client(f"http://127.0.0.1:{_closed_port()}") as nowhere:
        error = _link_down(lambda: nowhere.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is LinkKind.REFUSED


def test_a_reset_before_any_answer(faulty: FaultyServer, client: DistrictClient) -> None:
    faulty.handler = Exchange.reset
    assert _link_down(lambda: client.post_heartbeat(b"{}")).kind is LinkKind.RESET


def _fails_to_resolve_fast(name: str) -> bool:
    started = time.monotonic()
    try:
        socket.getaddrinfo(name, 443)
    except socket.gaierror:
        return time.monotonic() - started < 2
    return False


def test_an_unresolvable_host_name() -> None:
    if not _fails_to_resolve_fast("cedoka.invalid"):
        pytest.skip("this resolver does not fail fast on the reserved .invalid name")
    with _client("https://cedoka.invalid") as nowhere:
        error = _link_down(lambda: nowhere.feed(after=0, keyring_version=1, wait_s=1))
    assert error.kind is LinkKind.DNS


def test_plain_http_only_to_loopback() -> None:
    from kiosk.errors import ConfigError

    for url in ("http://cedoka.example", "ftp://127.0.0.1", "https://u:p@host", "https://h/?q"):
        with pytest.raises(ConfigError):
            _client(url)


# --- TLS ----------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    import ipaddress

    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cedoka test district")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return cert_path, context


def test_tls_trusts_only_the_configured_bundle_never_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, context = _self_signed(tmp_path)
    # What requests would pick up from the environment if trust_env were on: the test
    # certificate as CA bundle (trusting it), and a proxy that does not exist.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(cert_path))
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FaultyServer(tls=context) as tls_server:
        tls_server.handler = lambda exchange: exchange.respond(200, FEED_BODY)
        with _client(tls_server.base_url) as default_trust:
            error = _link_down(lambda: default_trust.feed(after=0, keyring_version=1, wait_s=1))
            assert error.kind is LinkKind.TLS
        with _client(tls_server.base_url, verify=str(cert_path)) as pinned:
            assert pinned.feed(after=0, keyring_version=1, wait_s=1) == FEED_BODY
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", tls_server.base_url)
