"""A used request proof stays refused when ``cedoka-district serve`` restarts (issue 14,
item 11): the real process, real HTTP, the same home and port, stopped cleanly (SIGTERM:
the replay cache is handed over, and fresh proofs pass at once) or killed (SIGKILL: proofs
the lost cache could have held are refused)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from district.keyring import DATABASE
from kiosk.strictjson import loads_object
from tests.district.conftest import Kiosk

CLI = Path(sys.executable).parent / "cedoka-district"
OFFICE = "74.08.01.2002"
FEED = "/v1/feed?after=0&kr=1&wait=0"

pytestmark = pytest.mark.loopback
STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


class Served:
    """``cedoka-district serve`` on one home and port, started again at will."""

    def __init__(self, home: Path, log: Path, db_url: str | None = None) -> None:
        self.home, self.log = home, log
        self.db = ["--db", db_url] if db_url is not None else []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *argv: str) -> str:
        done = subprocess.run(
            [str(CLI), "--home", str(self.home), *self.db, *argv], capture_output=True, text=True,
            timeout=60, check=True, env={**os.environ, "CEDOKA_DISTRICT_HOME": ""},
        )  # fmt: skip
        return done.stdout

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(CLI), "--home", str(self.home), *self.db, "serve", "--listen",
                 f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.base_url + "/v1/nothing", timeout=1)
                return
            except requests.ConnectionError:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def served(tmp_path: Path, db_url: str | None) -> Iterator[Served]:
    assert CLI.exists(), f"{CLI} missing: the package is not installed in this venv"
    served = Served(tmp_path / "district", tmp_path / "serve.log", db_url)
    served.cli("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    served.cli("office", "add", OFFICE, "--name", "Desa Pitulua")
    served.start()
    try:
        yield served
    finally:
        if served.proc is not None:
            served.stop()


def _get(served: Served, authorization: str) -> requests.Response:
    return requests.get(served.base_url + FEED, headers={"Authorization": authorization},
                        timeout=10)  # fmt: skip


def _code(answer: requests.Response) -> str:
    return str(loads_object(answer.content, max_bytes=4096)["error"]["code"])  # type: ignore[index]


def _used_proof(served: Served) -> tuple[Kiosk, str]:
    kiosk = Kiosk(served.base_url)
    assert kiosk.enroll(served.cli("enroll-code", OFFICE).strip()).status_code == 200
    used = kiosk.proof("GET", FEED)
    assert _get(served, used).status_code == 200
    assert _get(served, used).status_code == 409
    return kiosk, used


def test_a_used_proof_is_refused_after_a_clean_restart(served: Served) -> None:
    kiosk, used = _used_proof(served)
    served.stop(signal.SIGTERM)
    served.start()
    answer = _get(served, used)
    assert answer.status_code == 409 and _code(answer) == "replayed"
    assert _get(served, kiosk.proof("GET", FEED)).status_code == 200  # no outage


def test_a_used_proof_is_refused_after_a_crash(served: Served) -> None:
    _, used = _used_proof(served)
    served.stop(signal.SIGKILL)
    served.start()
    answer = _get(served, used)
    assert answer.status_code == 409 and _code(answer) == "replayed"


def test_a_clean_stop_leaves_no_wal_or_shm_file(served: Served) -> None:
    """A clean stop (SIGTERM) checkpoints the WAL into the database and closes every
    connection, so only the database file stays; a kiosk's requests wrote to it first."""
    if served.db:
        pytest.skip("SQLite's own files: a PostgreSQL district has none in its home")
    kiosk, _ = _used_proof(served)  # enrolment and proofs: writes from the server's threads
    assert _get(served, kiosk.proof("GET", FEED)).status_code == 200
    database = served.home / DATABASE
    sidecars = [Path(f"{database}-wal"), Path(f"{database}-shm")]
    assert all(p.exists() for p in sidecars)  # while it runs: WAL mode
    served.stop(signal.SIGTERM)
    assert [p.name for p in sidecars if p.exists()] == []
    served.cli("jobs")  # the database is whole: the command line reads it
    assert [p.name for p in sidecars if p.exists()] == []
