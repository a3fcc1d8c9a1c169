"""How many idle long-polling kiosks one district server process holds, and how fast a
push wakes one.

    python -m bench.longpoll --devices 1000 --pushes 30

Starts ``cedoka-district serve`` on 127.0.0.1 in a child process, enrols ``--devices``
kiosks (through the service, in this process), opens one long-poll per kiosk with real
proofs over raw asyncio sockets, checks that every one is still held after a few seconds,
reads the server's resident memory, then pushes to random kiosks and times push -> answer.
Baseline in the same run: the round trip of a feed request that answers at once (wait=0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from district.admin import DistrictAdmin
from district.keyring import Keys
from district.service import DistrictService
from kiosk.b64 import b64u_encode
from kiosk.enroll import (
    EnrollRequest,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.model import ReleaseMode
from kiosk.proof import AUTH_SCHEME, RequestFacts, make_proof
from tests.sim.district import make_pdf

OFFICE = "74.08.01.2002"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _enrol(home: Path, count: int) -> list[tuple[str, Ed25519PrivateKey, str]]:
    keys = Keys.open(home)
    admin, service = DistrictAdmin(keys), DistrictService(keys)
    devices = []
    for index in range(count):
        office = f"74.08.{1 + index // 999:02d}.{2001 + index % 999:04d}"  # one kiosk each
        if keys.store.office(office) is None:
            admin.add_office(office, f"Desa Bench {index}")
        code = parse_enroll_code(admin.new_enroll_code(office, valid_s=3600))
        auth, seal = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
        nonce = b64u_encode(secrets.token_bytes(16))
        body = enroll_request_body(
            EnrollRequest(code.code_id, auth.public_key(), seal.public_key(), "bench", nonce), code
        )
        answer = parse_enroll_response(
            service.enroll(body, remote=f"bench-{index}"), code=code, nonce=nonce
        )
        devices.append((answer.device_id, auth, office))
    return devices


async def _request(
    port: int, device_id: str, key: Ed25519PrivateKey, wait: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    target = f"/v1/feed?after=0&kr=1&wait={wait}"
    origin = f"http://127.0.0.1:{port}"
    proof = make_proof(
        RequestFacts(origin, "GET", target, b""), device_id=device_id, key=key,
        now_s=int(time.time()), jti=b64u_encode(secrets.token_bytes(16)),
    ).decode()  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {AUTH_SCHEME} {proof}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader) -> int:
    line = await reader.readline()
    return int(line.split()[1]) if line else 0


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def _until_idle(pid: int, *, limit_s: float = 180) -> float:
    """Wait until the server has worked through its backlog (CPU time stops growing)."""
    started = time.perf_counter()
    last = _cpu_ticks(pid)
    while time.perf_counter() - started < limit_s:
        await asyncio.sleep(1)
        now = _cpu_ticks(pid)
        if now - last <= 2:
            break
        last = now
    return time.perf_counter() - started


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _run(
    home: Path, port: int, pid: int, devices: list[tuple[str, Ed25519PrivateKey, str]], pushes: int
) -> None:
    # baseline: an immediate answer (wait=0), sequentially
    quick = []
    for device_id, key, _ in devices[:30]:
        started = time.perf_counter()
        reader, writer = await _request(port, device_id, key, 0)
        assert await _status(reader) == 200
        await reader.read()
        writer.close()
        quick.append((time.perf_counter() - started) * 1000)
    idle_rss = _rss_kib(pid)
    opened = await asyncio.gather(*(_request(port, d, k, 60) for d, k, _ in devices))
    answers = [asyncio.create_task(_status(reader)) for reader, _ in opened]
    settle_s = await _until_idle(pid)
    print(f"all polls accepted and authenticated after {settle_s:.1f} s")
    held = sum(1 for task in answers if not task.done())
    held_rss = _rss_kib(pid)
    per_poll_kib = (held_rss - idle_rss) / max(held, 1)
    print(
        f"idle long-polls held: {held} of {len(devices)}; server RSS "
        f"{idle_rss / 1024:.0f} MiB idle -> {held_rss / 1024:.0f} MiB ({per_poll_kib:.1f} KiB each)"
    )
    admin = DistrictAdmin(Keys.open(home))
    pdf = make_pdf()
    index = {device_id: i for i, (device_id, _, _) in enumerate(devices)}
    wakes = []
    sample = random.sample(devices, min(pushes + 1, len(devices)))
    for device_id, _, office in sample:
        answer = answers[index[device_id]]
        started = time.perf_counter()
        admin.push(office_code=office, resident="BENCH RESIDENT", documents=[("KK", pdf)],
                   release=ReleaseMode.AUTO, copies=1, lifetime_s=3600)  # fmt: skip
        status = await asyncio.wait_for(answer, timeout=10)
        wakes.append((time.perf_counter() - started) * 1000)
        assert status == 200
    for task in answers:
        task.cancel()
    for _, writer in opened:
        writer.close()
    wakes = sorted(wakes[1:])  # the first push warms up this process (imports, key files)
    p99 = wakes[min(len(wakes) - 1, int(len(wakes) * 0.99))]
    print(
        f"push -> kiosk answered: p50 {statistics.median(wakes):.1f} ms, p99 {p99:.1f} ms "
        f"max {wakes[-1]:.1f} ms (n={len(wakes)}; includes sealing + signing in the pusher)"
    )
    print(f"baseline, immediate feed answer round trip: p50 {statistics.median(quick):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "district"
        DistrictAdmin.init(home, name="Bench District", code="74.08")
        devices = _enrol(home, args.devices)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "district.cli", "--home", str(home), "serve",
             "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=(Path(tmp) / "server.log").open("wb"),
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            asyncio.run(_run(home, port, server.pid, devices, args.pushes))
        except Exception:
            log = (Path(tmp) / "server.log").read_text(errors="replace").splitlines()
            slow = [line for line in log if "ms=" in line and float(line.rsplit("ms=", 1)[1]) > 500]
            print(f"server log: {len(log)} lines, {len(slow)} slower than 500 ms; last:")
            print(*slow[-5:], *log[-5:], sep="\n  ")
            raise
        finally:
            stopping = time.perf_counter()
            server.terminate()
            try:
                server.wait(timeout=30)
                print(f"server stopped {time.perf_counter() - stopping:.1f} s after SIGTERM")
            except subprocess.TimeoutExpired:
                print("server still running 30 s after SIGTERM: killed")
                server.kill()
                server.wait()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
