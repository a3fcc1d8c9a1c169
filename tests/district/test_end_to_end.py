"""The whole ``cedoka-district`` command line against a running ``serve`` (a real process).

Everything district IT does goes through the installed console script in subprocesses; the
kiosk side talks HTTP(S) to the served port on 127.0.0.1: enrol with the printed code, a
long-poll answered by a push, the sealed blob opened, events and a heartbeat reported and
shown by ``jobs`` / ``devices``, a cancellation in the feed head, a rotated key in the
keyring, a revoked device refused. Once over plain HTTP, once over TLS.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.feed import parse_feed
from kiosk.lifecycle import JobEvent, JobState
from kiosk.report import (
    Heartbeat,
    JobReport,
    PrinterHealth,
    event_batch_body,
    heartbeat_body,
    sign_report,
)
from kiosk.verify import verify_document, verify_keyring, verify_manifest
from tests.district.conftest import Kiosk
from tests.sim.district import RESIDENT, make_pdf

OFFICE = "74.08.01.2002"
CLI = Path(sys.executable).with_name("cedoka-district")
STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


@dataclass
class Running:
    home: Path
    base_url: str
    verify: str | bool

    def cli(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CLI), "--home", str(self.home), *argv],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def kiosk(self) -> Kiosk:
        kiosk = Kiosk(self.base_url)
        kiosk.session.verify = self.verify
        # requests lets REQUESTS_CA_BUNDLE override session.verify: ignore the environment
        kiosk.session.trust_env = False
        return kiosk


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A TEST-ONLY certificate for 127.0.0.1 (generated per run, never committed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "test-only-cert.pem", directory / "test-only-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(params=["http", "https"])
def running(
    request: pytest.FixtureRequest, tmp_path: Path, db_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Running]:  # fmt: skip
    assert CLI.exists(), f"{CLI} missing: the package is not installed in this venv"
    home = tmp_path / "district"
    monkeypatch.setenv("CEDOKA_DISTRICT_DB", db_url or "")  # every command's store
    env = {**os.environ, "CEDOKA_DISTRICT_HOME": ""}
    init = subprocess.run(
        [str(CLI), "--home", str(home), "init", "--name", "Disdukcapil Kolaka Utara",
         "--code", "74.08"],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    assert "root key fingerprint" in init.stdout
    assert (home / "district.sqlite").exists() == (db_url is None)
    port = _free_port()
    tls: list[str] = []
    verify: str | bool = True
    scheme = str(request.param)
    if scheme == "https":
        cert, key = _self_signed(tmp_path)
        tls, verify = ["--tls-cert", str(cert), "--tls-key", str(key)], str(cert)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(CLI), "--home", str(home), "serve", "--listen", f"127.0.0.1:{port}", *tls],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    base_url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base_url + "/v1/nothing", timeout=1, verify=verify)
            break
        except requests.ConnectionError:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.05)
    try:
        yield Running(home, base_url, verify)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            log.close()
        # uvicorn re-raises the SIGTERM after a clean shutdown (what systemd expects)
        assert server.returncode in {0, -signal.SIGTERM}, server.returncode
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()


def test_the_whole_command_line_against_a_running_server(running: Running, tmp_path: Path) -> None:
    running.cli("office", "add", OFFICE, "--name", "Desa Pitulua")
    code = running.cli("enroll-code", OFFICE, "--valid", "1h").stdout.strip()
    kiosk = running.kiosk()
    assert kiosk.enroll(code).status_code == 200
    assert kiosk.enroll(code).status_code == 403  # single use

    # a waiting long-poll is answered by a push made with the command line
    first = kiosk.feed(wait=0)
    kiosk.take_head(first)
    assert kiosk.trust is not None and kiosk.trust.head is not None
    after = kiosk.trust.head.seq
    answers: list[requests.Response] = []
    poll = threading.Thread(target=lambda: answers.append(kiosk.feed(after=after, wait=30)))
    poll.start()
    time.sleep(0.3)
    (tmp_path / "kk.pdf").write_bytes(make_pdf(2))
    (tmp_path / "akta.pdf").write_bytes(make_pdf())
    pushed = json.loads(
        running.cli(
            "push", "--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={tmp_path}/kk.pdf",
            "--doc", f"AKTA_LAHIR={tmp_path}/akta.pdf", "--json",
        ).stdout
    )  # fmt: skip
    assert {"job_id", "claim_code"} <= set(pushed) and pushed["claim_code"]
    poll.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 200
    kiosk.take_head(answer)
    [token] = parse_feed(answer.content).jobs
    assert kiosk.trust is not None
    job = verify_manifest(
        token, trust=kiosk.trust, local_now_s=int(time.time()), is_known=lambda _: False,
        seal_keys=kiosk.seal_keys,
    )  # fmt: skip
    assert job.manifest.job_id == pushed["job_id"]
    for doc in job.manifest.documents:
        blob = kiosk.call("GET", f"/v1/blobs/{job.manifest.job_id}/{doc.doc_id}")
        assert blob.status_code == 200
        assert verify_document(job, doc.doc_id, blob.content, seal_keys=kiosk.seal_keys)

    _report_and_show(running, kiosk, pushed["job_id"], after)
    _cancel_rotate_revoke(running, kiosk, tmp_path, after)


def _report_and_show(running: Running, kiosk: Kiosk, job_id: str, after: int) -> None:
    """Reports: the job's state and the kiosk's printers are what jobs / devices show."""
    report = JobReport(
        event_id="evt_01JD0000000000000000000001", device_id=kiosk.device_id,
        district_code="74.08", job_id=job_id, event=JobEvent.PRINT_DONE,
        state=JobState.PRINTED, at_s=int(time.time()),
    )  # fmt: skip
    body = event_batch_body([sign_report(report, kiosk.auth)])
    for _ in range(2):  # a retried report changes nothing
        assert kiosk.call("POST", "/v1/events", body).status_code == 200
    beat = Heartbeat(
        agent="cedoka/0.1.0", feed_seq=after, journal_head=None, keyring_version=1,
        last_errors=(), printers=(PrinterHealth(
            role="a4", backend="virtual", state="idle", accepting=True, reasons=(),
            markers=(), media=None,
        ),), sent_at_s=int(time.time()), spool={}, time_floor_s=int(time.time()),
    )  # fmt: skip
    assert kiosk.call("POST", "/v1/heartbeat", heartbeat_body(beat)).status_code == 200
    [row] = json.loads(running.cli("jobs", "--office", OFFICE, "--json").stdout)
    assert row["job_id"] == job_id and row["state"] == "printed"
    [device] = json.loads(running.cli("devices", "--json").stdout)
    assert device["device_id"] == kiosk.device_id and device["agent"] == "cedoka/0.1.0"
    assert device["printers"][0]["state"] == "idle"
    assert RESIDENT not in running.cli("jobs").stdout


def _cancel_rotate_revoke(running: Running, kiosk: Kiosk, tmp_path: Path, after: int) -> None:
    """Cancellation reaches the kiosk through the head, rotation through the keyring; a
    revoked device is refused from its next request on."""
    second = json.loads(
        running.cli(
            "push", "--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={tmp_path}/kk.pdf",
            "--release", "staff", "--json",
        ).stdout
    )  # fmt: skip
    assert second["claim_code"] is None
    running.cli("cancel", second["job_id"], "--reason", "duplicate")
    new_kid = running.cli("rotate-key").stdout.strip()
    answer = kiosk.feed(after=after + 1, kr=1, wait=0)
    feed = parse_feed(answer.content)
    assert kiosk.trust is not None and feed.keyring is not None
    keyring = verify_keyring(
        feed.keyring, district_code="74.08", root_key=kiosk.trust.root_key,
        current=kiosk.trust.keyring,
    )  # fmt: skip
    assert keyring.version == 2 and new_kid in {key.kid for key in keyring.keys}
    kiosk.trust = replace(kiosk.trust, keyring=keyring)
    kiosk.take_head(answer)
    assert kiosk.trust.head is not None and second["job_id"] in kiosk.trust.head.cancelled

    running.cli("revoke", kiosk.device_id)
    refused = kiosk.feed(after=after, wait=0)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "device_revoked"
    assert (
        running.cli(
            "cancel", "job_01JD0000000000000000000009", "--reason", "other", ok=False
        ).returncode
        != 0
    )


def test_console_script_is_on_the_path_of_the_venv() -> None:
    assert shutil.which("cedoka-district", path=str(CLI.parent)) == str(CLI)
