"""Webhooks (issue 17 item 5) end to end on loopback: an integration's user subscribes a
receiver, pushes a job through the admin API, the kiosk reports it held and handed over;
the deliverer posts each message signed the Standard Webhooks way (checked here with the
``standardwebhooks`` library, as a receiver would), retries with backoff from the durable
outbox through a receiver outage, and the deliveries are visible to district IT."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from district.webhooks import Deliverer, check_url, retry_delay_s
from kiosk.errors import OperatorError
from kiosk.lifecycle import JobEvent, JobState
from kiosk.report import JobReport, event_batch_body, sign_report
from tests.district.adminlab import Admin, admin_server

STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


class Receiver:
    """An HTTP receiver on 127.0.0.1 that records what arrives and answers ``status``."""

    def __init__(self) -> None:
        self.status = 204
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cedoka"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now_s = float(int(time.time()))

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def admin(tmp_path: Path, db_url: str | None) -> Iterator[Admin]:
    with admin_server(tmp_path, db_url) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


def report(admin: Admin, job_id: str, event: JobEvent, state: JobState, n: int) -> None:
    kiosk = admin.kiosk
    item = JobReport(
        event_id=f"evt_01JD{n:022d}",
        device_id=kiosk.device_id,
        district_code="74.08",
        job_id=job_id,
        event=event,
        state=state,
        at_s=int(time.time()),
    )
    answer = kiosk.call("POST", "/v1/events", event_batch_body([sign_report(item, kiosk.auth)]))
    assert answer.status_code == 200, answer.text


def subscribe(admin: Admin, url: str, **extra: object) -> dict[str, object]:
    answer = admin.call(
        "POST", "/webhooks", "admin", json={"url": url, "user_id": "operator.user", **extra}
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, object] = answer.json()
    return made


def test_a_pushed_job_is_announced_held_and_handed_over_signed(
    admin: Admin, receiver: Receiver
) -> None:
    hook = subscribe(admin, receiver.url)
    secret = str(hook["secret"])
    assert secret.startswith("whsec_")
    assert "secret" not in admin.call("GET", "/webhooks", "admin").json()["webhooks"][0]
    job_id = str(admin.push("operator")["job_id"])
    report(admin, job_id, JobEvent.VERIFY_OK, JobState.VERIFIED, 1)  # not announced
    report(admin, job_id, JobEvent.HOLD, JobState.HELD, 2)
    report(admin, job_id, JobEvent.HOLD, JobState.HELD, 2)  # the same event again: once
    deliverer = Deliverer(admin.keys.store.webhooks)
    assert deliverer.run_once() == 1
    report(admin, job_id, JobEvent.HAND_OVER, JobState.HANDED_OVER, 3)
    assert deliverer.run_once() == 1
    assert deliverer.run_once() == 0

    types = []
    for headers, body in receiver.received:
        payload = Webhook(secret).verify(body, headers)  # raises unless signed right
        assert payload["data"]["job_id"] == job_id and payload["data"]["office_code"]
        assert headers["webhook-id"] == payload["data"]["message_id"]
        assert b"Test Resident" not in body
        types.append(payload["type"])
    assert types == ["job.held", "job.handed_over"]
    headers, body = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    deliveries = admin.call("GET", f"/webhooks/{hook['webhook_id']}/deliveries", "admin").json()
    assert [
        (d["type"], d["attempts"], d["last_status"], bool(d["delivered_s"]))
        for d in deliveries["deliveries"]
    ] == [
        ("job.handed_over", 1, 204, True),
        ("job.held", 1, 204, True),
    ]
    deliverer.stop()


def test_an_outage_of_the_receiver_is_retried_with_backoff_and_nothing_is_lost(
    admin: Admin, receiver: Receiver
) -> None:
    hook = subscribe(admin, receiver.url, events=["job.held"])
    job_id = str(admin.push("operator")["job_id"])
    report(admin, job_id, JobEvent.HOLD, JobState.HELD, 1)
    clock = Clock()
    deliverer = Deliverer(admin.keys.store.webhooks, now_s=clock)
    receiver.status = 503
    waits = []
    for attempt in range(1, 5):
        assert deliverer.run_once() == 1
        waits.append(retry_delay_s(attempt))
        clock.now_s += retry_delay_s(attempt) - 1
        assert deliverer.run_once() == 0  # not due yet
        clock.now_s += 1
    assert waits == [10, 20, 40, 80]
    receiver.status = 200
    assert deliverer.run_once() == 1
    assert len(receiver.received) == 5
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1  # one message, retried
    (row,) = admin.call("GET", f"/webhooks/{hook['webhook_id']}/deliveries", "admin").json()[
        "deliveries"
    ]
    assert (row["attempts"], row["last_status"], row["last_error"]) == (5, 200, None)
    metrics = requests.get(admin.url + "/metrics", timeout=30).text
    assert "cedoka_webhook_backlog 0.0" in metrics
    deliverer.stop()


def test_a_message_is_given_up_three_days_after_its_event(admin: Admin, receiver: Receiver) -> None:
    subscribe(admin, receiver.url)
    job_id = str(admin.push("operator")["job_id"])
    report(admin, job_id, JobEvent.HOLD, JobState.HELD, 1)
    clock = Clock()
    deliverer = Deliverer(admin.keys.store.webhooks, now_s=clock)
    receiver.status = 500
    tries = 0
    while deliverer.run_once():
        tries += 1
        clock.now_s += 3600
    assert tries == 73  # every hour once the backoff reached its ceiling, for three days
    assert admin.keys.store.webhooks.backlog() == 0
    deliverer.stop()


def test_only_the_integrations_own_jobs_unless_it_takes_all(
    admin: Admin, receiver: Receiver
) -> None:
    subscribe(admin, receiver.url)  # operator.user's pushes only
    other = Receiver()
    try:
        subscribe(admin, other.url, all_jobs=True)
        job_id = str(admin.push("admin")["job_id"])  # pushed by another user
        report(admin, job_id, JobEvent.HOLD, JobState.HELD, 1)
        Deliverer(admin.keys.store.webhooks).run_once()
        assert receiver.received == [] and len(other.received) == 1
        assert json.loads(other.received[0][1])["type"] == "job.held"
    finally:
        other.close()


@pytest.mark.parametrize(
    "url",
    ["http://example.org/x", "ftp://127.0.0.1/", "https://", "https://a b", "javascript:alert(1)"],
)
def test_a_webhook_url_must_be_https_or_this_host(url: str) -> None:
    with pytest.raises(OperatorError):
        check_url(url)


def test_only_admins_manage_webhooks(admin: Admin) -> None:
    for role in ("viewer", "operator"):
        answer = admin.call(
            "POST",
            "/webhooks",
            role,
            json={"url": "https://example.org/h", "user_id": "operator.user"},
        )
        assert answer.status_code == 403
    bad = admin.call(
        "POST",
        "/webhooks",
        "admin",
        json={
            "url": "https://example.org/h",
            "user_id": "operator.user",
            "events": ["job.exploded"],
        },
    )
    assert bad.status_code == 400 and "unknown webhook events" in bad.text


def test_the_example_receiver_in_the_docs_takes_a_signed_message(admin: Admin) -> None:
    """docs/examples/webhook_receiver.py, run as the docs say, verifies and prints."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = subscribe(admin, f"http://127.0.0.1:{port}/")
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
    env = {
        **os.environ,
        "CEDOKA_WEBHOOK_SECRET": str(hook["secret"]),
        "CEDOKA_WEBHOOK_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, str(example)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on")
        job_id = str(admin.push("operator")["job_id"])
        report(admin, job_id, JobEvent.HOLD, JobState.HELD, 1)
        deliverer = Deliverer(admin.keys.store.webhooks)
        assert deliverer.run_once() == 1
        printed = json.loads(process.stdout.readline())
        assert (printed["type"], printed["data"]["job_id"]) == ("job.held", job_id)
        (row,) = admin.call("GET", f"/webhooks/{hook['webhook_id']}/deliveries", "admin").json()[
            "deliveries"
        ]
        assert row["last_status"] == 204
        deliverer.stop()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()


def test_a_district_cancel_is_announced(admin: Admin, receiver: Receiver) -> None:
    hook = subscribe(admin, receiver.url, events=["job.cancelled"])
    job_id = str(admin.push("operator")["job_id"])
    answer = admin.call(
        "POST", f"/jobs/{job_id}/cancel", "operator", json={"reason": "wrong_document"}
    )
    assert answer.status_code == 200, answer.text
    assert Deliverer(admin.keys.store.webhooks).run_once() == 1
    headers, body = receiver.received[0]
    payload = Webhook(str(hook["secret"])).verify(body, headers)
    assert payload["type"] == "job.cancelled"
    assert (payload["data"]["job_id"], payload["data"]["reason"]) == (job_id, "wrong_document")
