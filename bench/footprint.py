"""Footprint of ``cedoka run``: memory, CPU and bytes on the wire, idle and during a burst.

The agent is enrolled through a counting forwarder (:class:`bench.wire.Forwarder`), so every
byte it exchanges with the district passes the counters. Then:

* **idle** for a minute (quick: 10 s) after the first long-poll is out: RSS and PSS from
  ``/proc/PID/smaps_rollup``, CPU % from ``utime + stime`` of ``/proc/PID/stat`` over the
  window, payload bytes both ways per idle minute;
* **the screen opened**: one request to the local API (which builds FastAPI and its routes at
  the first request: a kiosk whose screen is open pays for it, a headless one never), then
  the RSS again after ``SETTLE_S``;
* **a burst** of 100 jobs (quick: 10) of ~100 KB each pushed at once (``release=staff``, so
  the pusher does no Argon2id and the jobs arrive together; held, never printed): peak RSS
  (the kernel's high-water mark, reset before the burst, and a 10 ms sampler), CPU seconds
  until every job is held and its events are delivered, payload bytes both ways.

Baselines, measured in the same run: memory, a bare Python that imports the agent's
top-level libraries and sleeps (the runtime's floor, measured the same way at the same
time); CPU, the district server over the same window (the other end of the same long-poll,
heartbeats and downloads); idle wire bytes, the protocol's minimum for a minute (one feed
request and answer per ``long_poll_wait_s``, one heartbeat per ``heartbeat_interval_s``, each
with only the request line, Host, Authorization, Content-Type/-Length and the body);
burst wire bytes, the sealed documents' total size.

The quick run shortens the agent's periods (``long_poll_wait_s`` 5 s, ``heartbeat_interval_s``
10 s) so that its 10 s window holds traffic; the full run keeps the defaults (55 s, 60 s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.home import KIOSK_URL_NAME
from agent.settings import load_config, save_config
from bench.ingest import held_count, make_document, pushed_blobs, wait_until
from bench.result import Figure
from bench.wire import Forwarder, Message, WiredStack
from kiosk.config import AgentConfig
from kiosk.model import ReleaseMode

GROUP = "footprint"
IDLE_S, QUICK_IDLE_S = 60.0, 10.0
BURST, QUICK_BURST = 100, 10
DOC_BYTES = 100_000
QUICK_WAIT_S, QUICK_HEARTBEAT_S = 5, 10  # the quick run's periods
SETTLE_S = 2.0
QUIET_S = 1.5  # the burst is over when nothing has crossed the wire for this long
BURST_TIMEOUT_S = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
# The runtime's floor: the agent's top-level libraries, imported, then nothing.
FLOOR_CODE = """
import sqlite3, requests, joserfc.jws, pypdf, fastapi, uvicorn, pydantic
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.kdf import argon2
import time
print("ready", flush=True)
time.sleep(3600)
"""


# --- /proc ----------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in bytes, from smaps_rollup."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Rss", "Pss"):
            found[key] = int(value.split()[0]) * 1024
    return found["Rss"], found["Pss"]


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """The peak RSS of ``pid`` from now on: the kernel's VmHWM after resetting it (write 5
    to clear_refs) and a 10 ms sampler, whichever is higher."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = status_kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._hwm_reset = False
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self._hwm_reset = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(OSError, ValueError):
                self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))

    def stop(self) -> int:
        """The peak in bytes."""
        self._stop.set()
        self._thread.join()
        if self._hwm_reset:
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmHWM"))
        return self.peak_kib * 1024


@contextlib.contextmanager
def floor_process() -> Iterator[int]:
    """A bare Python with the agent's libraries imported, sleeping; yields its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FLOOR_CODE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the floor process did not start")
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# --- the wire -------------------------------------------------------------------------------


def essential(messages: list[Message], endpoint: str, *, up: bool) -> float:
    """The median essential size of the idle messages of one endpoint and direction."""
    sizes = [
        m.essential_bytes for m in messages
        if m.endpoint == endpoint and m.up == up and not m.has_jobs
    ]  # fmt: skip
    if not sizes:
        raise RuntimeError(f"no {endpoint} {'request' if up else 'answer'} seen yet")
    return statistics.median(sizes)


def protocol_minimum_per_minute(messages: list[Message], config: AgentConfig) -> float:
    """One feed exchange per long-poll period and one heartbeat exchange per heartbeat
    period, each message with only the headers the protocol needs."""
    feed = essential(messages, "feed", up=True) + essential(messages, "feed", up=False)
    beat = essential(messages, "heartbeat", up=True) + essential(messages, "heartbeat", up=False)
    return 60 / config.long_poll_wait_s * feed + 60 / config.heartbeat_interval_s * beat


def counts(messages: list[Message]) -> str:
    """``feed 1/1 heartbeat 1/1``: requests/answers per endpoint."""
    seen: dict[str, list[int]] = {}
    for m in messages:
        seen.setdefault(m.endpoint, [0, 0])[0 if m.up else 1] += 1
    return ", ".join(f"{name} {up}/{down}" for name, (up, down) in sorted(seen.items())) or "-"


def wait_quiet(forwarder: Forwarder, quiet_s: float, timeout_s: float) -> None:
    """Until no byte has crossed the forwarder for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last, since = forwarder.counters()[:2], time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the wire was not quiet within {timeout_s:g} s")
        time.sleep(0.05)
        now = forwarder.counters()[:2]
        if now != last:
            last, since = now, time.monotonic()


# --- the benchmark --------------------------------------------------------------------------


@dataclass(frozen=True)
class Idle:
    window_s: float
    agent_cpu_s: float
    district_cpu_s: float
    floor_cpu_s: float
    agent_mem: tuple[int, int]
    floor_mem: tuple[int, int]
    wire_bytes: int
    up_bytes: int
    minimum_per_minute: float
    seen: str
    connections: int
    screen_rss: int = 0  # after one request to the local API (the screen opened)


@dataclass(frozen=True)
class Burst:
    jobs: int
    took_s: float
    agent_cpu_s: float
    district_cpu_s: float
    peak_rss: int
    floor_mem: tuple[int, int]
    agent_mem: tuple[int, int]
    wire_bytes: int
    up_bytes: int
    sealed_bytes: int
    seen: str


def measure_idle(stack: WiredStack, forwarder: Forwarder, floor: int, window_s: float) -> Idle:
    agent, district = stack.pid("agent"), stack.pid("district")
    config = load_config(stack.demo.kiosk_home)

    def long_poll_out() -> bool:  # a heartbeat answered, then a feed request after an answer
        seen = forwarder.messages_between(0, time.monotonic())
        feeds = [m for m in seen if m.endpoint == "feed"]
        answered = [i for i, m in enumerate(feeds) if not m.up]
        beats = any(m.endpoint == "heartbeat" and not m.up for m in seen)
        return beats and bool(answered) and any(m.up for m in feeds[answered[0] + 1 :])

    wait_until("the first long-poll", long_poll_out, 60)
    time.sleep(SETTLE_S)
    up0, down0, conns0 = forwarder.counters()
    cpu0 = (cpu_s(agent), cpu_s(district), cpu_s(floor))
    started = time.monotonic()
    time.sleep(window_s)
    ended = time.monotonic()
    up1, down1, conns1 = forwarder.counters()
    cpu1 = (cpu_s(agent), cpu_s(district), cpu_s(floor))
    everything = forwarder.messages_between(0, ended)
    return Idle(
        window_s=ended - started, agent_cpu_s=cpu1[0] - cpu0[0],
        district_cpu_s=cpu1[1] - cpu0[1], floor_cpu_s=cpu1[2] - cpu0[2],
        agent_mem=memory(agent), floor_mem=memory(floor),
        wire_bytes=(up1 - up0) + (down1 - down0), up_bytes=up1 - up0,
        minimum_per_minute=protocol_minimum_per_minute(everything, config),
        seen=counts(forwarder.messages_between(started, ended)), connections=conns1 - conns0,
    )  # fmt: skip


def measure_burst(stack: WiredStack, forwarder: Forwarder, floor: int, jobs: int) -> Burst:
    agent, district = stack.pid("agent"), stack.pid("district")
    pdf = make_document(DOC_BYTES, seed=1)
    held_before = held_count(stack)
    peak = PeakRss(agent)
    try:
        up0, down0, _ = forwarder.counters()
        cpu0 = (cpu_s(agent), cpu_s(district))
        started = time.monotonic()
        job_ids = [stack.push([("KK", pdf)], release=ReleaseMode.STAFF) for _ in range(jobs)]
        wait_until(
            f"{jobs} jobs held", lambda: held_count(stack) >= held_before + jobs,
            BURST_TIMEOUT_S,
        )  # fmt: skip
        wait_quiet(forwarder, QUIET_S, BURST_TIMEOUT_S)
        cpu1 = (cpu_s(agent), cpu_s(district))
    finally:
        peak_rss = peak.stop()
    up1, down1, _ = forwarder.counters()
    last = max(m.at for m in forwarder.messages_between(started, time.monotonic()))
    return Burst(
        jobs=jobs, took_s=last - started, agent_cpu_s=cpu1[0] - cpu0[0],
        district_cpu_s=cpu1[1] - cpu0[1], peak_rss=peak_rss, floor_mem=memory(floor),
        agent_mem=memory(agent), wire_bytes=(up1 - up0) + (down1 - down0), up_bytes=up1 - up0,
        sealed_bytes=sum(b.size for b in pushed_blobs(stack, job_ids)),
        seen=counts(forwarder.messages_between(started, time.monotonic())),
    )  # fmt: skip


def shorten_periods(home: Path) -> None:
    config = dataclasses.replace(
        load_config(home), long_poll_wait_s=QUICK_WAIT_S, heartbeat_interval_s=QUICK_HEARTBEAT_S
    )
    save_config(home, config)


def measure(root: Path, *, quick: bool) -> tuple[Idle, Burst, AgentConfig]:
    with WiredStack(root / "stack", forward=True, agent=False) as stack:
        assert stack.forwarder is not None
        if quick:
            shorten_periods(stack.demo.kiosk_home)
        config = load_config(stack.demo.kiosk_home)
        stack.start_agent()
        with floor_process() as floor:
            idle = measure_idle(stack, stack.forwarder, floor, QUICK_IDLE_S if quick else IDLE_S)
            idle = dataclasses.replace(idle, screen_rss=screen_opened(stack))
            burst = measure_burst(stack, stack.forwarder, floor, QUICK_BURST if quick else BURST)
    return idle, burst, config


def screen_opened(stack: WiredStack) -> int:
    """The agent's RSS after one request to its local API, as the screen's first."""
    url, _, fragment = (stack.demo.kiosk_home / KIOSK_URL_NAME).read_text().partition("#k=")
    request = urllib.request.Request(url.rstrip("/") + "/api/state",
                                     headers={"X-Cedoka-Secret": fragment.strip()})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
    time.sleep(SETTLE_S)
    return memory(stack.pid("agent"))[0]


def run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="cedoka-bench-footprint-") as tmp:
        idle, burst, config = measure(Path(tmp), quick=quick)
    periods = f"long-poll {config.long_poll_wait_s} s, heartbeat {config.heartbeat_interval_s} s"
    window = f"{idle.window_s:.0f} s idle window"
    per_minute = idle.wire_bytes * 60 / idle.window_s
    return [
        Figure(
            GROUP, "idle RSS", idle.agent_mem[0] / MIB, "MiB", "bare Python + the libraries",
            idle.floor_mem[0] / MIB,
            limit="the interpreter, requests, cryptography and uvicorn; pypdf and FastAPI are "
            "imported when first needed (a document, the screen), the floor imports them all; "
            "above it the agent's code, SQLite caches and thread stacks",
            note=f"{window}; {periods}",
        ),
        Figure(
            GROUP, "idle RSS, the screen open", idle.screen_rss / MIB, "MiB",
            "bare Python + the libraries", idle.floor_mem[0] / MIB,
            limit="as idle RSS, plus FastAPI, pydantic and the local API's routes, built at "
            "the screen's first request",
        ),
        Figure(
            GROUP, "idle PSS", idle.agent_mem[1] / MIB, "MiB", "bare Python + the libraries",
            idle.floor_mem[1] / MIB,
            limit="as RSS, with the pages shared with other processes (libpython, the "
            "libraries' .so files, the floor itself) divided among them",
        ),
        Figure(
            GROUP, "idle CPU", idle.agent_cpu_s / idle.window_s * 100, "%",
            "district server, same window", idle.district_cpu_s / idle.window_s * 100,
            limit="the agent's timers: the outbox check every 0.5 s, the print loop every "
            "5 s, the long-poll and the heartbeat; the floor process used "
            f"{idle.floor_cpu_s / idle.window_s * 100:.2f} %",
            note=f"{window}; CPU seconds: agent {idle.agent_cpu_s:.2f}, district "
            f"{idle.district_cpu_s:.2f} (clock tick {1 / CLK_TCK:g} s)",
        ),
        Figure(
            GROUP, "idle bytes on the wire per minute", per_minute, "B/min",
            "protocol minimum", idle.minimum_per_minute,
            limit=f"one feed exchange per long-poll and one heartbeat per period ({periods}); "
            "above it: HTTP headers the protocol does not need; TLS and TCP/IP not counted",
            note=f"{window}: {idle.wire_bytes} B ({idle.up_bytes} up), requests/answers "
            f"{idle.seen}, {idle.connections} new connections",
        ),
        Figure(
            GROUP, "burst: peak RSS", burst.peak_rss / MIB, "MiB",
            "bare Python + the libraries", burst.floor_mem[0] / MIB,
            limit="the floor + the documents in flight (one sealed and one opened copy at a "
            "time, a feed answer of up to 50 manifests) + allocator slack",
            note=f"{burst.jobs} jobs of ~{DOC_BYTES // 1000} kB; PSS after the burst "
            f"{burst.agent_mem[1] / MIB:.1f} MiB, RSS "
            f"{burst.agent_mem[0] / MIB:.1f} MiB",
        ),
        Figure(
            GROUP, "burst: CPU", burst.agent_cpu_s, "s",
            "district server, same burst", burst.district_cpu_s,
            limit="per job: verify the manifest, download, SHA-256, HPKE open, PDF parse, "
            "SQLite commits and signed events; the district serves the same jobs",
            note=f"{burst.took_s:.1f} s from the first push to the last message "
            f"({QUIET_S:g} s of quiet after it included in the CPU); "
            f"{burst.agent_cpu_s / burst.jobs * 1000:.0f} ms CPU per job",
        ),
        Figure(
            GROUP, "burst: bytes on the wire", burst.wire_bytes / 1e6,
            "MB", "the sealed documents", burst.sealed_bytes / 1e6,
            limit="the sealed documents themselves; above them the manifests, the feed "
            "heads, the signed events going up, proofs and HTTP headers",
            note=f"{burst.up_bytes / 1e3:.1f} kB up; requests/answers {burst.seen}",
        ),
    ]  # fmt: skip
