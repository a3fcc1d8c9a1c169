"""District server scale: how many long-polling kiosks one ``cedoka-district serve`` process
holds, how fast a push wakes one, and what holding them costs in memory and CPU.

    python -m bench district [--quick]
    python -m bench district --db postgresql --processes 4 [--workers] [--quick]

For each N (full: 100, 1,000, 2,000, 4,000, 5,000, 8,000, … doubling until a level breaks,
the last one just under the fd limit when doubling would pass it; quick: 50) the benchmark
starts a fresh
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

**Several processes on PostgreSQL** (``--db postgresql --processes P``): the run starts a
private PostgreSQL cluster in a temporary directory (:mod:`bench.pgcluster`: Unix socket only,
``fsync`` on as in production, ``max_connections`` raised for P processes x their thread
pools), a fresh database, and per level P ``cedoka-district serve --db postgresql://…``
processes on P ports; kiosk *i* polls server *i mod P*, so each holds N/P kiosks (the same
server cost as P workers behind one port; all on the one home, see :data:`SHARED_HOME`).
``--workers`` switches to one ``serve --workers P`` on one port instead (its parent binds
the port once and its P children accept from that one socket, ADR 0027). Levels: 1,000,
4,000, 8,000, 16,000 (the issue's target: wake p99 <= 1 s),
24,000, 32,000, … until one breaks; quick: 100 kiosks on 2 processes. Server RSS and CPU are
summed over every server process (the process trees, so ``--workers``' children count);
PostgreSQL's CPU (the postmaster and its backends) is reported apart, with its own same-run
baseline (the PostgreSQL CPU of ``wait=0`` requests). One load-generator process holds at
most ``min(PER_SOURCE, its fd limit - 2,048)`` kiosks (one socket each); beyond that the
kiosks are split over more generator processes (spawned; pushes and probes go to the first
one's kiosks, which poll every server; a script calling :func:`measure` needs the
``if __name__ == "__main__":`` guard of multiprocessing's spawn). Each server process needs
N/P fds, so the level cap is P x its fd limit.

The PostgreSQL run ends with a **paper estimate** for a national roll-out (83,762 kiosks),
from the largest level that held: server and PostgreSQL CPU per answered poll above idle in
the steady state plus each process's idle CPU, RSS per held poll, priced at the assumptions
in :data:`NATIONAL` (mean poll period 55 s x 0.875 with the long-poll jitter, pushes per
kiosk per day and their peak, a push costing a few poll cycles, a 50 % CPU target, 8-core
machines); each figure's baseline is the same estimate priced with ``wait=0`` request costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import multiprocessing
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pypdf import PdfWriter

from bench import pgcluster
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
# P serve processes on P ports share the one district home: on PostgreSQL the replay cache
# is in the database (ADR 0027), not in the home's state file, which a second process on the
# same home would read as "lost after a crash". False: a copy of the home per process (as
# before the cache was shared); --workers always shares the one home.
SHARED_HOME = True
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
    db: str = "sqlite"  # or "postgresql": a private cluster for the run
    processes: int = 1  # server processes; kiosk i polls process i mod P
    workers: bool = False  # one `serve --workers P` on one port instead of P ports
    per_generator: int = 0  # kiosks per load-generator process (0: as the fd limit allows)

    @property
    def group(self) -> str:
        if self.db == "sqlite" and self.processes == 1:
            return GROUP
        how = f"--workers {self.processes} on one port" if self.workers else (
            f"{self.processes} process{'es' if self.processes > 1 else ''}")  # fmt: skip
        return f"{GROUP}, {'PostgreSQL' if self.db == 'postgresql' else 'SQLite'}, {how}"


FULL = Plan(levels=(100, 1_000, 2_000, 4_000, 5_000, 8_000, 16_000, 32_000, 64_000),
            pushes=30, wait_s=55, fd_demo=1_500)  # fmt: skip
QUICK = Plan(levels=(50,), pushes=10, wait_s=10, cpu_probes=50)
FULL_PG = Plan(levels=(1_000, 4_000, 8_000, 16_000, 24_000, 32_000, 48_000, 64_000),
               pushes=30, wait_s=55, db="postgresql", processes=4)  # fmt: skip
QUICK_PG = Plan(levels=(100,), pushes=10, wait_s=10, cpu_probes=50, db="postgresql",
                processes=2)  # fmt: skip
DBS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class National:
    """The paper estimate's assumptions (say them next to its figures)."""

    kiosks: int = 83_762  # villages and kelurahan (Kepmendagri 2025), one kiosk each
    mean_poll_s: float = 55 * 0.875  # the 55 s long-poll with wait x uniform(0.75, 1) jitter
    pushes_per_kiosk_day: float = 10  # documents pushed per village per office day
    office_day_s: float = 8 * 3600  # pushes fall in an 8-hour office day …
    peak: float = 3  # … with a peak hour 3x the day's mean
    requests_per_push: float = 4  # wake answer, bundle download, 2 state reports: each ~ a poll
    cpu_target: float = 0.5  # plan cores at 50 % busy (headroom for waves, restarts, spikes)
    machine_cores: int = 8  # cores per application machine
    nofile_per_process: int = 60_000  # held polls per process under LimitNOFILE=65536
    threads_per_process: int = 40  # PostgreSQL connections per process (one per pool thread)


NATIONAL = National()


def run(
    quick: bool, *, db: str = "sqlite", processes: int = 1, workers: bool = False,
    levels: tuple[int, ...] | None = None,
) -> list[Figure]:  # fmt: skip
    """The single-process SQLite run by default; ``db="postgresql"`` and/or ``processes``
    > 1 (which needs PostgreSQL) for the multi-process variant; ``workers``: one
    ``serve --workers P`` on one port instead of P ports; ``levels``: only these kiosk
    counts, without the fd-limit demo (the run still stops at the first that breaks)."""
    if db not in DBS:
        raise ValueError(f"db must be one of {DBS}")
    if processes < 1 or (processes > 1 and db != "postgresql"):
        raise ValueError("several server processes need --db postgresql")
    if workers and processes < 2:
        raise ValueError("--workers needs --processes 2 or more")
    if db == "sqlite" and not workers:
        plan = QUICK if quick else FULL
    else:
        base = QUICK_PG if quick else FULL_PG
        plan = replace(base, db=db, processes=processes, workers=workers)
    if levels:
        plan = replace(plan, levels=levels, fd_demo=0)  # the fd-limit demo is a full run's
    return measure(plan)


# --- kiosks ----------------------------------------------------------------------------


@dataclass(eq=False)
class Kiosk:
    device_id: str
    key: Ed25519PrivateKey
    office: str
    source: str  # the local address its connections come from
    port: int = 0  # the server it polls (set per level)
    after: int = 0  # the feed position (head seq) it has seen; kept across levels
    pending: bool = False  # a request is sent and not answered
    answers: int = 0
    errors: int = 0
    woken: asyncio.Future[float] | None = None  # set by a push: resolved with the answer time

    def reset(self) -> None:
        self.pending, self.answers, self.errors, self.woken = False, 0, 0, None


class Enroller:
    """Enrols kiosks through the in-process service (one office per kiosk)."""

    def __init__(self, home: Path, db_url: str | None = None) -> None:
        self.keys = Keys.open(home, db_url)
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
    """Kiosks long-polling their servers (``Kiosk.port``), each on its own keep-alive
    connection."""

    def __init__(self, kiosks: Sequence[Kiosk], *, wait_s: int, at_once: int) -> None:
        self.kiosks, self.wait_s = kiosks, wait_s
        self.errors: Counter[str] = Counter()
        self.polls = 0  # answers received
        self.sent_first = 0
        self.all_sent = asyncio.Event()
        self._gate = asyncio.Semaphore(at_once)
        self._tasks: list[asyncio.Task[None]] = []

    def status(self) -> dict[str, Any]:
        """What a generator process reports: first requests sent, answers, kiosks answered
        at least once, errors."""
        served = sum(1 for k in self.kiosks if k.answers)
        return {"sent": self.sent_first, "polls": self.polls, "served": served,
                "errors": dict(self.errors)}  # fmt: skip

    @staticmethod
    def request(kiosk: Kiosk, wait_s: int, port: int | None = None) -> bytes:
        """A feed request of ``kiosk`` to its server (or to ``port``), with a fresh proof."""
        port = kiosk.port if port is None else port
        target = f"/v1/feed?after={kiosk.after}&kr=1&wait={wait_s}"
        proof = make_proof(
            RequestFacts(f"http://{HOST}:{port}", "GET", target, b""),
            device_id=kiosk.device_id, key=kiosk.key, now_s=int(time.time()),
            jti=b64u_encode(secrets.token_bytes(16)),
        ).decode()  # fmt: skip
        return (f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
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
                        HOST, kiosk.port, local_addr=(kiosk.source, 0), limit=1 << 20
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


async def _probe(port: int, kiosks: Sequence[Kiosk], *, timeout_s: float = 10) -> list[float]:
    """Sequential ``wait=0`` feed requests on one keep-alive connection to ``port``: round
    trips, ms."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, port, limit=1 << 20), timeout_s
    )
    times = []
    try:
        for kiosk in kiosks:
            request = Fleet.request(kiosk, 0, port)
            started = time.perf_counter()
            status, _ = await asyncio.wait_for(_exchange(reader, writer, request), timeout_s)
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"baseline feed request answered {status}")
    finally:
        writer.close()
    return times


# --- more load-generator processes ------------------------------------------------------

KioskSpec = tuple[str, bytes, str, str, int, int]  # device, raw key, office, source, after, port


def _spec(kiosk: Kiosk) -> KioskSpec:
    return (kiosk.device_id, kiosk.key.private_bytes_raw(), kiosk.office, kiosk.source,
            kiosk.after, kiosk.port)  # fmt: skip


def _shard_main(conn: Connection, specs: list[KioskSpec], wait_s: int, at_once: int) -> None:
    """A generator process: poll with these kiosks until told "stop"; answer "status"."""
    asyncio.run(_shard(conn, specs, wait_s, at_once))


async def _shard(conn: Connection, specs: list[KioskSpec], wait_s: int, at_once: int) -> None:
    kiosks = [Kiosk(device, Ed25519PrivateKey.from_private_bytes(key), office, source,
                    port=port, after=after)
              for device, key, office, source, after, port in specs]  # fmt: skip
    fleet = Fleet(kiosks, wait_s=wait_s, at_once=at_once)
    fleet.start()
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command == "status":
            conn.send(fleet.status())
            continue
        await fleet.stop()
        conn.send([k.after for k in kiosks])
        return


class Shard:
    """Kiosks polling from a spawned generator process (one fd each, past this process's
    limit)."""

    def __init__(self, kiosks: Sequence[Kiosk], *, wait_s: int, at_once: int) -> None:
        self.kiosks = kiosks
        context = multiprocessing.get_context("spawn")  # no fork of open DB connections
        self.conn, child = context.Pipe()
        self.proc = context.Process(
            target=_shard_main, args=(child, [_spec(k) for k in kiosks], wait_s, at_once),
            daemon=True,
        )  # fmt: skip
        self.proc.start()
        child.close()

    async def ask(self, command: str) -> Any:
        try:
            await asyncio.to_thread(self.conn.send, command)
            return await asyncio.to_thread(self.conn.recv)
        except (OSError, EOFError) as error:
            raise RuntimeError(f"a load-generator process ended (exit code "
                               f"{self.proc.exitcode}): {error}") from None  # fmt: skip

    async def stop(self) -> None:
        try:
            afters = await asyncio.wait_for(self.ask("stop"), 60)
            for kiosk, after in zip(self.kiosks, afters, strict=True):
                kiosk.after = after
        except (RuntimeError, TimeoutError):
            pass
        await asyncio.to_thread(self.proc.join, 10)
        if self.proc.is_alive():
            self.proc.kill()
            await asyncio.to_thread(self.proc.join)
        self.conn.close()


class Load:
    """All N kiosks: a :class:`Fleet` in this process (the pushes and probes use its kiosks)
    plus :class:`Shard` processes for the rest."""

    def __init__(self, kiosks: Sequence[Kiosk], *, per_process: int, wait_s: int,
                 at_once: int) -> None:  # fmt: skip
        self.n = len(kiosks)
        self.fleet = Fleet(kiosks[:per_process], wait_s=wait_s, at_once=at_once)
        self.rest = [kiosks[i : i + per_process] for i in range(per_process, len(kiosks),
                                                                 per_process)]  # fmt: skip
        self.shards: list[Shard] = []
        self._wait_s, self._at_once = wait_s, at_once

    def start(self) -> None:
        self.fleet.start()
        self.shards = [Shard(part, wait_s=self._wait_s, at_once=self._at_once)
                       for part in self.rest]  # fmt: skip

    async def status(self) -> dict[str, Any]:
        """Summed over the generator processes (see :meth:`Fleet.status`)."""
        total = self.fleet.status()
        errors = Counter(total["errors"])
        for shard in self.shards:
            got = await shard.ask("status")
            for key in ("sent", "polls", "served"):
                total[key] += got[key]
            errors.update(got["errors"])
        total["errors"] = errors
        return total

    async def all_sent(self) -> None:
        await self.fleet.all_sent.wait()
        while (await self.status())["sent"] < self.n:
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        await self.fleet.stop()
        await asyncio.gather(*(shard.stop() for shard in self.shards))


# --- the server process ----------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (index 0 = state); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _tree(roots: Sequence[int]) -> list[int]:
    """The processes ``roots`` and all their live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _cpu_ticks(roots: Sequence[int]) -> int:
    """CPU time of the process trees (user + system, with that of reaped children, so a
    process that exited in between still counts once), in clock ticks."""
    total = 0
    for pid in _tree(roots):
        if fields := _stat(pid):
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total


def _status_kib(roots: Sequence[int], key: str) -> int:
    """A /proc/PID/status size (VmRSS, VmHWM) summed over the process trees, KiB."""
    total = 0
    for pid in _tree(roots):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total


def _nofile_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return 0


async def _until_idle(pids: Sequence[int], *, limit_s: float, idle_per_s: float = 0) -> None:
    """Until the servers (and PostgreSQL) have worked through their backlog: their CPU time
    grows no faster than when idle (``idle_per_s`` ticks a second, measured)."""
    deadline = time.perf_counter() + limit_s
    last = _cpu_ticks(pids)
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        now = _cpu_ticks(pids)
        if now - last <= 2 + idle_per_s * 1.25:
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
    """``cedoka-district serve`` on 127.0.0.1 as a child process (with ``workers``: one
    port, that many worker processes)."""

    def __init__(self, home: Path, log: Path, *, nofile: int | None = None,
                 db_url: str | None = None, workers: int = 0) -> None:  # fmt: skip
        self.port = _free_port()
        self.log = log
        self.log_start = log.stat().st_size if log.exists() else 0
        self.log_stop = 0
        self.stop_started = 0.0

        def limit() -> None:
            if nofile is not None:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        db = ["--db", db_url] if db_url else []
        more = ["--workers", str(workers)] if workers else []
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*district_command(), "--home", str(home), *db, "serve", "--listen",
                 f"{HOST}:{self.port}", *more], stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT, env=child_env(), preexec_fn=limit,  # noqa: PLW1509
                start_new_session=True,  # its own group: a kill takes its workers too
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
        self.terminate()
        return self.finish()

    def terminate(self) -> None:
        self.log_stop = self.log.stat().st_size
        self.stop_started = time.perf_counter()
        self.proc.terminate()

    def finish(self) -> str:
        """After :meth:`terminate`: wait (SIGKILL after 30 s); what the shutdown took."""
        started = self.stop_started
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
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


class Servers:
    """The level's server processes: one (SQLite, the default), P on P ports, or one
    ``serve --workers P``; their figures are summed over all their processes."""

    def __init__(self, home: Path, root: Path, plan: Plan, *, db_url: str | None,
                 nofile: int | None) -> None:  # fmt: skip
        count = 1 if plan.workers else plan.processes
        workers = plan.processes if plan.workers else 0
        homes = [home] * count
        if not SHARED_HOME:  # copied while no server runs (its replay state is closed)
            for index in range(1, count):
                homes[index] = root / f"{home.name}-{index}"
                if not homes[index].exists():
                    shutil.copytree(home, homes[index], symlinks=True)
        self.all: list[Server] = []
        try:
            for index, own in enumerate(homes):
                log = root / ("server.log" if index == 0 else f"server-{index}.log")
                self.all.append(Server(own, log, nofile=nofile, db_url=db_url,
                                       workers=workers))  # fmt: skip
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.all]

    @property
    def pids(self) -> list[int]:
        return [server.pid for server in self.all]

    def stop(self) -> str:
        """Stop them all at once; the slowest one's shutdown."""
        running = [server for server in self.all if server.proc.poll() is None]
        for server in running:
            server.terminate()
        done = [server.finish() for server in running]

        def took(text: str) -> tuple[bool, float]:
            seconds = re.search(r"(\d+(?:\.\d+)?) s after", text)
            return "killed" in text, float(seconds.group(1)) if seconds else 0.0

        return max(done, key=took, default="")

    def problems(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for server in self.all:
            found.update(server.problems())
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
    processes: int = 1  # server processes
    generators: int = 1  # load-generator processes
    pg: bool = False  # PostgreSQL's own CPU measured (the fields below)
    pg_idle_pct: float = 0.0
    pg_cpu_per_request_ms: float = 0.0  # PostgreSQL CPU per wait=0 request
    pg_cpu_pct: float = 0.0  # over the window

    @property
    def server_ms_per_poll(self) -> float:
        """Server CPU per answered poll in the window, above the idle servers'."""
        busy = max(self.cpu_pct - self.idle_pct, 0)
        return busy / 100 * self.window_s * 1000 / max(self.window_polls, 1)

    @property
    def pg_ms_per_poll(self) -> float:
        """PostgreSQL CPU per answered poll in the window, above its idle CPU."""
        busy = max(self.pg_cpu_pct - self.pg_idle_pct, 0)
        return busy / 100 * self.window_s * 1000 / max(self.window_polls, 1)

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


BASELINE_TICKS = 20  # CPU clock ticks a wait=0 baseline must spend to be worth dividing
BASELINE_ROUNDS = 40  # …but at most this many rounds of plan.cpu_probes requests


async def _baselines(
    level: Level, plan: Plan, kiosks: Sequence[Kiosk], *, port: int, pids: list[int],
    pg: list[int],
) -> float:  # fmt: skip
    """Before the kiosks connect: idle RSS and CPU, CPU per ``wait=0`` request (servers and
    PostgreSQL); returns the idle CPU rate (ticks per second, servers + PostgreSQL)."""
    level.idle_rss_kib = _status_kib(pids, "VmRSS")
    idle_ticks, pg_ticks = _cpu_ticks(pids), _cpu_ticks(pg)
    idle_started = time.perf_counter()
    await asyncio.sleep(2)
    took = time.perf_counter() - idle_started
    idle_rate = (_cpu_ticks(pids) - idle_ticks) / took
    pg_idle_rate = (_cpu_ticks(pg) - pg_ticks) / took
    level.idle_pct = idle_rate / CLK_TCK * 100
    level.pg_idle_pct = pg_idle_rate / CLK_TCK * 100
    many = [kiosks[0]] * plan.cpu_probes  # one device: no "last seen" write per request
    ticks, pg_ticks, started = _cpu_ticks(pids), _cpu_ticks(pg), time.perf_counter()
    level.probe_idle_ms, sent = [], 0
    # rounds until enough clock ticks were spent to divide (a tick is 10 ms; a small plan's
    # requests may cost PostgreSQL less than one), at most BASELINE_ROUNDS of them
    for _ in range(BASELINE_ROUNDS):
        level.probe_idle_ms += await _probe(port, many)
        sent += len(many)
        took = time.perf_counter() - started
        spent = _cpu_ticks(pids) - ticks - idle_rate * took
        pg_spent = _cpu_ticks(pg) - pg_ticks - pg_idle_rate * took
        if spent >= BASELINE_TICKS and (not pg or pg_spent >= BASELINE_TICKS):
            break
    level.cpu_per_request_ms = max(spent, 0) / CLK_TCK * 1000 / sent
    level.pg_cpu_per_request_ms = max(pg_spent, 0) / CLK_TCK * 1000 / sent
    return idle_rate + pg_idle_rate


async def _level(
    enroller: Enroller, home: Path, root: Path, n: int, plan: Plan, *, nofile: int | None,
    db_url: str | None = None, postmaster: int | None = None, per_process: int = PER_SOURCE,
) -> Level:  # fmt: skip
    kiosks = enroller.kiosks[:n]
    servers = Servers(home, root, plan, db_url=db_url, nofile=nofile)
    ports, pids = servers.ports, servers.pids
    for index, kiosk in enumerate(kiosks):
        kiosk.port = ports[index % len(ports)]
    pg = [postmaster] if postmaster is not None else []
    level = Level(n=n, server_nofile=_nofile_of(pids[0]), wait_s=plan.wait_s,
                  processes=plan.processes, pg=bool(pg))  # fmt: skip
    load = Load(kiosks, per_process=per_process, wait_s=plan.wait_s,
                at_once=plan.connect_at_once)  # fmt: skip
    level.generators = 1 + len(load.rest)
    try:
        for port in ports:  # warm-up: imports, key files, database pages
            await _probe(port, kiosks[:5])
        await asyncio.sleep(1)
        idle_per_s = await _baselines(level, plan, kiosks, port=ports[0], pids=pids, pg=pg)

        ramp_started = time.perf_counter()
        load.start()
        await load.all_sent()
        all_sent = time.perf_counter()
        await _until_idle([*pids, *pg], limit_s=plan.wait_s + 30,
                          idle_per_s=idle_per_s)  # fmt: skip
        level.ramp_s = time.perf_counter() - ramp_started
        level.held_rss_kib = _status_kib(pids, "VmRSS")

        window_started, ticks, pg_ticks = time.perf_counter(), _cpu_ticks(pids), _cpu_ticks(pg)
        polls = (await load.status())["polls"]
        try:
            level.probe_loaded_ms = await _probe(ports[0], kiosks[: plan.probes])
        except (OSError, TimeoutError, RuntimeError, asyncio.IncompleteReadError) as error:
            level.probe_failed = f"{_error_kind(error)} {error}".strip()
        # pushes spread over one long-poll period, so some land in the wave of timed-out
        # polls answered and renewed together (they started together)
        await _pushes(load.fleet, enroller.admin, level, plan, period_s=plan.wait_s + 5)
        # every kiosk re-polls once in the window, and each must be answered before the
        # agent's feed read timeout (long_poll_wait_s + request_timeout_s) would fire
        least = window_started + plan.wait_s + 5
        most = max(least, all_sent + plan.wait_s + AGENT_TIMEOUT_S)
        while time.perf_counter() < least or (
            time.perf_counter() < most and (await load.status())["served"] < n
        ):
            await asyncio.sleep(0.5)
        level.window_s = time.perf_counter() - window_started
        status = await load.status()
        level.cpu_pct = (_cpu_ticks(pids) - ticks) / CLK_TCK / level.window_s * 100
        level.pg_cpu_pct = (_cpu_ticks(pg) - pg_ticks) / CLK_TCK / level.window_s * 100
        level.window_polls = status["polls"] - polls
        level.peak_rss_kib = _status_kib(pids, "VmHWM")
        level.served = status["served"]
        level.errors = status["errors"]
        level.problems = servers.problems()
    finally:
        await load.stop()
        level.shutdown = servers.stop()
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


def _level_figures(level: Level, *, group: str = GROUP, label: str = "") -> list[Figure]:
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
    several = level.processes > 1
    servers = f"the {level.processes} server processes" if several else "same server"
    version = ("the summed feed versions in PostgreSQL" if level.pg
               else "SQLite's data_version")  # fmt: skip
    generators = (f"; the kiosks came from {level.generators} generator processes"
                  if level.generators > 1 else "")  # fmt: skip
    figures = []
    if wakes:
        wake_limit = (
            f"{status}. Push commit -> the kiosk holds the answer: the notifier polls {version} "
            f"every 20 ms (avg +10 ms), then the feed is built and signed; "
            f"{len(wakes)} pushes, each {percentile(level.push_ms, 50):.0f} ms to seal+commit "
            f"in the pusher (not counted)"
        )
        figures += [
            Figure(group, f"{n} wake p50", percentile(wakes, 50), "ms",
                   f"feed wait=0 round trip p50, {held}", percentile(probes, 50),
                   limit=wake_limit),
            Figure(group, f"{n} wake p99", percentile(wakes, 99), "ms",
                   f"feed wait=0 round trip p99, {held}", percentile(probes, 99),
                   limit=f"{status}. max {max(wakes):.0f} ms: a push that meets the wave "
                   "of timed-out polls waits behind their feed builds and re-polls' proof "
                   "checks in the 40-thread pool (FIFO); the wave is as long as the ramp x2"),
        ]  # fmt: skip
    figures += [
        Figure(group, f"{n} server RSS", level.held_rss_kib / 1024, "MiB",
               f"{servers} before the kiosks connected", level.idle_rss_kib / 1024,
               limit=f"{held_kib:.1f} KiB per held long-poll (uvicorn connection + h11 + "
               f"Starlette request + coroutine + timeout)"
               + (f", summed over {level.processes} processes" if several else "")
               + f"; peak {level.peak_rss_kib / 1024:.0f} MiB"
               + (" (the sum of each process's peak)" if several else "")
               + f"; shutdown: {level.shutdown or '-'}", note=status),
        Figure(group, f"{n} server CPU", level.cpu_pct, "% of a core",
               f"idle + {polls_per_s:,.0f} polls/s as wait=0 requests", cpu_base,
               limit=f"one long-poll period ({level.window_s:.0f} s, {level.window_polls:,} "
               f"polls answered, {per_poll_ms:.2f} ms CPU each above idle "
               f"{level.idle_pct:.1f} % vs {level.cpu_per_request_ms:.2f} ms per wait=0 "
               f"request of one device); on top: each kiosk's 'last seen' write once a "
               f"minute, after which the notifier re-reads all N feed versions on the event "
               f"loop; "
               + (f"summed over {level.processes} processes (one core each at most, the GIL; "
                  f"2 cores here)" if several else "one process: one core at most (GIL)")
               + f"; accepting all N took {level.ramp_s:.1f} s{generators}",
               note=status),
    ]  # fmt: skip
    if level.pg:
        pg_base = level.pg_idle_pct + level.pg_cpu_per_request_ms / 1000 * polls_per_s * 100
        figures.append(Figure(
            group, f"{n} PostgreSQL CPU", level.pg_cpu_pct, "% of a core",
            f"idle + {polls_per_s:,.0f} polls/s as wait=0 requests", pg_base,
            limit=f"the postmaster and its backends over the same period: "
            f"{level.pg_ms_per_poll:.2f} ms per answered poll above idle (idle "
            f"{level.pg_idle_pct:.1f} %: each process's notifier sums the feed versions every "
            f"20 ms) vs {level.pg_cpu_per_request_ms:.2f} ms per wait=0 request of one device; "
            "each poll looks up its device and reads the feed, 'last seen' is written once a "
            "minute per kiosk (and the proofs' jti once the replay cache lives in "
            "PostgreSQL); fsync on",
            note=status,
        ))  # fmt: skip
    if status != "held" or label:
        figures.append(Figure(
            group, f"{n} kiosks answered", level.served, "kiosks", "kiosks polling", level.n,
            limit=f"server RLIMIT_NOFILE soft {level.server_nofile:,}; {status}",
        ))  # fmt: skip
    return figures


def _estimate(level: Level, group: str, national: National = NATIONAL) -> list[Figure]:
    """The paper estimate for a national roll-out from one measured level (module doc).

    CPU = cycles/s x CPU per cycle (above idle) + each process's idle CPU (its notifier),
    planned at ``cpu_target``; one process per planned core (the GIL)."""
    a = national
    polls_per_s = a.kiosks / a.mean_poll_s
    pushes_per_s = a.kiosks * a.pushes_per_kiosk_day / a.office_day_s * a.peak
    cycles_per_s = polls_per_s + pushes_per_s * a.requests_per_push
    idle_core = level.idle_pct / 100 / level.processes  # one server process, idle
    pg_idle_core = level.pg_idle_pct / 100 / level.processes  # its notifier's queries
    by_fds = math.ceil(a.kiosks / a.nofile_per_process)

    def plan(server_ms: float, pg_ms: float) -> tuple[int, float, float]:
        busy = cycles_per_s * server_ms / 1000
        processes = max(math.ceil(busy / max(a.cpu_target - idle_core, 0.05)), by_fds)
        server = (busy + processes * idle_core) / a.cpu_target
        pg = (cycles_per_s * pg_ms / 1000 + processes * pg_idle_core) / a.cpu_target
        return processes, server, pg

    processes, server_cores, pg_cores = plan(level.server_ms_per_poll, level.pg_ms_per_poll)
    base_processes, base_server, base_pg = plan(level.cpu_per_request_ms,
                                                level.pg_cpu_per_request_ms)  # fmt: skip
    machines = math.ceil(server_cores / a.machine_cores)
    base_machines = math.ceil(base_server / a.machine_cores)
    held_kib = max(level.held_rss_kib - level.idle_rss_kib, 0) / max(level.n, 1)
    idle_kib = level.idle_rss_kib / max(level.processes, 1)
    memory_gib = (a.kiosks * held_kib + processes * idle_kib) / 1024**2
    basis = (
        f"from N={level.n:,} on {level.processes} process(es) ({level.status()}): "
        f"{level.server_ms_per_poll:.2f} ms server CPU and {level.pg_ms_per_poll:.2f} ms "
        f"PostgreSQL CPU per answered poll above idle (steady state), idle {idle_core:.1%} "
        f"of a core per server process and {pg_idle_core:.1%} in PostgreSQL for it (its "
        f"notifier; measured with {level.n:,} devices: a notifier that re-reads every "
        f"device's feed version costs more with more devices), {held_kib:.1f} KiB RSS per "
        f"held poll, {idle_kib / 1024:.0f} MiB per idle process"
    )
    assumptions = (
        f"{a.kiosks:,} kiosks polling every {a.mean_poll_s:.1f} s on average (55 s x "
        f"uniform(0.75, 1) jitter) = {polls_per_s:,.0f} polls/s; {a.pushes_per_kiosk_day:g} "
        f"pushes per kiosk per {a.office_day_s / 3600:g}-hour day, peak hour x{a.peak:g} = "
        f"{pushes_per_s:,.0f} pushes/s, each ~{a.requests_per_push:g} poll cycles (wake "
        f"answer, download, state reports) = {cycles_per_s:,.0f} cycles/s; CPU planned at "
        f"{a.cpu_target:.0%} of each core; one process per core (GIL), at most "
        f"{a.nofile_per_process:,} held polls each (LimitNOFILE=65536); {a.machine_cores}-core "
        f"machines; TLS at the proxy not counted"
    )
    baseline = "the same, priced as wait=0 requests"
    name = f"national {a.kiosks:,} kiosks:"
    return [
        Figure(group, f"{name} server cores", server_cores, "cores", baseline, base_server,
               limit=basis, note=assumptions),
        Figure(group, f"{name} server processes", processes, "processes", baseline,
               base_processes,
               limit=f"{a.kiosks / processes:,.0f} kiosks per process; "
               f"{processes * a.threads_per_process:,} PostgreSQL connections (one per pool "
               "thread): use a pooler (PgBouncer) or fewer threads", note=assumptions),
        Figure(group, f"{name} application machines", machines, "machines", baseline,
               base_machines, limit=f"{a.machine_cores} cores each, plus the proxy",
               note=assumptions),
        Figure(group, f"{name} PostgreSQL cores", pg_cores, "cores", baseline,
               max(base_pg, 1e-9), limit=basis + "; on its own machine(s), fsync'd",
               note=assumptions),
        Figure(group, f"{name} server memory", memory_gib, "GiB",
               "the processes' RSS with no kiosk", processes * idle_kib / 1024**2,
               limit=basis, note=assumptions),
    ]  # fmt: skip


def _pg_commit_ms(url: str, count: int = 200) -> float:
    """One fsync'd PostgreSQL commit (one-row INSERT, autocommit), ms."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (a INTEGER)")
        started = time.perf_counter()
        for index in range(count):
            conn.execute("INSERT INTO bench_commit VALUES (%s)", (index,))
        took = (time.perf_counter() - started) * 1000 / count
        conn.execute("DROP TABLE bench_commit")
    return took


def _levels(plan: Plan, soft: int) -> list[int]:
    """The plan's levels that fit the fd limit, plus one just under it when the next would
    not: a server process holds N/P polls; a single process's generator too (one fd each)."""
    per_server = soft - 512 if plan.processes == 1 else soft - 1024  # + its DB connections
    levels = [n for n in plan.levels if math.ceil(n / plan.processes) <= per_server]
    if not levels:
        raise RuntimeError(f"RLIMIT_NOFILE {soft} is too low for {plan.levels[0]} kiosks")
    ceiling = (soft - 1024) * plan.processes // 500 * 500  # as close to the limit as is safe
    if len(levels) < len(plan.levels) and ceiling > levels[-1]:
        levels.append(ceiling)
    return levels


def measure(plan: Plan) -> list[Figure]:
    biggest = max([*plan.levels, plan.fd_demo])
    soft, _hard = raise_fd_limit(2 * biggest + 4096)
    levels = _levels(plan, soft)
    # one generator process holds this many kiosks; more go to spawned ones
    per_process = min(PER_SOURCE, soft - 2048) if plan.processes > 1 else max(levels)
    per_process = plan.per_generator or per_process
    figures: list[Figure] = []
    group = plan.group
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="cedoka-bench-district-")))  # fmt: skip
        db_url: str | None = None
        postmaster: int | None = None
        if plan.db == "postgresql":
            if (why := pgcluster.missing()) is not None:
                raise RuntimeError(why)
            cluster = stack.enter_context(pgcluster.pg_cluster(
                fsync=True,  # as in production: the commit costs are part of the figures
                settings={"max_connections": str(60 * plan.processes + 100)},
            ))  # fmt: skip
            db_url = cluster.new_database()
            postmaster = cluster.postmaster_pid()
        home = root / "district"
        DistrictAdmin.init(home, name="Bench District", code="74.08", db_url=db_url)
        enroller = Enroller(home, db_url)
        stack.callback(enroller.keys.store.close)
        results: list[Level] = []
        for n in levels:
            enroller.grow(n)
            level = asyncio.run(_level(enroller, home, root, n, plan, nofile=None,
                                       db_url=db_url, postmaster=postmaster,
                                       per_process=per_process))  # fmt: skip
            results.append(level)
            figures += _level_figures(level, group=group)
            if level.broke():
                break
        if plan.fd_demo:
            enroller.grow(plan.fd_demo)
            demo = asyncio.run(_level(enroller, home, root, plan.fd_demo, plan,
                                      nofile=SYSTEMD_NOFILE, db_url=db_url,
                                      postmaster=postmaster))  # fmt: skip
            figures += _level_figures(demo, group=group, label=", server fd limit 1024")
        if db_url is not None:
            commit_ms = _pg_commit_ms(db_url)
            commit = "one fsync'd PostgreSQL commit (autocommit INSERT)"
        else:
            commit_ms = _commit_ms(root)
            commit = "one fsync'd SQLite commit (WAL, synchronous=FULL)"
        enrolled = len(enroller.kiosks)
        last = results[-1]
        capped = ""
        if last.n == levels[-1] and levels != list(plan.levels):
            capped = (f"; no level above {levels[-1]:,}: RLIMIT_NOFILE here is {soft:,}, hard, "
                      "and cannot be raised without CAP_SYS_RESOURCE (one fd per kiosk in "
                      "its server process)")  # fmt: skip
        elif last.broke():
            capped = f"; the run stopped at N={last.n:,}, the first level that broke"
        figures.append(Figure(
            group, f"set-up: enrol one kiosk ({enrolled:,} in {enroller.seconds:.1f} s)",
            enroller.seconds * 1000 / max(enrolled, 1), "ms", commit, commit_ms,
            limit="in-process DistrictService.enroll (one office each): code MAC, key "
            "parsing, three commits (office, code, device); not part of the figures above"
            + capped,
            note=f"bench fd limit {soft:,}; last level {last.n:,}: "
            + last.status(),
        ))  # fmt: skip
        held = [level for level in results if not level.broke() and level.window_polls]
        if plan.db == "postgresql" and held:
            figures += _estimate(held[-1], group)
    return figures
