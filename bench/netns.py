"""A shaped link that can be cut, between this (root) network namespace and a new one, for
the benchmarks: the "village" side lives in the namespace and reaches the district over a
point-to-point link with a rate, a one-way delay and a random loss on both ends.

    with ShapedLink(Shape(rate_bit_s=64_000, delay_s=0.3, loss=0.05)) as link:
        subprocess.run(link.inside(["curl", f"https://{link.outer_ip}:8443/"]))
        link.cut(); time.sleep(5); link.restore()
        sent, received = link.counters()   # bytes, district side, as `ip -s link` shows

Two ways to shape, the same figures either way:

* **netem** (preferred): a veth pair, ``tc qdisc add dev X root netem rate R delay D loss L``
  on both ends. Needs ``sch_netem`` in the kernel.
* **userspace**: when the kernel has no netem (``CONFIG_NET_SCH_NETEM`` unset, as on the
  Firecracker kernels of our CI), a pair of TUN devices and :class:`Emulator`, a thread of
  this process that moves each IP packet from one device to the other as netem would: drop
  with probability ``loss``, else queue it behind the packets before it at ``rate`` (tail
  drop beyond ``queue_packets``, netem's default limit), then deliver it ``delay`` later.

A cut (:meth:`ShapedLink.cut`) sets both ends down (``ip link set … down``) and empties the
link's queues, as taking a netem device down does; a blackhole route for the link's /30 on
each side makes a cut silent (packets vanish, as on a dead mobile link) instead of leaking
to the default route. Everything made is named ``cdkwl<pid>…`` and removed on exit; what a
crashed run left behind (its pid gone) is removed on entry. Addresses come from
10.254.77.0/30 … 10.254.126.0/30, the first /30 that no interface or route here touches.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import ipaddress
import json
import os
import random
import re
import selectors
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

PREFIX = "cdkwl"
BLACKHOLE_METRIC = 4242
NETEM_LIMIT = 1000  # netem's default queue limit, packets
_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000


@dataclass(frozen=True)
class Shape:
    rate_bit_s: int
    delay_s: float  # one way
    loss: float  # 0 … 1, each direction
    queue_packets: int = NETEM_LIMIT

    @property
    def rtt_s(self) -> float:
        return 2 * self.delay_s

    def describe(self) -> str:
        return (f"{self.rate_bit_s / 1000:g} kbit/s, {self.delay_s * 1000:g} ms each way, "
                f"{self.loss * 100:g} % loss each way")  # fmt: skip


def missing() -> str:
    """Why a shaped link cannot be made here ('' when it can)."""
    if os.geteuid() != 0:
        return "needs root (CAP_NET_ADMIN)"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "needs iproute2 (ip, tc)"
    return ""


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def clean_leftovers() -> list[str]:
    """Remove what a crashed run of this module left behind (its pid no longer runs):
    namespaces and links named ``cdkwl<pid>…``, and blackhole routes of a /30 that no
    interface holds an address in any more. Returns what was removed."""
    removed = []
    owner = re.compile(PREFIX + r"(\d+)")
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        found = owner.match(name)
        if found and not _alive(int(found[1])):
            _ip("netns", "delete", name, check=False)
            removed.append(f"netns {name}")
    for line in _ip("-o", "link", "show").splitlines():
        parts = line.split(":")
        name = parts[1].strip().split("@")[0] if len(parts) > 1 else ""
        found = owner.match(name)
        if found and not _alive(int(found[1])):
            _ip("link", "delete", name, check=False)
            removed.append(f"link {name}")
    held = {ipaddress.ip_interface(a).ip for a in _addresses()}
    for line in _ip("-4", "route", "show", "type", "blackhole").splitlines():
        words = line.split()
        if len(words) < 2 or f"metric {BLACKHOLE_METRIC}" not in line:
            continue
        net = ipaddress.IPv4Network(words[1], strict=False)
        ours = net.subnet_of(ipaddress.IPv4Network("10.254.0.0/16"))
        if ours and not any(address in net for address in held):
            _ip("route", "del", "blackhole", str(net), "metric", str(BLACKHOLE_METRIC),
                check=False)  # fmt: skip
            removed.append(f"route blackhole {net}")
    return removed


def _addresses() -> list[str]:
    found = []
    for line in _ip("-o", "-4", "addr", "show").splitlines():
        words = line.split()
        if "inet" in words:
            found.append(words[words.index("inet") + 1])
    return found


def _free_subnet() -> ipaddress.IPv4Network:
    """The first 10.254.N.0/30 (N = 77 … 126) that no address or route here overlaps."""
    taken: list[ipaddress.IPv4Network] = [ipaddress.IPv4Interface(a).network for a in _addresses()]
    for line in _ip("-4", "route", "show", "table", "all").splitlines():
        words = line.split()
        first = words[1] if words and words[0] in {"local", "broadcast", "blackhole",
                                                   "unreachable", "prohibit"} else (
            words[0] if words else "")  # fmt: skip
        if first in {"", "default"}:
            continue
        with contextlib.suppress(ValueError):
            net = ipaddress.IPv4Network(first, strict=False)
            if net.prefixlen:
                taken.append(net)
    for third in range(77, 127):
        candidate = ipaddress.IPv4Network(f"10.254.{third}.0/30")
        if not any(candidate.overlaps(net) for net in taken):
            return candidate
    raise RuntimeError("no free /30 in 10.254.77.0 - 10.254.126.255")


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


class _Direction:
    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.busy_until = 0.0  # when the link finishes sending what is queued
        self.queued = 0
        self.peak = 0  # most packets queued at once
        self.offered = 0  # packets the sender put on the link
        self.lost = 0
        self.overflowed = 0
        self.delivered_bytes = 0


class Emulator(threading.Thread):
    """netem in userspace between two TUN devices (see the module's docstring)."""

    def __init__(self, outer_fd: int, inner_fd: int, shape: Shape, *, seed: int) -> None:
        super().__init__(name="link-emulator", daemon=True)
        self.shape = shape
        self.down = _Direction(inner_fd)  # district -> kiosk
        self.up = _Direction(outer_fd)  # kiosk -> district
        self._from = {outer_fd: self.down, inner_fd: self.up}
        self.seed = seed
        self._random = random.Random(seed)
        self._heap: list[tuple[float, int, _Direction, bytes]] = []
        self._order = 0
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False

    def flush(self) -> None:
        """Drop everything queued (the link went down)."""
        with self._lock:
            self._heap.clear()
            for direction in (self.down, self.up):
                direction.queued, direction.busy_until = 0, 0.0

    def reseed(self) -> None:
        with self._lock:
            self._random.seed(self.seed)

    def stop(self) -> None:
        self._stopping = True
        os.write(self._wake_w, b"x")
        self.join(timeout=5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _admit(self, direction: _Direction, packet: bytes, now: float) -> None:
        direction.offered += 1
        if self._random.random() < self.shape.loss:
            direction.lost += 1
            return
        if direction.queued >= self.shape.queue_packets:
            direction.overflowed += 1
            return
        start = max(now, direction.busy_until)
        direction.busy_until = start + len(packet) * 8 / self.shape.rate_bit_s
        direction.queued += 1
        direction.peak = max(direction.peak, direction.queued)
        self._order += 1
        due = direction.busy_until + self.shape.delay_s
        heapq.heappush(self._heap, (due, self._order, direction, packet))

    def run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for fd in (*self._from, self._wake_r):
                selector.register(fd, selectors.EVENT_READ)
            while not self._stopping:
                with self._lock:
                    due = self._heap[0][0] if self._heap else None
                timeout = None if due is None else max(0.0, due - time.monotonic())
                for key, _ in selector.select(timeout):
                    fd = key.fd
                    if fd == self._wake_r:
                        os.read(fd, 64)
                        continue
                    self._read_all(fd)
                self._deliver_due()

    def _read_all(self, fd: int) -> None:
        direction = self._from[fd]
        while True:
            try:
                packet = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            with self._lock:
                self._admit(direction, packet, time.monotonic())

    def _deliver_due(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > now:
                    return
                _, _, direction, packet = heapq.heappop(self._heap)
                direction.queued -= 1
            try:
                os.write(direction.out_fd, packet)
                direction.delivered_bytes += len(packet)
            except OSError:  # the far end is down: the packet is lost
                direction.lost += 1


class ShapedLink:
    """The namespace, the link, its shaping and its cuts (see the module's docstring)."""

    def __init__(self, shape: Shape, *, seed: int = 8) -> None:
        self.shape, self.seed = shape, seed
        self.name = f"{PREFIX}{os.getpid()}"
        self.netns = self.name
        self.outer, self.inner = self.name + "d", self.name + "k"  # district, kiosk ends
        self.subnet = ipaddress.IPv4Network("10.254.77.0/30")
        self.mode = ""
        self.emulator: Emulator | None = None
        self._fds: list[int] = []
        self._routed = False
        self.leftovers: list[str] = []

    @property
    def outer_ip(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def inner_ip(self) -> str:
        return str(self.subnet.network_address + 2)

    def inside(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run in the namespace (``ip netns exec``: exec, no extra process)."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def __enter__(self) -> ShapedLink:
        self.leftovers = clean_leftovers()
        try:
            self.subnet = _free_subnet()
            _ip("netns", "add", self.netns)
            _ip("-n", self.netns, "link", "set", "lo", "up")
            if not self._veth_netem():
                self._tun_userspace()
            _ip("-n", self.netns, "route", "add", "blackhole", str(self.subnet), "metric",
                str(BLACKHOLE_METRIC))  # fmt: skip
            _ip("route", "add", "blackhole", str(self.subnet), "metric", str(BLACKHOLE_METRIC))
            self._routed = True
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def _netem_args(self) -> list[str]:
        s = self.shape
        return ["root", "netem", "rate", f"{s.rate_bit_s}bit", "delay", f"{s.delay_s * 1000:g}ms",
                "loss", f"{s.loss * 100:g}%", "limit", str(s.queue_packets)]  # fmt: skip

    def _veth_netem(self) -> bool:
        """veth pair + netem on both ends; False (nothing left made) without netem."""
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        tc = subprocess.run(["tc", "qdisc", "add", "dev", self.outer, *self._netem_args()],
                            capture_output=True, text=True, check=False)  # fmt: skip
        if tc.returncode != 0:
            _ip("link", "delete", self.outer, check=False)
            return False
        _ip("link", "set", self.inner, "netns", self.netns)
        subprocess.run(["tc", "-n", self.netns, "qdisc", "add", "dev", self.inner,
                        *self._netem_args()], check=True, capture_output=True)  # fmt: skip
        prefix = self.subnet.prefixlen
        _ip("addr", "add", f"{self.outer_ip}/{prefix}", "dev", self.outer)
        _ip("-n", self.netns, "addr", "add", f"{self.inner_ip}/{prefix}", "dev", self.inner)
        self.restore()
        self.mode = "veth + tc netem"
        return True

    def _tun_userspace(self) -> None:
        outer_fd = _open_tun(self.outer)
        self._fds.append(outer_fd)
        inner_fd = _open_tun(self.inner)
        self._fds.append(inner_fd)
        _ip("link", "set", self.inner, "netns", self.netns)
        _ip("addr", "add", self.outer_ip, "peer", self.inner_ip, "dev", self.outer)
        _ip("-n", self.netns, "addr", "add", self.inner_ip, "peer", self.outer_ip, "dev",
            self.inner)  # fmt: skip
        self.emulator = Emulator(outer_fd, inner_fd, self.shape, seed=self.seed)
        self.emulator.start()
        self.restore()
        self.mode = "TUN pair + userspace netem (this kernel has no sch_netem)"

    def cut(self) -> None:
        """The link goes down at both ends; what it held is lost."""
        _ip("link", "set", self.outer, "down")
        _ip("-n", self.netns, "link", "set", self.inner, "down")
        if self.emulator is not None:
            self.emulator.flush()

    def restore(self) -> None:
        _ip("link", "set", self.outer, "up")
        _ip("-n", self.netns, "link", "set", self.inner, "up")

    def counters(self) -> tuple[int, int]:
        """(bytes sent towards the kiosk, bytes received from it) on the district's end:
        the ``ip -s link`` TX and RX counters."""
        stats = Path("/sys/class/net") / self.outer / "statistics"
        return int((stats / "tx_bytes").read_text()), int((stats / "rx_bytes").read_text())

    def queue_peak(self, *, reset: bool = False) -> str:
        """How deep the link's queue towards the kiosk got (userspace mode only)."""
        if self.emulator is None:
            return ""
        down = self.emulator.down
        seconds = down.peak * 1500 * 8 / self.shape.rate_bit_s
        said = f"queue towards the kiosk peaked at {down.peak} packets (~{seconds:.1f} s)"
        said += f", {down.lost} of {down.offered} packets lost"
        if reset:
            down.peak, down.lost, down.offered = 0, 0, 0
            self.emulator.reseed()  # each measured transfer meets the same loss draws
        return said

    def kiosk_received(self) -> int:
        """Bytes the kiosk's end has received (its RX counter, read in the namespace)."""
        shown = json.loads(_ip("-n", self.netns, "-j", "-s", "link", "show", "dev", self.inner))
        return int(shown[0]["stats64"]["rx"]["bytes"])

    def close(self) -> None:
        """Remove everything made (idempotent)."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        _ip("link", "delete", self.outer, check=False)  # veth: both ends go
        if self._routed:
            _ip("route", "del", "blackhole", str(self.subnet), "metric",
                str(BLACKHOLE_METRIC), check=False)  # fmt: skip
            self._routed = False
        _ip("netns", "delete", self.netns, check=False)
