"""Several real ``cedoka-district serve`` processes on one PostgreSQL database (issue 18
items 2 and 5, ADR 0027), with a kiosk whose requests alternate between them:

- two processes on two ports (both with the same ``--public-url``, as behind a proxy): a
  push through one process's admin API wakes the kiosk held on the other, and a push by
  the command line wakes it too; a proof used at one is refused as replayed by the other;
  the enrolment rate limit counts the attempts made at both;
- ``serve --workers 2`` on one port: two children serve, a killed child is replaced, the
  same guarantees hold, SIGTERM ends them all;
- ``--workers 2`` on SQLite is refused with one line (exit status 2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.feed import parse_feed
from kiosk.strictjson import loads_object
from tests.district.conftest import Kiosk
from tests.district.test_end_to_end import _free_port
from tests.sim.district import make_pdf

CLI = Path(sys.executable).parent / "cedoka-district"
OFFICE = "74.08.01.2002"
PASSWORD = "kolaka-utara-2026"
ENROLL_ATTEMPTS_PER_MINUTE = 10  # district.service, per client address

pytestmark = pytest.mark.loopback


def _env() -> dict[str, str]:
    return {**os.environ, "CEDOKA_DISTRICT_HOME": "", "CEDOKA_DISTRICT_DB": "",
            "CEDOKA_DISTRICT_TOKEN": ""}  # fmt: skip


@dataclass
class District:
    home: Path
    db_url: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]]

    def cli(self, *argv: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(CLI), "--home", str(self.home), "--db", self.db_url, *argv], input=stdin,
            capture_output=True, text=True, timeout=60, env=_env(), check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def serve(self, port: int, *extra: str, public_port: int | None = None) -> str:
        """Start ``serve`` on ``port``; its base URL once it answers."""
        public = f"http://127.0.0.1:{public_port or port}"
        log = (self.tmp / f"serve-{port}.log").open("ab")
        proc = subprocess.Popen(
            [str(CLI), "--home", str(self.home), "--db", self.db_url, "serve", "--listen",
             f"127.0.0.1:{port}", "--public-url", public, *extra],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(),
        )  # fmt: skip
        log.close()
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, proc, self.tmp / f"serve-{port}.log")
        return base

    def log(self, port: int) -> str:
        return (self.tmp / f"serve-{port}.log").read_text(errors="replace")


def _wait_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # with --workers the port is bound before a child accepts: a timeout
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "serve did not come up"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def district(tmp_path: Path, pg_url: str) -> Iterator[District]:
    assert CLI.exists(), f"{CLI} missing: the package is not installed in this venv"
    made = District(tmp_path / "district", pg_url, tmp_path, [])
    made.cli("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    made.cli("office", "add", OFFICE, "--name", "Desa Pitulua")
    try:
        yield made
    finally:
        for proc in made.procs:
            _stop(proc)


def _send(kiosk: Kiosk, base: str, target: str, proof: str | None = None) -> requests.Response:
    """A kiosk request signed for its public URL, sent to ``base`` (one of the processes)."""
    authorization = proof or kiosk.proof("GET", target)
    return requests.get(base + target, headers={"Authorization": authorization}, timeout=60)


def _held(base: str) -> int:
    text = requests.get(base + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("cedoka_feed_held_polls "):
            return int(float(line.split()[1]))
    raise AssertionError("no cedoka_feed_held_polls in /metrics")


def _hold_then(kiosk: Kiosk, base: str, after: int, push: object) -> tuple[int, float]:
    """Hold a long-poll at ``base``, run ``push()`` once it is held there; the number of
    jobs the poll returned and the seconds from the push's end to the answer."""
    answers: list[tuple[requests.Response, float]] = []
    target = f"/v1/feed?after={after}&kr=1&wait=30"

    def poll() -> None:
        answer = _send(kiosk, base, target)
        answers.append((answer, time.monotonic()))

    thread = threading.Thread(target=poll)
    thread.start()
    deadline = time.monotonic() + 10
    while _held(base) == 0:
        assert time.monotonic() < deadline, "the poll was not held"
        time.sleep(0.02)
    assert callable(push)
    push()
    pushed = time.monotonic()
    thread.join(timeout=30)
    assert answers, "the held poll did not return"
    answer, at = answers[0]
    assert answer.status_code == 200, answer.text
    return len(parse_feed(answer.content).jobs), at - pushed


def _enrolled(district: District, public: str) -> Kiosk:
    """A kiosk enrolled at ``public``: its proofs name that URL, whichever process gets
    them."""
    kiosk = Kiosk(public)
    answer = kiosk.enroll(district.cli("enroll-code", OFFICE).strip())
    assert answer.status_code == 200, answer.text
    return kiosk


def _operator_token(district: District) -> str:
    district.cli("user", "add", "op", "--name", "Operator", "--role", "operator",
                 "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    return district.cli("token", "create", "--user", "op", "--label", "multiprocess test",
                        "--expires", "1d").strip()  # fmt: skip


def _code(answer: requests.Response) -> str:
    return str(loads_object(answer.content, max_bytes=4096)["error"]["code"])  # type: ignore[index]


def test_two_processes_on_one_database_share_wake_ups_replays_and_limits(
    district: District,
) -> None:
    port_a, port_b = _free_port(), _free_port()
    a = district.serve(port_a)
    b = district.serve(port_b, public_port=port_a)  # as behind one proxy: one public URL
    kiosk = _enrolled(district, a)
    token = _operator_token(district)
    pdf = district.tmp / "kk.pdf"
    pdf.write_bytes(make_pdf(1))

    def push_through(base: str) -> None:
        done = subprocess.run(
            [str(CLI), "--server", base, "--token", token, "push", "--office", OFFICE,
             "--resident", "Test Resident", "--doc", f"KK={pdf}", "--release", "auto"],
            capture_output=True, text=True, timeout=60, env=_env(), check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    first = _send(kiosk, b, "/v1/feed?after=0&kr=1&wait=0")  # the other process knows it
    assert first.status_code == 200 and parse_feed(first.content).jobs == ()

    # held at B, pushed through A's admin API
    jobs, latency_s = _hold_then(kiosk, b, 0, lambda: push_through(a))
    assert jobs == 1 and latency_s < 1.0, latency_s
    # held at A, pushed through B's admin API
    jobs, latency_s = _hold_then(kiosk, a, 1, lambda: push_through(b))
    assert jobs == 1 and latency_s < 1.0, latency_s
    # held at B, pushed by the command line (straight into the database)
    jobs, latency_s = _hold_then(kiosk, b, 2, lambda: district.cli(
        "push", "--office", OFFICE, "--resident", "Test Resident", "--doc", f"KK={pdf}",
        "--release", "auto"))  # fmt: skip
    assert jobs == 1 and latency_s < 1.0, latency_s
    # the poll is answered at the push's commit, before the command line has even exited
    print(f"held poll answered {latency_s * 1000:.0f} ms after the push command returned")

    # a proof used at one process is a replay at the other, both ways
    for used_at, replayed_at in ((a, b), (b, a)):
        target = "/v1/feed?after=3&kr=1&wait=0"
        proof = kiosk.proof("GET", target)
        assert _send(kiosk, used_at, target, proof).status_code == 200
        replayed = _send(kiosk, replayed_at, target, proof)
        assert replayed.status_code == 409 and _code(replayed) == "replayed"

    # the enrolment limit per client address counts the attempts at both processes
    forwarded = {"X-Forwarded-For": "192.0.2.7"}  # loopback is a trusted proxy by default
    for n in range(ENROLL_ATTEMPTS_PER_MINUTE):
        answer = requests.post((a, b)[n % 2] + "/v1/enroll", data=b"{}", headers=forwarded,
                               timeout=10)  # fmt: skip
        assert answer.status_code == 400, answer.text  # counted, then refused as malformed
    for base in (a, b):
        limited = requests.post(base + "/v1/enroll", data=b"{}", headers=forwarded, timeout=10)
        assert limited.status_code == 429 and _code(limited) == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 61


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(p) for p in listing.read().split()]


def _wait_children(pid: int, count: int, gone: int = 0) -> list[int]:
    """The server processes of ``pid`` once there are ``count`` of them, ``gone`` not."""
    deadline = time.monotonic() + 60
    while True:
        # spawn's resource tracker may be a child too: count the server processes only
        found = [p for p in _children(pid) if p != gone and _is_server(p)]
        if len(found) == count:
            return found
        assert time.monotonic() < deadline, f"children of {pid}: {_children(pid)}"
        time.sleep(0.1)


def _is_server(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"resource_tracker" not in cmdline.read() and not _zombie(pid)
    except FileNotFoundError:
        return False


def test_serve_workers_runs_supervised_processes_on_one_port(district: District) -> None:
    port = _free_port()
    base = district.serve(port, "--workers", "2")
    parent = district.procs[-1]
    workers = _wait_children(parent.pid, 2)
    kiosk = _enrolled(district, base)

    # every request works, whichever worker accepts it; a proof is used once across both
    for after in range(3):
        pushed = lambda: district.cli(  # noqa: E731
            "push", "--office", OFFICE, "--resident", "Test Resident", "--doc",
            f"KK={_pdf(district)}", "--release", "auto")  # fmt: skip
        jobs, latency_s = _hold_then_any(kiosk, base, after, pushed)
        assert jobs == 1 and latency_s < 1.0, latency_s
    target = "/v1/feed?after=3&kr=1&wait=0"
    proof = kiosk.proof("GET", target)
    statuses = sorted(_send(kiosk, base, target, proof).status_code for _ in range(6))
    assert statuses == [200, 409, 409, 409, 409, 409]

    # a crashed worker is replaced, and the port keeps answering meanwhile
    os.kill(workers[0], signal.SIGKILL)
    replaced = _wait_children(parent.pid, 2, gone=workers[0])
    assert workers[0] not in replaced and workers[1] in replaced
    assert _send(kiosk, base, "/v1/feed?after=3&kr=1&wait=0").status_code == 200
    assert "event=worker_ended" in district.log(port)

    # SIGTERM to the parent ends every worker, cleanly
    assert _stop(parent) == 0
    for pid in replaced:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/healthz", timeout=2)


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True


def _pdf(district: District) -> Path:
    pdf = district.tmp / "kk.pdf"
    if not pdf.exists():
        pdf.write_bytes(make_pdf(1))
    return pdf


def _hold_then_any(kiosk: Kiosk, base: str, after: int, push: object) -> tuple[int, float]:
    """As :func:`_hold_then`, where /metrics may be answered by either worker: wait a
    moment instead of asking whether the poll is held."""
    answers: list[tuple[requests.Response, float]] = []

    def poll() -> None:
        answer = _send(kiosk, base, f"/v1/feed?after={after}&kr=1&wait=30")
        answers.append((answer, time.monotonic()))

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    assert callable(push)
    push()
    pushed = time.monotonic()
    thread.join(timeout=30)
    assert answers, "the held poll did not return"
    answer, at = answers[0]
    assert answer.status_code == 200, answer.text
    return len(parse_feed(answer.content).jobs), at - pushed


def test_workers_above_one_are_refused_on_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "district"
    subprocess.run([str(CLI), "--home", str(home), "init", "--name", "D", "--code", "74.08"],
                   capture_output=True, timeout=60, env=_env(), check=True)  # fmt: skip
    done = subprocess.run(
        [str(CLI), "--home", str(home), "serve", "--listen", "127.0.0.1:8700", "--workers", "2"],
        capture_output=True, text=True, timeout=60, env=_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--workers above 1 needs" in done.stderr
    assert "Traceback" not in done.stderr
    bad = subprocess.run(
        [str(CLI), "--home", str(home), "serve", "--listen", "127.0.0.1:8700", "--workers", "0"],
        capture_output=True, text=True, timeout=60, env=_env(), check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "from 1 to 64" in bad.stderr
