"""``/metrics`` (Prometheus text format), ``/healthz`` and ``/readyz`` (issue 17 item 6) on a
real district server over loopback, with a kiosk held in a long-poll and woken by a push."""

from __future__ import annotations

import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from kiosk.model import ReleaseMode
from kiosk.report import Heartbeat, Marker, PrinterHealth, heartbeat_body
from tests.district.conftest import Server, enrolled
from tests.sim.district import make_pdf

OFFICE = "74.08.01.2002"
STORES = ("sqlite", "postgresql")  # every test using the server runs on both stores


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = requests.get(server.base_url + "/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_count_jobs_kiosks_printers_and_time_a_woken_poll(server: Server) -> None:
    kiosk = enrolled(server)
    answers: list[requests.Response] = []
    poll = threading.Thread(target=lambda: answers.append(kiosk.feed(after=0, wait=30)))
    poll.start()
    deadline = time.monotonic() + 10
    while scrape(server)[("cedoka_feed_held_polls", ())] < 1:
        assert time.monotonic() < deadline, "the long-poll was never held"
        time.sleep(0.05)
    server.admin.push(office_code=OFFICE, resident="Test Resident",
                      documents=[("KK", make_pdf(1))], release=ReleaseMode.CLAIM, copies=1,
                      lifetime_s=86400)  # fmt: skip
    poll.join(timeout=30)
    assert answers and answers[0].status_code == 200

    a4 = PrinterHealth("a4", "cups", "stopped", False, ("media-empty-error",),
                       (Marker("Black", 7),), "iso_a4_210x297mm")  # fmt: skip
    beat = Heartbeat("cedoka/0.1.1", int(time.time()), 0, 1, 1, {}, (a4,), None, ())
    assert kiosk.call("POST", "/v1/heartbeat", heartbeat_body(beat)).status_code == 200

    metrics = scrape(server)
    assert metrics[("cedoka_jobs", (("state", "pushed"),))] == 1
    assert metrics[("cedoka_kiosks", (("status", "online"),))] == 1
    assert metrics[("cedoka_kiosks", (("status", "offline"),))] == 0
    for problem in ("paper", "ink", "stopped"):
        assert metrics[("cedoka_printers_needing_attention", (("problem", problem),))] == 1
    assert metrics[("cedoka_feed_wake_seconds_count", ())] == 1
    assert 0 < metrics[("cedoka_feed_wake_seconds_sum", ())] < 5
    assert metrics[("cedoka_feed_held_polls", ())] == 0
    assert "Test Resident" not in requests.get(server.base_url + "/metrics", timeout=30).text


def test_health_and_readiness(server: Server) -> None:
    assert requests.get(server.base_url + "/healthz", timeout=30).json() == {"status": "ok"}
    assert requests.get(server.base_url + "/readyz", timeout=30).json() == {"status": "ready"}
    for key in (server.home / "keys").glob("signer-*"):
        key.rename(key.with_name(key.name + ".moved"))  # the signing key cannot be loaded
    answer = requests.get(server.base_url + "/readyz", timeout=30)
    assert answer.status_code == 503 and answer.json()["status"] == "not_ready"
