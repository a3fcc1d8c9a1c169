"""District server scale: how many long-polling kiosks one ``cedoka-district serve`` process
holds, how fast a push wakes one, and what holding them costs in memory and CPU.

    python -m bench district [--quick]

For each N (full: 100, 1,000, 2,000, 4,000, … doubling until a level breaks, the last one
just under the fd limit when doubling would pass it; quick: 50) the benchmark starts a fresh
server process on 127.0.0.1 over one district home, enrols the kiosks it lacks (in this
process, through ``DistrictService.enroll``: set-up, timed apart), and runs N simulated
kiosks over raw asyncio sockets. Each kiosk does what ``cedoka run`` does on the wire: a
keep-alive HTTP/1.1 connection, ``GET /v1/feed?after=SEQ&wait=55`` with a fresh request
proof, and a new long-poll as soon as one is answered (no heartbeats, no downloads). Pushes
to random kiosks, spread over one long-poll period, are each timed from their commit to the
kiosk's answer. The server's RSS and CPU are read from /proc over that period, in which
every kiosk's poll times out and is renewed once (the steady state; the polls that started
together in the ramp time out together, a wave the pushes meet).

Baselines, same run, same server: a feed request answered at once (``wait=0``, keep-alive)
while the N polls are held; the server's RSS before the kiosks connect; and the CPU the same
poll rate would cost as immediate requests (server CPU per ``wait=0`` request of one
device, measured, times N / wait).

A level *breaks* when a kiosk gets an error or no answer before the agent's feed read timeout
(wait + request_timeout_s = 55 + 30 s), or accepting the N polls takes longer than one
long-poll period; the run stops there. A push answered after more than 30 s marks the level
*degraded* (slow wakes, seconds when a push meets the wave, show in the p99).
The full run adds one level with the server's soft ``RLIMIT_NOFILE`` at 1024, systemd's
default for a service without ``LimitNOFILE=``. This process raises its own limit (as root
also the hard one) and the server inherits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import re
import resource
import secrets
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pypdf import PdfWriter

from bench.result import Figure, percentile
from district.admin import DistrictAdmin
from district.keyring import Keys
from district.service import DistrictService
from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.enroll import (
    EnrollRequest,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.model import ReleaseMode
from kiosk.proof import AUTH_SCHEME, RequestFacts, make_proof
from ui.demo import child_env, district_command

GROUP = "district"
HOST = "127.0.0.1"
PER_SOURCE = 16_000  # kiosks per source address: one address has ~28k ephemeral ports
SYSTEMD_NOFILE = 1024  # systemd's default soft RLIMIT_NOFILE for services
CLK_TCK = os.sysconf("SC_CLK_TCK")
AGENT_TIMEOUT_S = 30  # cedoka run's request_timeout_s: the feed's read timeout is wait + this


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...]  # N, ascending; the run stops after the first level that breaks
    pushes: int  # timed pushes per level (one more warms up)
    wait_s: int  # the kiosks' long-poll wait (cedoka run: long_poll_wait_s = 55)
    probes: int = 30  # wait=0 round trips for the baseline
    cpu_probes: int = 200  # wait=0 requests timed for the server's CPU per request
    connect_at_once: int = 256  # connects in flight (a herd, but not a SYN flood)
    wake_budget_s: float = AGENT_TIMEOUT_S  # a push not answered within this: degraded
    fd_demo: int = 0  # > 0: one more level of this N, server soft RLIMIT_NOFILE = 1024


FULL = Plan(levels=(100, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000), pushes=30,
            wait_s=55, fd_demo=1_500)  # fmt: skip
QUICK = Plan(levels=(50,), pushes=10, wait_s=10, cpu_probes=50)


def run(quick: bool) -> list[Figure]:
    return measure(QUICK if quick else FULL)


# --- kiosks ----------------------------------------------------------------------------


@dataclass(eq=False)
class Kiosk:
    device_id: str
    key: Ed25519PrivateKey
    office: str
    source: str  # the local address its connections come from
    after: int = 0  # the feed position (head seq) it has seen; kept across levels
    pending: bool = False  # a request is sent and not answered
    answers: int = 0
    errors: int = 0
    woken: asyncio.Future[float] | None = None  # set by a push: resolved with the answer time

    def reset(self) -> None:
        self.pending, self.answers, self.errors, self.woken = False, 0, 0, None


class Enroller:
    """Enrols kiosks through the in-process service (one office per kiosk)."""

    def __init__(self, home: Path) -> None:
        self.keys = Keys.open(home)
        self.admin = DistrictAdmin(self.keys)
        self.service = DistrictService(self.keys)
        self.kiosks: list[Kiosk] = []
        self.seconds = 0.0

    def grow(self, count: int) -> None:
        started = time.perf_counter()
        for index in range(len(self.kiosks), count):
            office = f"74.08.{1 + index // 999:02d}.{2001 + index % 999:04d}"
            self.admin.add_office(office, f"Desa Bench {index}")
            code = parse_enroll_code(self.admin.new_enroll_code(office, valid_s=3600))
            auth, seal = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
            nonce = b64u_encode(secrets.token_bytes(16))
            request = EnrollRequest(code.code_id, auth.public_key(), seal.public_key(), "bench",
                                    nonce)  # fmt: skip
            answer = parse_enroll_response(
                self.service.enroll(enroll_request_body(request, code), remote=f"bench-{index}"),
                code=code, nonce=nonce,
            )  # fmt: skip
            source = f"127.0.0.{1 + index // PER_SOURCE}"
            self.kiosks.append(Kiosk(answer.device_id, auth, office, source))
        self.seconds += time.perf_counter() - started


def _head_seq(body: bytes) -> int:
    head = str(json.loads(body)["head"])
    return int(json.loads(b64u_decode(head.split(".")[1]))["seq"])


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a keep-alive connection: (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _error_kind(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno)
    return type(error).__name__


class Fleet:
    """N kiosks long-polling one server, each on its own keep-alive connection."""

    def __init__(self, port: int, kiosks: Sequence[Kiosk], *, wait_s: int, at_once: int) -> None:
        self.port, self.kiosks, self.wait_s = port, kiosks, wait_s
        self.origin = f"http://{HOST}:{port}"
        self.errors: Counter[str] = Counter()
        self.polls = 0  # answers received
        self.sent_first = 0
        self.all_sent = asyncio.Event()
        self._gate = asyncio.Semaphore(at_once)
        self._tasks: list[asyncio.Task[None]] = []

    def request(self, kiosk: Kiosk, wait_s: int) -> bytes:
        target = f"/v1/feed?after={kiosk.after}&kr=1&wait={wait_s}"
        proof = make_proof(
            RequestFacts(self.origin, "GET", target, b""), device_id=kiosk.device_id,
            key=kiosk.key, now_s=int(time.time()), jti=b64u_encode(secrets.token_bytes(16)),
        ).decode()  # fmt: skip
        return (f"GET {target} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Authorization: {AUTH_SCHEME} {proof}\r\n\r\n").encode()  # fmt: skip

    def start(self) -> None:
        for kiosk in self.kiosks:
            kiosk.reset()
        self._tasks = [asyncio.create_task(self._run(k)) for k in self.kiosks]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, kiosk: Kiosk) -> None:
        first = True
        while True:
            writer: asyncio.StreamWriter | None = None
            try:
                async with self._gate:
                    reader, writer = await asyncio.open_connection(
                        HOST, self.port, local_addr=(kiosk.source, 0), limit=1 << 20
                    )
                while True:
                    request = self.request(kiosk, self.wait_s)
                    kiosk.pending = True
                    if first:
                        first = False
                        self.sent_first += 1
                        if self.sent_first == len(self.kiosks):
                            self.all_sent.set()
                    status, body = await _exchange(reader, writer, request)
                    kiosk.pending = False
                    if status != 200:
                        self.errors[f"HTTP {status}"] += 1
                        kiosk.errors += 1
                        break
                    kiosk.answers += 1
                    self.polls += 1
                    seq = _head_seq(body)
                    if seq > kiosk.after:
                        kiosk.after = seq
                        if kiosk.woken is not None and not kiosk.woken.done():
                            kiosk.woken.set_result(time.perf_counter())
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError, KeyError) as error:  # fmt: skip
                kiosk.pending = False
                kiosk.errors += 1
                self.errors[_error_kind(error)] += 1
            finally:
                if writer is not None:
                    writer.close()
            if first:  # never got its first request out: count it as sent (and failed)
                first = False
                self.sent_first += 1
                if self.sent_first == len(self.kiosks):
                    self.all_sent.set()
            await asyncio.sleep(random.uniform(1, 3))  # the agent backs off with jitter


async def _probe(fleet: Fleet, kiosks: Sequence[Kiosk], *, timeout_s: float = 10) -> list[float]:
    """Sequential ``wait=0`` feed requests on one keep-alive connection: round trips, ms."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, fleet.port, limit=1 << 20), timeout_s
    )
    times = []
    try:
        for kiosk in kiosks:
            request = fleet.request(kiosk, 0)
            started = time.perf_counter()
            status, _ = await asyncio.wait_for(_exchange(reader, writer, request), timeout_s)
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"baseline feed request answered {status}")
    finally:
        writer.close()
    return times


# --- the server process ----------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _nofile_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0


async def _until_idle(pid: int, *, limit_s: float) -> None:
    """Until the server has worked through its backlog (CPU time stops growing)."""
    deadline = time.perf_counter() + limit_s
    last = _cpu_ticks(pid)
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        now = _cpu_ticks(pid)
        if now - last <= 2:
            return
        last = now


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def raise_fd_limit(want: int) -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE towards ``want`` (the hard limit too, when
    allowed); children inherit it. Returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
        with contextlib.suppress(ValueError, OSError):  # not root: keep the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, min(want, ceiling)))
            hard = min(want, ceiling)
    soft = hard if hard == resource.RLIM_INFINITY else max(soft, min(want, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class Server:
    """``cedoka-district serve`` on 127.0.0.1 as a child process."""

    def __init__(self, home: Path, log: Path, *, nofile: int | None = None) -> None:
        self.port = _free_port()
        self.log = log
        self.log_start = log.stat().st_size if log.exists() else 0
        self.log_stop = 0

        def limit() -> None:
            if nofile is not None:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*district_command(), "--home", str(home), "serve", "--listen",
                 f"{HOST}:{self.port}"], stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT, env=child_env(), preexec_fn=limit,  # noqa: PLW1509
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the district server did not start: see {log}") from None
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> str:
        """SIGTERM, then SIGKILL after 30 s; what the shutdown took and what it dropped."""
        if self.proc.poll() is not None:
            return ""
        self.log_stop = self.log.stat().st_size
        started = time.perf_counter()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed 30 s after SIGTERM"
        took = f"stopped {time.perf_counter() - started:.1f} s after SIGTERM"
        with self.log.open("rb") as file:
            file.seek(self.log_stop)
            cancelled = re.findall(rb"Cancel (\d+) running task", file.read())
        if cancelled:
            took += f", cancelling {int(cancelled[-1]):,} requests (graceful timeout 3 s)"
        return took

    def problems(self) -> Counter[str]:
        """What went wrong in the server's log since it started (counted)."""
        found: Counter[str] = Counter()
        with self.log.open("rb") as file:
            file.seek(self.log_start)
            for raw in file:
                line = raw.decode(errors="replace")
                if "Too many open files" in line or "out of system resource" in line:
                    found["EMFILE (fd limit)"] += 1
                elif " status=5" in line:
                    found["HTTP 5xx"] += 1
                elif " status=429" in line:
                    found["HTTP 429"] += 1
                elif "level=error" in line.lower() or "Traceback" in line:
                    found["logged error"] += 1
        return found


# --- one level -------------------------------------------------------------------------


@dataclass
class Level:
    n: int
    server_nofile: int
    idle_rss_kib: int = 0
    held_rss_kib: int = 0
    peak_rss_kib: int = 0
    cpu_per_request_ms: float = 0.0  # server CPU per wait=0 request
    idle_pct: float = 0.0  # server CPU with no kiosks (the notifier's 20 ms poll)
    probe_idle_ms: list[float] = field(default_factory=list)
    probe_loaded_ms: list[float] = field(default_factory=list)
    ramp_s: float = 0.0
    wakes_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    missed_wakes: int = 0
    window_s: float = 0.0
    cpu_pct: float = 0.0
    window_polls: int = 0
    served: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    probe_failed: str = ""
    shutdown: str = ""
    wait_s: int = 0

    def broke(self) -> str:
        """Why this level failed, or ''."""
        why = []
        if self.served < self.n:
            why.append(f"{self.n - self.served:,} of {self.n:,} kiosks got no answer within "
                       f"the agent's feed timeout ({self.wait_s}+{AGENT_TIMEOUT_S} s)")  # fmt: skip
        if self.errors:
            why.append("kiosk errors: " + _counts(self.errors))
        if self.ramp_s > self.wait_s:
            why.append(f"accepting the polls took {self.ramp_s:.0f} s > the {self.wait_s} s "
                       "long-poll period")  # fmt: skip
        if self.problems:
            why.append("server log: " + _counts(self.problems))
        if self.probe_failed:
            why.append("wait=0 probe: " + self.probe_failed)
        return "; ".join(why)

    def status(self) -> str:
        broke = self.broke()
        if broke:
            return "BROKE: " + broke
        if self.missed_wakes:
            return (f"DEGRADED: {self.missed_wakes} push(es) not answered within "
                    f"{AGENT_TIMEOUT_S} s (the kiosks themselves were all answered)")  # fmt: skip
        return "held"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in counter.most_common(4))


def _small_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595.28, height=841.89)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


async def _level(
    enroller: Enroller, home: Path, log: Path, n: int, plan: Plan, *, nofile: int | None
) -> Level:
    kiosks = enroller.kiosks[:n]
    server = Server(home, log, nofile=nofile)
    level = Level(n=n, server_nofile=_nofile_of(server.pid), wait_s=plan.wait_s)
    fleet = Fleet(server.port, kiosks, wait_s=plan.wait_s, at_once=plan.connect_at_once)
    try:
        await _probe(fleet, kiosks[:5])  # warm-up: imports, key files, SQLite pages
        await asyncio.sleep(1)
        level.idle_rss_kib = _status_kib(server.pid, "VmRSS")
        idle_ticks, idle_started = _cpu_ticks(server.pid), time.perf_counter()
        await asyncio.sleep(2)
        idle_rate = (_cpu_ticks(server.pid) - idle_ticks) / (time.perf_counter() - idle_started)
        level.idle_pct = idle_rate / CLK_TCK * 100
        many = [kiosks[0]] * plan.cpu_probes  # one device: no "last seen" write per request
        ticks, started = _cpu_ticks(server.pid), time.perf_counter()
        level.probe_idle_ms = await _probe(fleet, many)
        spent = _cpu_ticks(server.pid) - ticks - idle_rate * (time.perf_counter() - started)
        level.cpu_per_request_ms = max(spent, 0) / CLK_TCK * 1000 / len(many)

        ramp_started = time.perf_counter()
        fleet.start()
        await fleet.all_sent.wait()
        all_sent = time.perf_counter()
        await _until_idle(server.pid, limit_s=plan.wait_s + 30)
        level.ramp_s = time.perf_counter() - ramp_started
        level.held_rss_kib = _status_kib(server.pid, "VmRSS")

        window_started, ticks, polls = time.perf_counter(), _cpu_ticks(server.pid), fleet.polls
        try:
            level.probe_loaded_ms = await _probe(fleet, kiosks[: plan.probes])
        except (OSError, TimeoutError, RuntimeError, asyncio.IncompleteReadError) as error:
            level.probe_failed = f"{_error_kind(error)} {error}".strip()
        # pushes spread over one long-poll period, so some land in the wave of timed-out
        # polls answered and renewed together (they started together)
        await _pushes(fleet, enroller.admin, level, plan, period_s=plan.wait_s + 5)
        # every kiosk re-polls once in the window, and each must be answered before the
        # agent's feed read timeout (long_poll_wait_s + request_timeout_s) would fire
        least = window_started + plan.wait_s + 5
        most = max(least, all_sent + plan.wait_s + AGENT_TIMEOUT_S)
        while time.perf_counter() < least or (
            time.perf_counter() < most and not all(k.answers for k in kiosks)
        ):
            await asyncio.sleep(0.5)
        level.window_s = time.perf_counter() - window_started
        level.cpu_pct = (_cpu_ticks(server.pid) - ticks) / CLK_TCK / level.window_s * 100
        level.window_polls = fleet.polls - polls
        level.peak_rss_kib = _status_kib(server.pid, "VmHWM")
        level.served = sum(1 for k in kiosks if k.answers)
        level.errors = fleet.errors
        level.problems = server.problems()
    finally:
        await fleet.stop()
        level.shutdown = server.stop()
    return level


async def _pushes(
    fleet: Fleet, admin: DistrictAdmin, level: Level, plan: Plan, *, period_s: float
) -> None:
    """Push to random kiosks, one every ``period_s / pushes``; time commit -> answer."""
    pdf = _small_pdf()
    loop = asyncio.get_running_loop()
    chosen = random.sample(list(fleet.kiosks), min(plan.pushes + 1, len(fleet.kiosks)))
    started_all = time.perf_counter()
    for index, kiosk in enumerate(chosen):
        due = started_all + index * period_s / len(chosen)
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        for _ in range(50):  # its long-poll must be in flight (it may be re-polling)
            if kiosk.pending:
                break
            await asyncio.sleep(0.02)
        kiosk.woken = woken = loop.create_future()
        started = time.perf_counter()
        admin.push(office_code=kiosk.office, resident="BENCH RESIDENT", documents=[("KK", pdf)],
                   release=ReleaseMode.AUTO, copies=1, lifetime_s=3600)  # fmt: skip
        committed = time.perf_counter()
        try:
            answered = await asyncio.wait_for(asyncio.shield(woken), plan.wake_budget_s)
        except TimeoutError:
            level.missed_wakes += 1
            if level.missed_wakes >= 3:
                return
            continue
        finally:
            kiosk.woken = None
        if index:  # the first push warms up this process (imports, key files)
            level.wakes_ms.append((answered - committed) * 1000)
            level.push_ms.append((committed - started) * 1000)


def _commit_ms(directory: Path, count: int = 200) -> float:
    """One fsync'd SQLite commit (WAL, synchronous=FULL, as the district's store), ms."""
    conn = sqlite3.connect(directory / "commit.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (a INTEGER)")
        started = time.perf_counter()
        for index in range(count):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (index,))
            conn.execute("COMMIT")
        return (time.perf_counter() - started) * 1000 / count
    finally:
        conn.close()


# --- the figures -----------------------------------------------------------------------


def _level_figures(level: Level, *, label: str = "") -> list[Figure]:
    n = f"N={level.n:,}{label}"
    status = level.status()
    probes, wakes = level.probe_loaded_ms or level.probe_idle_ms, level.wakes_ms
    held = "polls held" if level.probe_loaded_ms else "before the kiosks (loaded probe failed)"
    held_kib = (level.held_rss_kib - level.idle_rss_kib) / max(level.n, 1)
    polls_per_s = level.n / level.wait_s
    cpu_base = level.idle_pct + level.cpu_per_request_ms / 1000 * polls_per_s * 100
    busy_pct = max(level.cpu_pct - level.idle_pct, 0)
    per_poll_ms = (busy_pct / 100 * level.window_s * 1000 / level.window_polls
                   if level.window_polls else 0.0)  # fmt: skip
    figures = []
    if wakes:
        wake_limit = (
            f"{status}. Push commit -> the kiosk holds the answer: the notifier polls SQLite's "
            f"data_version every 20 ms (avg +10 ms), then the feed is built and signed; "
            f"{len(wakes)} pushes, each {percentile(level.push_ms, 50):.0f} ms to seal+commit "
            f"in the pusher (not counted)"
        )
        figures += [
            Figure(GROUP, f"{n} wake p50", percentile(wakes, 50), "ms",
                   f"feed wait=0 round trip p50, {held}", percentile(probes, 50),
                   limit=wake_limit),
            Figure(GROUP, f"{n} wake p99", percentile(wakes, 99), "ms",
                   f"feed wait=0 round trip p99, {held}", percentile(probes, 99),
                   limit=f"{status}. max {max(wakes):.0f} ms: a push that meets the wave "
                   "of timed-out polls waits behind their feed builds and re-polls' proof "
                   "checks in the 40-thread pool (FIFO); the wave is as long as the ramp x2"),
        ]  # fmt: skip
    figures += [
        Figure(GROUP, f"{n} server RSS", level.held_rss_kib / 1024, "MiB",
               "same server before the kiosks connected", level.idle_rss_kib / 1024,
               limit=f"{held_kib:.1f} KiB per held long-poll (uvicorn connection + h11 + "
               f"Starlette request + coroutine + timeout); peak {level.peak_rss_kib / 1024:.0f} "
               f"MiB; shutdown: {level.shutdown or '-'}", note=status),
        Figure(GROUP, f"{n} server CPU", level.cpu_pct, "% of a core",
               f"idle + {polls_per_s:,.0f} polls/s as wait=0 requests", cpu_base,
               limit=f"one long-poll period ({level.window_s:.0f} s, {level.window_polls:,} "
               f"polls answered, {per_poll_ms:.2f} ms CPU each above idle "
               f"{level.idle_pct:.1f} % vs {level.cpu_per_request_ms:.2f} ms per wait=0 "
               f"request of one device); on top: each kiosk's fsync'd 'last seen' write once a "
               f"minute, after which the notifier re-reads all N feed versions on the event "
               f"loop; one process: one core at most (GIL); accepting all N took "
               f"{level.ramp_s:.1f} s",
               note=status),
    ]  # fmt: skip
    if status != "held" or label:
        figures.append(Figure(
            GROUP, f"{n} kiosks answered", level.served, "kiosks", "kiosks polling", level.n,
            limit=f"server RLIMIT_NOFILE soft {level.server_nofile:,}; {status}",
        ))  # fmt: skip
    return figures


def measure(plan: Plan) -> list[Figure]:
    biggest = max([*plan.levels, plan.fd_demo])
    soft, _hard = raise_fd_limit(2 * biggest + 4096)
    levels = [n for n in plan.levels if n + 512 <= soft]  # this process holds one fd each
    if not levels:
        raise RuntimeError(f"RLIMIT_NOFILE {soft} is too low for {plan.levels[0]} kiosks")
    ceiling = (soft - 1024) // 500 * 500  # as close to the fd limit as is safe
    if len(levels) < len(plan.levels) and ceiling > levels[-1]:
        levels.append(ceiling)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="cedoka-bench-district-") as tmp:
        root = Path(tmp)
        home, log = root / "district", root / "server.log"
        DistrictAdmin.init(home, name="Bench District", code="74.08")
        enroller = Enroller(home)
        results: list[Level] = []
        for n in levels:
            enroller.grow(n)
            level = asyncio.run(_level(enroller, home, log, n, plan, nofile=None))
            results.append(level)
            figures += _level_figures(level)
            if level.broke():
                break
        if plan.fd_demo:
            enroller.grow(plan.fd_demo)
            demo = asyncio.run(_level(enroller, home, log, plan.fd_demo, plan,
                                      nofile=SYSTEMD_NOFILE))  # fmt: skip
            figures += _level_figures(demo, label=", server fd limit 1024")
        commit_ms = _commit_ms(root)
        enrolled = len(enroller.kiosks)
        last = results[-1]
        capped = ""
        if last.n == levels[-1] and levels != list(plan.levels):
            capped = (f"; no level above {levels[-1]:,}: RLIMIT_NOFILE here is {soft:,}, hard, "
                      "and cannot be raised without CAP_SYS_RESOURCE (one fd per kiosk in the "
                      "server and in this process)")  # fmt: skip
        elif last.broke():
            capped = f"; the run stopped at N={last.n:,}, the first level that broke"
        figures.append(Figure(
            GROUP, f"set-up: enrol one kiosk ({enrolled:,} in {enroller.seconds:.1f} s)",
            enroller.seconds * 1000 / max(enrolled, 1), "ms",
            "one fsync'd SQLite commit (WAL, synchronous=FULL)", commit_ms,
            limit="in-process DistrictService.enroll (one office each): code MAC, key "
            "parsing, three commits (office, code, device); not part of the figures above"
            + capped,
            note=f"bench fd limit {soft:,}; last level {last.n:,}: "
            + last.status(),
        ))  # fmt: skip
    return figures
