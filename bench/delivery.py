"""Delivery latency (issue 8, figure 1): push -> printed, one job at a time.

A district and an enrolled ``cedoka run`` run as real processes (:mod:`bench.stack`); this
process pushes one auto-release job of one realistic KK PDF (~190 KB, :func:`realistic_pdf`),
waits until it is printed and the district has heard so, then pushes the next: latency, not
throughput. Each job's timeline comes from the agent's log (``ts=``, ms):

    push ─(a)─> job_received ─(b)─> state=printing ─(c)─> document_printed
          woken          fetch, verify, store,      open, submit, printer done
                         release, dispatcher

Twice: through the virtual printer (a folder), and through a real private CUPS with an IPP
Everywhere printer (``ippeveprinter``; :mod:`tests.printers.cupslab`).

Baselines, measured in the same run and interleaved job by job with ours (so drift and
noise hit both alike):

- **the whole, and (c)**: printing the same file locally — ``lp -d QUEUE file.pdf`` to the
  same queue, to the job *completed* in CUPS (polled every 10 ms); for the virtual printer,
  the same bytes written durably to the same folder (the folder *is* that printer: nothing
  less can print there). ``overhead`` = ours - that, the whole price of the delivery.
- **(a)**: the district's own push call (seal, sign, commit): nothing can wake earlier.
- **(b)**: the raw primitives on the same sealed bytes — a loopback HTTP GET from a bare
  ``http.server``, a durable write, SHA-256, HPKE open, PDF parse.
- CUPS only, **at the printer**: push -> the printer starts the document (``print.sh`` ran,
  its file name is the time in ns) against lp -> the same.

One warm-up job per path is not counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pypdf import PdfReader

from bench._delivery_tools import (
    LogTail,
    durable_write_ms,
    missing,
    ms,
    pair,
    realistic_pdf,
)
from bench.byteserver import BytesServer
from bench.result import Figure, percentile
from bench.stack import Stack
from kiosk.seal import document_info, open_sealed, seal
from tests.printers.cupslab import CupsLab, cups_lab

JOBS, QUICK_JOBS = 200, 20
VIRTUAL = "delivery, virtual printer"
CUPS = "delivery, CUPS + ippeveprinter"
CUPS_TOOLS = ("cupsd", "ippeveprinter", "lp", "lpadmin", "lpstat", "dbus-daemon")
LP_POLL_S = 0.01
# What the CUPS adapter asks for in each status poll (printers/cups.py).
STATUS_ATTRS = ["job-id", "job-name", "job-state", "job-state-reasons", "job-printer-state-message"]
_REQUEST_ID = re.compile(r"request id is \S+-(\d+) ")


def run(quick: bool) -> list[Figure]:
    return measure(jobs=QUICK_JOBS if quick else JOBS)


def measure(*, jobs: int) -> list[Figure]:
    pdf = realistic_pdf()
    with tempfile.TemporaryDirectory(prefix="cedoka-bench-delivery-") as tmp:
        figures = _virtual(Path(tmp) / "virtual", pdf, jobs)
        absent = [tool for tool in CUPS_TOOLS if shutil.which(tool) is None]
        if importlib.util.find_spec("cups") is None:
            absent.append("pycups")
        if absent:
            figures.append(
                missing(CUPS, "push -> printed", f"needs {', '.join(absent)} (install.sh --test)")
            )
        else:
            figures += _cups(Path(tmp) / "cups", pdf, jobs)
    return figures


# --- one job through the agent ------------------------------------------------------------


@dataclass(frozen=True)
class Trip:
    """One job's timeline, in ms after the push began."""

    push: float  # the district's push call returned (sealed, signed, committed)
    woken: float  # the agent's first line about the job (job_received)
    released: float  # fetched, verified, stored, auto-released
    printing: float  # the dispatcher took it (state printing: the print round starts)
    submitted: float | None  # CUPS took the document (cups_submitted)
    printed: float  # the agent saw it done (document_printed)
    at_printer: float | None = None  # the printer started it (ippeveprinter's print.sh)

    @property
    def fetch(self) -> float:
        return self.printing - self.woken

    @property
    def submit(self) -> float:
        return self.printed - self.printing


def _agent_trip(
    stack: Stack, agent: LogTail, district: LogTail, pdf: bytes, lab: CupsLab | None = None
) -> Trip:
    started = time.time()
    job_id = stack.push([("KK", pdf)])
    pushed = time.time()
    marks = agent.wait_mark(job_id, "document_printed", timeout_s=120)
    # Quiet again before the next push: the district has the kiosk's report of this job (as
    # between jobs at a real office; otherwise the next job would meet this one's reporting).
    district.wait(
        f"the district hearing {job_id} printed",
        lambda: "report:printed" in district.marks.get(job_id, {}),
        timeout_s=60,
    )

    def at(at_s: float) -> float:
        return (at_s - started) * 1000

    submitted = marks.get("cups_submitted")
    ran = None if lab is None else _printer_started(lab, f"{job_id}.1.0")
    return Trip(
        push=at(pushed),
        woken=at(marks["job_received"]),
        released=at(marks["state:released"]),
        printing=at(marks["state:printing"]),
        printed=at(marks["document_printed"]),
        submitted=None if submitted is None else at(submitted),
        at_printer=None if ran is None else at(ran),
    )


# --- the floor of (b): the raw primitives on the same sealed bytes --------------------------


class FetchFloor:
    """A loopback HTTP GET of the sealed document from a bare ``http.server``, written
    durably, hashed (SHA-256), opened (HPKE, the same suite) and parsed (pypdf)."""

    def __init__(self, folder: Path, pdf: bytes) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = X25519PrivateKey.generate()
        self.info = document_info("dev_bench", "job_bench", "doc_bench")
        self.sealed = seal(pdf, self.key.public_key(), info=self.info)
        self.digest = hashlib.sha256(self.sealed).digest()
        self.server = BytesServer(self.sealed, path="/blob")
        self.url = self.server.url
        self.session = requests.Session()
        self.session.trust_env = False

    def once(self) -> float:
        started = time.perf_counter()
        got = self.session.get(self.url, timeout=30).content
        durable_write_ms(self.folder / "floor.sealed", got)
        if not hmac.compare_digest(hashlib.sha256(got).digest(), self.digest):
            raise RuntimeError("the floor's blob changed on the way")
        opened = open_sealed(got, self.key, info=self.info)
        if len(PdfReader(io.BytesIO(opened)).pages) != 1:
            raise RuntimeError("the floor's PDF does not parse")
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.session.close()
        self.server.close()


@contextlib.contextmanager
def _floor(folder: Path, pdf: bytes) -> Iterator[FetchFloor]:
    floor = FetchFloor(folder, pdf)
    try:
        yield floor
    finally:
        floor.close()


# --- the virtual printer -------------------------------------------------------------------


def _virtual(root: Path, pdf: bytes, jobs: int) -> list[Figure]:
    trips: list[Trip] = []
    writes: list[float] = []
    fetches: list[float] = []
    with Stack(root / "stack") as stack, _floor(root / "floor", pdf) as floor:
        agent = LogTail(stack.root / "logs" / "agent.log")
        district = LogTail(stack.root / "logs" / "district.log")
        _agent_trip(stack, agent, district, pdf)  # warm-up
        durable_write_ms(stack.printed / "floor-warmup.pdf", pdf)
        floor.once()
        for index in range(jobs):
            trips.append(_agent_trip(stack, agent, district, pdf))
            writes.append(durable_write_ms(stack.printed / f"floor-{index}.pdf", pdf))
            fetches.append(floor.once())
    return _figures(VIRTUAL, trips, local=writes, fetches=fetches, cups=False, size=len(pdf))


# --- CUPS ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _cups_server(socket_path: str) -> Iterator[None]:
    """Point this process and the agent it starts (through the environment) at the lab."""
    import cups

    before = os.environ.get("CUPS_SERVER")
    os.environ["CUPS_SERVER"] = socket_path
    cups.setServer(socket_path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUPS_SERVER", None)
        else:
            os.environ["CUPS_SERVER"] = before


@dataclass(frozen=True)
class LpTrip:
    completed: float  # ms from lp's start to the job completed in CUPS
    at_printer: float | None  # ms from lp's start to the printer starting the document


def _lp_trip(lab: CupsLab, conn: Any, path: Path, title: str) -> LpTrip:
    started = time.time()
    done = subprocess.run(
        ["lp", "-d", lab.queue, "-t", title, str(path)],
        env=lab.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    found = _REQUEST_ID.search(done.stdout)
    if found is None:
        raise RuntimeError(f"lp said {done.stdout!r}")
    cups_job = int(found[1])
    deadline = time.monotonic() + 60
    while True:
        state = int(
            conn.getJobAttributes(cups_job, requested_attributes=["job-state"])["job-state"]
        )
        if state == 9:
            break
        if state in {6, 7, 8} or time.monotonic() > deadline:
            raise RuntimeError(f"lp job {cups_job} ended in state {state}")
        time.sleep(LP_POLL_S)
    completed = (time.time() - started) * 1000
    ran = _printer_started(lab, title)
    return LpTrip(completed, None if ran is None else (ran - started) * 1000)


def _printer_started(lab: CupsLab, title: str) -> float | None:
    """When the lab printer started the document titled ``title`` (print.sh names its copy
    after ``date +%s%N`` and records IPP_JOB_NAME next to it); None if not found."""
    for env in sorted(lab.out.glob("*.env"), reverse=True):
        if f"IPP_JOB_NAME={title}\n" in env.read_text(errors="replace"):
            return int(env.stem) / 1e9
    return None


def _cups(root: Path, pdf: bytes, jobs: int) -> list[Figure]:
    import cups

    trips: list[Trip] = []
    lps: list[LpTrip] = []
    fetches: list[float] = []
    with cups_lab() as lab, _cups_server(lab.socket), _floor(root / "floor", pdf) as floor:
        document = lab.dir / "kk.pdf"  # the lab's directory is world-readable, as lp needs
        document.write_bytes(pdf)
        conn = cups.Connection()
        with Stack(root / "stack", printers=[f"a4=cups:{lab.queue}"]) as stack:
            agent = LogTail(stack.root / "logs" / "agent.log")
            district = LogTail(stack.root / "logs" / "district.log")
            _agent_trip(stack, agent, district, pdf, lab)  # warm-up
            _lp_trip(lab, conn, document, "bench-lp-warmup")
            floor.once()
            for index in range(jobs):
                trips.append(_agent_trip(stack, agent, district, pdf, lab))
                lps.append(_lp_trip(lab, conn, document, f"bench-lp-{index}"))
                fetches.append(floor.once())
                lab.clear_received()  # both looked up: keep the printer's folder small
            polling = _status_cost(conn)
    return _figures(
        CUPS,
        trips,
        local=[t.completed for t in lps],
        fetches=fetches,
        cups=True,
        size=len(pdf),
        lp_at_printer=[t.at_printer for t in lps],
        polling=polling,
    )


def _status_cost(conn: Any) -> str:
    """What one status poll of the agent costs with the history this run left in CUPS: the
    CUPS adapter finds a job by title among every job CUPS remembers (getJobs which=all),
    where the job id would be one getJobAttributes."""
    jobs: dict[int, Any] = conn.getJobs(
        which_jobs="all", my_jobs=False, requested_attributes=STATUS_ATTRS
    )
    newest = max(jobs)

    def p50(call: Any) -> float:
        took = []
        for _ in range(20):
            started = time.perf_counter()
            call()
            took.append((time.perf_counter() - started) * 1000)
        return percentile(took, 50)

    scan = p50(
        lambda: conn.getJobs(which_jobs="all", my_jobs=False, requested_attributes=STATUS_ATTRS)
    )
    one = p50(lambda: conn.getJobAttributes(newest, requested_attributes=["job-state"]))
    return (
        f"one status poll finds the job by title among all {len(jobs)} jobs CUPS remembers "
        f"(getJobs which=all) p50 {scan:.1f} ms; by the job id (getJobAttributes) "
        f"{one:.2f} ms"
    )


# --- the figures ----------------------------------------------------------------------------


def _figures(
    group: str,
    trips: list[Trip],
    *,
    local: list[float],
    fetches: list[float],
    cups: bool,
    size: int,
    lp_at_printer: list[float | None] | None = None,
    polling: str = "",
) -> list[Figure]:
    total = [t.printed for t in trips]
    if cups:
        local_name = "lp to completed"
        local_limit = (
            "the same PDF printed locally with lp to the same queue, to the job "
            "completed in CUPS (polled every 10 ms); CUPS's ipp backend polls the "
            "printer about once a second, so ~1 s of it is CUPS's own"
        )
    else:
        local_name = "fsync'd write"
        local_limit = (
            "the same bytes written durably (temp, fsync, rename, fsync the folder) "
            "to the same folder: the least the virtual printer can do; lp does not "
            "apply (no CUPS on this path)"
        )
    hops = (
        f"{len(trips)} jobs of one {size / 1000:.0f} KB PDF, one at a time; push call "
        f"{ms([t.push for t in trips])}; released -> printing (dispatcher wake-up"
        f"{', CUPS pre-flight' if cups else ''}) {ms([t.printing - t.released for t in trips])}"
        "; the sum of the stage floors (push call + raw fetch + local print) "
        + ms([t.push + f + w for t, f, w in zip(trips, fetches, local, strict=True)])
    )
    overhead = [percentile(total, p) - percentile(local, p) for p in (50, 99)]
    figures = pair(
        group, "push -> printed", total, local, base_name=local_name, limit=local_limit, note=hops
    )
    figures += [
        Figure(
            group,
            f"overhead (ours - {'lp' if cups else 'write'}), p{p}",
            value,
            "ms",
            local_name,
            percentile(local, p),
            "what the agent and the district add to printing the file locally",
            "ratio = overhead / baseline",
        )
        for p, value in zip((50, 99), overhead, strict=True)
    ]
    figures += pair(
        group,
        "(a) push -> kiosk woken",
        [t.woken for t in trips],
        [t.push for t in trips],
        base_name="the push call",
        limit=(
            "the district's push (seal, sign, commit) in the same process: no "
            "kiosk can hear of a job earlier; the rest is the long-poll wake-up "
            "(20 ms notifier poll), the feed answer and manifest verification"
        ),
    )
    figures += pair(
        group,
        "(b) fetch + verify + release",
        [t.fetch for t in trips],
        fetches,
        base_name="raw GET+fsync+SHA+HPKE+parse",
        limit=(
            "the raw primitives on the same sealed bytes: loopback GET from a "
            "bare http.server, durable write, SHA-256, HPKE open, pypdf parse"
        ),
        note="to state=printing: includes the spool transactions, the signed "
        "events and the dispatcher's wake-up",
    )
    submit_note = ""
    if cups:
        submitted = [t.submitted - t.printing for t in trips if t.submitted is not None]
        at_printer = [t.at_printer - t.printing for t in trips if t.at_printer is not None]
        submit_note = (
            f"printing -> cups_submitted {ms(submitted)}; -> at the printer "
            f"{ms(at_printer)}; the agent polls CUPS every 0.2 s; {polling}"
        )
    figures += pair(
        group,
        "(c) open + submit -> printer done",
        [t.submit for t in trips],
        local,
        base_name=local_name,
        limit=local_limit,
        note=submit_note,
    )
    if cups and lp_at_printer is not None:
        ours = [t.at_printer for t in trips if t.at_printer is not None]
        base = [v for v in lp_at_printer if v is not None]
        if ours and base:
            figures += pair(
                group,
                "push -> the printer starts it",
                ours,
                base,
                base_name="lp -> the printer starts it",
                limit=(
                    "the printer starting the document (ippeveprinter runs its "
                    "print command), from push vs from lp: the physical bound, "
                    "free of CUPS's ~1 s completion poll"
                ),
            )
    return figures
