"""Server CPU per poll cycle, for comparing two versions of the district server on one run
(issue 18; ADR 0029). Not part of ``python -m bench``: a quick probe, 2 cores shared.

    python -m bench.pollcost [--kiosks 300] [--seconds 15]

One ``cedoka-district serve`` process on 127.0.0.1; the server's CPU (utime + stime from
/proc) is read over three phases: idle (the notifier's poll only), ``wait=0`` feed requests
one after another on one keep-alive connection, and N kiosks long-polling with ``wait=1``
so that every poll times out (the timed-out poll cycle: proof, feed state, the wait, a
signed head). Idle CPU is subtracted from the other two.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.district import (
    CLK_TCK,
    Enroller,
    Fleet,
    Server,
    _cpu_ticks,
    _exchange,
    raise_fd_limit,
)
from district.admin import DistrictAdmin

HOST = "127.0.0.1"


async def _phases(
    server: Server, enroller: Enroller, kiosks: int, seconds: float
) -> dict[str, float]:
    pid = server.pid
    await asyncio.sleep(2)
    t0, c0 = time.perf_counter(), _cpu_ticks([pid])
    await asyncio.sleep(seconds / 3)
    idle_per_s = (_cpu_ticks([pid]) - c0) / CLK_TCK / (time.perf_counter() - t0)

    for kiosk in enroller.kiosks:
        kiosk.port = server.port
    fleet = Fleet(enroller.kiosks[:kiosks], wait_s=1, at_once=64)
    reader, writer = await asyncio.open_connection(HOST, server.port, limit=1 << 20)
    count = 0
    t0, c0 = time.perf_counter(), _cpu_ticks([pid])
    deadline = t0 + seconds / 2
    while time.perf_counter() < deadline:
        for kiosk in enroller.kiosks[:50]:
            status, _ = await _exchange(reader, writer, fleet.request(kiosk, 0))
            assert status == 200, status
            count += 1
    took = time.perf_counter() - t0
    immediate_ms = ((_cpu_ticks([pid]) - c0) / CLK_TCK - idle_per_s * took) * 1000 / count
    writer.close()

    fleet.start()
    await asyncio.sleep(3)  # every kiosk connected and polling
    t0, c0, p0 = time.perf_counter(), _cpu_ticks([pid]), fleet.polls
    await asyncio.sleep(seconds)
    took = time.perf_counter() - t0
    cycles = fleet.polls - p0
    cycle_ms = ((_cpu_ticks([pid]) - c0) / CLK_TCK - idle_per_s * took) * 1000 / max(cycles, 1)
    await fleet.stop()
    return {
        "idle_cpu_pct": idle_per_s * 100,
        "wait0_requests": count,
        "wait0_cpu_ms": immediate_ms,
        "poll_cycles": cycles,
        "poll_cycle_cpu_ms": cycle_ms,
        "errors": sum(fleet.errors.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pollcost")
    parser.add_argument("--kiosks", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    raise_fd_limit(4 * args.kiosks + 1024)
    with tempfile.TemporaryDirectory(prefix="cedoka-pollcost-") as tmp:
        home, log = Path(tmp) / "district", Path(tmp) / "server.log"
        DistrictAdmin.init(home, name="Bench District", code="74.08")
        enroller = Enroller(home)
        enroller.grow(max(args.kiosks, 50))
        server = Server(home, log)
        try:
            figures = asyncio.run(_phases(server, enroller, args.kiosks, args.seconds))
        finally:
            stopped = server.stop()
        for name, value in figures.items():
            print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
        print("shutdown:", stopped or "-")


if __name__ == "__main__":
    main()
