"""Ingest throughput: how many 1 MB jobs per second ``cedoka run`` takes in — fetched over
loopback, hashed, opened, checked and spooled durably — against the raw primitives on the
same bytes in the same run.

N claim-release jobs (one 1 MB document each; held, never printed) are pushed while the agent
is not running; then ``cedoka run`` starts and the figure is the time from its
``event=agent_started`` to the last ``state=held`` in its log (both stamped by the agent, so
its own start-up and the push are not in it).

Baseline, per job on the same sealed bytes, summed: a plain ``requests`` GET of the sealed
file from ``python -m http.server`` on 127.0.0.1, SHA-256, HPKE open (``kiosk.seal``), write +
fsync to a file. Diagnostics, to say where the time goes: the district's own blob endpoint
fetched with a plain client (a proof, one GET), the agent's per-job download time (the
``ms=`` of ``event=blob_fetched``) and its work after the download (``blob_fetched`` ->
``held``: verify, open, PDF check, rename, one SQLite commit, a signed event; the next job's
download runs meanwhile, one job ahead).
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import io
import itertools
import os
import pstats
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent.app import Agent
from agent.keys import DeviceKeys
from bench.result import Figure, median
from bench.wire import WiredStack
from district.keyring import Keys
from district.sqlite_store import SqliteStore
from kiosk.b64 import b64u_encode
from kiosk.model import ReleaseMode
from kiosk.pdfcheck import inspect_pdf
from kiosk.proof import AUTH_SCHEME, RequestFacts, make_proof
from kiosk.seal import document_info, open_sealed
from ui.demo import answers, free_port, log_tail

GROUP = "ingest"
DOC_BYTES = 1_000_000
JOBS, QUICK_JOBS = 50, 8
HELD_TIMEOUT_S = 300.0
A4_PT = (595.28, 841.89)


def make_document(size: int, *, seed: int = 0) -> bytes:
    """A valid one-page A4 PDF of about ``size`` bytes: the page shows one uncompressed RGB
    image of random samples (incompressible, like a scan's JPEG)."""
    width = 1000
    height = max(1, (size - 700) // (3 * width))
    pixels = random.Random(seed).randbytes(width * height * 3)
    draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % A4_PT
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] " % A4_PT
        + b"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (width, height, len(pixels))
        + pixels + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream",
    ]  # fmt: skip
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref,
    )  # fmt: skip
    return bytes(out)


# --- the agent's log ------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    at_s: float  # Unix seconds, millisecond resolution
    fields: dict[str, str]


def log_lines(text: str) -> Iterator[LogLine]:
    """The stamped logfmt lines of an agent log (unquoted values suffice for ours)."""
    for line in text.splitlines():
        if not line.startswith("ts="):
            continue
        pairs = dict(p.partition("=")[::2] for p in line.split(" ") if "=" in p)
        stamp = datetime.fromisoformat(pairs["ts"].replace("Z", "+00:00"))
        yield LogLine(stamp.timestamp(), pairs)


def events(text: str, event: str, **match: str) -> list[LogLine]:
    return [
        line for line in log_lines(text)
        if line.fields.get("event") == event
        and all(line.fields.get(k) == v for k, v in match.items())
    ]  # fmt: skip


def wait_until(what: str, done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.02)


def held_count(stack: WiredStack) -> int:
    """How many ``state=held`` lines the agent has logged; raises if a part of the stack
    has stopped (rather than waiting for the timeout)."""
    for part in stack.demo.parts:
        if part.proc.poll() is not None:
            raise RuntimeError(f"the {part.name} stopped; the end of its log:\n"
                               + log_tail(part.log))  # fmt: skip
    return stack.agent_log().count("state=held")


# --- the raw primitives ---------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    job_id: str
    doc_id: str
    size: int
    sha256: bytes


@dataclass
class Raw:
    """Seconds per job for each primitive, in job order."""

    get_s: list[float] = field(default_factory=list)
    sha_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)
    write_s: list[float] = field(default_factory=list)
    pdf_s: list[float] = field(default_factory=list)  # not in the sum: the agent's PDF check
    district_get_s: list[float] = field(default_factory=list)  # not in the sum: diagnostic

    def job_s(self, index: int) -> float:
        return self.get_s[index] + self.sha_s[index] + self.open_s[index] + self.write_s[index]

    def total_s(self) -> float:
        return sum(self.job_s(i) for i in range(len(self.get_s)))


def pushed_blobs(stack: WiredStack, job_ids: list[str]) -> list[Blob]:
    store = Keys.open(stack.demo.district_home).store
    assert isinstance(store, SqliteStore)
    try:
        return [
            Blob(row.job_id, row.doc_id, row.size, row.sha256)
            for job_id in job_ids for row in store.blobs(job_id)
        ]  # fmt: skip
    finally:
        store.close()


def district_get(
    stack: WiredStack, keys: DeviceKeys, blob: Blob, session: requests.Session
) -> bytes:
    """One plain GET of a blob from the district, with a device proof (as the agent sends)."""
    target = f"/v1/blobs/{blob.job_id}/{blob.doc_id}"
    proof = make_proof(
        RequestFacts(stack.server_url, "GET", target, b""), device_id=stack.device_id,
        key=keys.auth, now_s=int(time.time()), jti=b64u_encode(secrets.token_bytes(16)),
    ).decode("ascii")  # fmt: skip
    answer = session.get(stack.server_url + target, timeout=30,
                         headers={"Authorization": f"{AUTH_SCHEME} {proof}"})  # fmt: skip
    answer.raise_for_status()
    return answer.content


def raw_primitives(stack: WiredStack, blobs: list[Blob], work: Path) -> Raw:
    """Time the primitives on the sealed bytes of ``blobs`` (fetched first from the district,
    which also times its blob endpoint)."""
    keys = DeviceKeys.load(stack.demo.kiosk_home)
    serve, out = work / "serve", work / "out"
    serve.mkdir(parents=True)
    out.mkdir()
    raw = Raw()
    with requests.Session() as session:
        session.trust_env = False
        for blob in blobs:
            started = time.perf_counter()
            sealed = district_get(stack, keys, blob, session)
            raw.district_get_s.append(time.perf_counter() - started)
            if len(sealed) != blob.size:
                raise RuntimeError(f"district sent {len(sealed)} bytes of {blob.size}")
            (serve / blob.doc_id).write_bytes(sealed)
    with static_server(serve) as base, requests.Session() as session:
        session.trust_env = False
        for blob in blobs:
            info = document_info(stack.device_id, blob.job_id, blob.doc_id)
            one_job(raw, session, base + blob.doc_id, blob, seal=keys.seal, info=info,
                    out=out / blob.doc_id)  # fmt: skip
    return raw


def one_job(
    raw: Raw, session: requests.Session, url: str, blob: Blob, *, seal: X25519PrivateKey,
    info: bytes, out: Path,
) -> None:  # fmt: skip
    """The raw primitives for one job, each timed into ``raw``."""
    started = time.perf_counter()
    answer = session.get(url, timeout=30)
    answer.raise_for_status()
    sealed = answer.content
    fetched = time.perf_counter()
    if hashlib.sha256(sealed).digest() != blob.sha256:
        raise RuntimeError("the sealed bytes do not match their hash")
    hashed = time.perf_counter()
    pdf = open_sealed(sealed, seal, info=info)
    opened = time.perf_counter()
    with out.open("wb") as file:
        file.write(sealed)
        file.flush()
        os.fsync(file.fileno())
    written = time.perf_counter()
    inspect_pdf(pdf)
    raw.pdf_s.append(time.perf_counter() - written)
    raw.get_s.append(fetched - started)
    raw.sha_s.append(hashed - fetched)
    raw.open_s.append(opened - hashed)
    raw.write_s.append(written - opened)
    out.unlink()


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """``python -m http.server`` on 127.0.0.1 serving ``directory``; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
         str(directory), str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_until("python -m http.server", lambda: answers(base), 30)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the benchmark --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingest:
    """What the agent's log says about one ingest of ``jobs`` jobs."""

    jobs: int
    total_s: float  # agent_started -> last held
    manifests_s: float  # agent_started -> last job_received (feed, manifests, tombstones)
    download_ms: list[float]  # per blob, the agent's own ms= (proof, GET, write, fsync)
    after_ms: list[float]  # per job, blob_fetched -> held
    between_ms: list[float]  # held -> the next download's start (next job's reopen, threads)


def read_ingest(text: str, jobs: int) -> Ingest:
    started = events(text, "agent_started")[-1].at_s
    received = events(text, "job_received")
    held = {line.fields["job"]: line.at_s for line in events(text, "job_state", state="held")}
    fetched = events(text, "blob_fetched")
    if len(held) < jobs or len(fetched) < jobs:
        raise RuntimeError(f"{len(held)} of {jobs} jobs held in the agent's log")
    return Ingest(
        jobs=jobs, total_s=max(held.values()) - started,
        manifests_s=max(line.at_s for line in received) - started,
        download_ms=[float(line.fields["ms"]) for line in fetched],
        after_ms=[(held[line.fields["job"]] - line.at_s) * 1000 for line in fetched],
        between_ms=[
            (line.at_s - float(line.fields["ms"]) / 1000 - held[previous.fields["job"]]) * 1000
            for previous, line in itertools.pairwise(fetched)
        ],
    )  # fmt: skip


def measure(jobs: int, root: Path) -> tuple[Ingest, Raw, int]:
    """Push ``jobs`` jobs, time the raw primitives on their bytes, then the agent."""
    pdf = make_document(DOC_BYTES)
    with WiredStack(root / "stack", agent=False) as stack:
        job_ids = [
            stack.push([("KK", pdf)], release=ReleaseMode.CLAIM) for _ in range(jobs)
        ]  # fmt: skip
        blobs = pushed_blobs(stack, job_ids)
        raw = raw_primitives(stack, blobs, root / "raw")
        stack.start_agent()
        wait_until(
            f"{jobs} jobs held", lambda: held_count(stack) >= jobs,
            HELD_TIMEOUT_S,
        )  # fmt: skip
        time.sleep(0.2)  # the last line flushed
        return read_ingest(stack.agent_log(), jobs), raw, sum(b.size for b in blobs)


def run(quick: bool) -> list[Figure]:
    jobs = QUICK_JOBS if quick else JOBS
    with tempfile.TemporaryDirectory(prefix="cedoka-bench-ingest-") as tmp:
        got, raw, sealed_bytes = measure(jobs, Path(tmp))
    ms = 1000.0
    raw_s = raw.total_s()
    per_job = [raw.job_s(i) * ms for i in range(jobs)]
    after_raw = [(raw.sha_s[i] + raw.open_s[i] + raw.write_s[i]) * ms for i in range(jobs)]
    split = (
        f"raw per job (median ms): GET {median(raw.get_s) * ms:.1f}, SHA-256 "
        f"{median(raw.sha_s) * ms:.1f}, HPKE open {median(raw.open_s) * ms:.1f}, write+fsync "
        f"{median(raw.write_s) * ms:.1f}; PDF check (agent only) {median(raw.pdf_s) * ms:.1f}"
    )
    agent_split = (
        f"agent: {got.total_s * ms:.0f} ms for {jobs} jobs = feed+manifests "
        f"{got.manifests_s * ms / jobs:.1f} ms/job, download {median(got.download_ms):.1f} "
        f"ms/job (median), after download {median(got.after_ms):.1f} ms/job (median), between "
        f"jobs {median(got.between_ms):.1f} ms (median)"
    )
    mb = sealed_bytes / 1e6
    return [
        Figure(
            GROUP, "1 MB jobs ingested (held)", jobs / got.total_s, "jobs/s",
            "raw GET+SHA-256+open+fsync", jobs / raw_s,
            limit="the next job is downloaded while this one is verified and committed, so "
            "the district's blob endpoint (below) sets the pace; the raw primitives bound it",
            note=f"{jobs} jobs; {agent_split}; {split}",
        ),
        Figure(
            GROUP, "ingest throughput (sealed bytes)", mb / got.total_s, "MB/s",
            "raw primitives", mb / raw_s,
            limit="as jobs/s; loopback memory copies and the disk's fsync are the floor",
            note=f"{mb:.1f} MB sealed in {jobs} documents",
        ),
        Figure(
            GROUP, "1 MB blob download in the agent (median)", median(got.download_ms), "ms",
            "plain GET, http.server", median(raw.get_s) * ms,
            limit="the district's blob endpoint (below) + the agent's capped 64 KiB reads, "
            "part-file writes and one fsync",
            note="the agent's own ms= of event=blob_fetched (proof, GET, write, fsync)",
        ),
        Figure(
            GROUP, "1 MB district blob GET, plain client (median)",
            median(raw.district_get_s) * ms, "ms", "plain GET, http.server",
            median(raw.get_s) * ms,
            limit="the district server: proof check, then a StreamingResponse of 256 KiB reads "
            "from one SQLite incremental blob handle, one thread-pool hop per chunk",
            note="requests.get with a device proof, before the agent started",
        ),
        Figure(
            GROUP, "after the download: verify, open, spool (median)", median(got.after_ms),
            "ms", "raw SHA-256+open+fsync", median(after_raw),
            limit="re-read of the part file, SHA-256, HPKE open, PDF parse, rename + dir "
            "fsync, one SQLite commit (synchronous=FULL) and a signed event; with the next "
            "job's download running meanwhile",
            note=f"raw per job total (median) {median(per_job):.1f} ms",
        ),
    ]  # fmt: skip


def profile(jobs: int, *, top: int = 30) -> str:
    """cProfile of the agent's own sync code (``Syncer.round``, in this process, no other
    thread) over ``jobs`` pushed 1 MB jobs: the functions by internal time."""
    pdf = make_document(DOC_BYTES)
    profiler = cProfile.Profile()
    with (
        tempfile.TemporaryDirectory(prefix="cedoka-bench-ingest-") as tmp,
        WiredStack(Path(tmp) / "stack", agent=False) as stack,
    ):
        for _ in range(jobs):
            stack.push([("KK", pdf)], release=ReleaseMode.CLAIM)
        agent = Agent(stack.demo.kiosk_home)
        try:
            started = time.perf_counter()
            profiler.runcall(agent.syncer.round, 1)
            took = time.perf_counter() - started
        finally:
            agent.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return (
        f"{jobs} jobs in one sync round: {took:.2f} s, {jobs / took:.1f} jobs/s\n{out.getvalue()}"
    )


if __name__ == "__main__":  # python -m bench.ingest [JOBS]: where the agent's time goes
    print(profile(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
