"""A real kiosk for the agent's tests: the installed ``cedoka`` command line in subprocesses
over a temporary home, enrolled with a real district server on 127.0.0.1, printing to the
``virtual:`` printer (a folder)."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from district.keyring import DATABASE
from kiosk.model import ReleaseMode
from tests.district.conftest import Server
from tests.sim.district import FAKE_NIK, RESIDENT

OFFICE = "74.08.01.2002"
CEDOKA = Path(sys.executable).with_name("cedoka")


def wait_for(what: str, predicate: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def nik_pdf(pages: int = 1, marker: str = "", *, padding: int = 0) -> bytes:
    """A real A4 PDF whose content stream carries the fake NIK and name (to grep for)."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(595.28, 841.89)
        stream = DecodedStreamObject()
        text = f"BT /F1 12 Tf 72 760 Td (NIK {FAKE_NIK} {RESIDENT} {marker}) Tj ET"
        filler = f"\n% {secrets.token_hex(padding // 2)}" if padding else ""  # incompressible
        stream.set_data((text + filler).encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Kiosk:
    server: Server
    home: Path
    out: Path
    logs: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(
        self, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CEDOKA), "--home", str(self.home), *argv], capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, check=False,
        )  # fmt: skip

    def start(self, crash_at: str | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ}
        env.pop("CEDOKA_CRASH_AT", None)
        if crash_at:
            env["CEDOKA_CRASH_AT"] = crash_at
        log = self.home.parent / f"agent-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [str(CEDOKA), "--home", str(self.home), "run"], stdout=sink,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("cedoka run did not stop within 30 s of SIGTERM") from None
        return proc.returncode

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)

    def printed(self) -> list[Path]:
        return sorted(self.out.glob("*.pdf"))

    def spool(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "spool.db")

    def local_state(self, job_id: str) -> str | None:
        with self.spool() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else str(row[0])

    def outbox_pending(self) -> int:
        with self.spool() as conn:
            return int(conn.execute(
                "SELECT count(*) FROM outbox WHERE delivered_s IS NULL").fetchone()[0])  # fmt: skip


def enrol(server: Server, tmp: Path, *extra: str, url: str | None = None) -> Kiosk:
    out = tmp / "printed"
    out.mkdir()
    kiosk = Kiosk(server, tmp / "kiosk", out)
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    done = kiosk.cli("enroll", "--server", url or server.base_url, "--code", code,
                     "--printer", f"a4=virtual:{out}", *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return kiosk


def push(
    server: Server, release: ReleaseMode, docs: list[tuple[str, bytes]] | None = None
) -> tuple[str, str | None, list[bytes]]:
    documents = docs or [("KK", nik_pdf(2, "kk")), ("AKTA_LAHIR", nik_pdf(1, "akta"))]
    result = server.admin.push(
        office_code=OFFICE, resident=RESIDENT, documents=documents, release=release, copies=1,
        lifetime_s=72 * 3600,
    )  # fmt: skip
    return result.job_id, result.claim_code, [pdf for _, pdf in documents]


def district_state(server: Server, job_id: str) -> str | None:
    job = server.keys.store.job(job_id)
    return None if job is None else job.state


def district_events(server: Server, job_id: str) -> list[str]:
    with sqlite3.connect(server.home / DATABASE) as conn:
        rows = conn.execute(
            "SELECT event FROM events WHERE job_id = ? ORDER BY at_s, rowid", (job_id,)
        ).fetchall()
    return [str(r[0]) for r in rows]


def assert_no_personal_data(home: Path, logs: str) -> None:
    needles = [RESIDENT.encode(), FAKE_NIK.encode(), b"%PDF-"]
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {path}"
    for needle in (RESIDENT, FAKE_NIK, "NURHALIZA"):
        assert needle not in logs
