"""The kiosk screen (issue 8, figure 6): release tap -> submitted, and the window's start-up.

A district and an enrolled ``cedoka run`` (virtual printer) run as real processes
(:mod:`bench.stack`).

**Release tap.** ``jobs`` claim-code jobs of one realistic KK PDF are pushed and held; then,
through the real local API as the screen calls it (secret header, one login), each is
released as staff do it: ``POST /api/claim`` with the code, ``POST /api/release`` with the
ticket. The release answer comes after printing; the document is *submitted* when the
agent logs ``document_printed`` (the virtual printer has written the file: for a folder,
submitting is printing). Baseline, interleaved job by job: the round trip of a trivial
authenticated call (``GET /api/state`` on the same kept-alive connection), once per call the
screen makes, plus the virtual printer's own work (the same bytes written durably to the
same folder), plus for a claim the Argon2id hash of the code it must compute (the
district's default cost: deliberate, against guessing). That round trip is itself compared
with the same call on a new connection.

**Window start-up.** ``cedoka kiosk`` (fullscreen, Qt WebEngine) under Xvfb with a window
manager, against the running agent, from process start to the page loaded (its own log line
``event=kiosk_window_ready ms=…``, the process's age). Baseline, alternating run by run: a
bare pywebview window with the same backend and the same window options loading a trivial
HTML page from a local HTTP server, timed the same way. One warm-up run of each is not
counted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench._delivery_tools import LogTail, durable_write_ms, missing, ms, realistic_pdf
from bench.byteserver import BytesServer
from bench.result import Figure, median, percentile
from bench.stack import RESIDENT, Stack
from kiosk.claim import DEFAULT as CLAIM_PARAMS
from kiosk.claim import claim_digest
from kiosk.model import ReleaseMode
from ui.demo import OFFICE_CODE, OPERATORS, agent_command, child_env
from ui.guard import SECRET_HEADER

JOBS, QUICK_JOBS = 30, 5
RUNS, QUICK_RUNS = 5, 2
TAP = "kiosk, release tap (virtual printer)"
WINDOW = "kiosk, window start-up"
WINDOW_TIMEOUT_S = 60.0
_READY = re.compile(r"event=(?:kiosk|bare)_window_ready ms=(\d+)")

# The baseline window: pywebview alone, with the options ui/window.py gives the kiosk window,
# on a trivial page; it reports its age at the first page load as ui.window does.
BARE_WINDOW = """
import os, sys, time

def age_ms():
    fields = open('/proc/self/stat').read().rpartition(')')[2].split()
    started_s = int(fields[19]) / os.sysconf('SC_CLK_TCK')
    return round((time.clock_gettime(time.CLOCK_BOOTTIME) - started_s) * 1000)

if os.geteuid() == 0 and not os.environ.get('QTWEBENGINE_CHROMIUM_FLAGS'):
    os.environ['QTWEBENGINE_CHROMIUM_FLAGS'] = '--no-sandbox'
import webview

window = webview.create_window(
    'bare', sys.argv[1], width=1280, height=800, fullscreen=True, confirm_close=False,
    text_select=False, zoomable=False, background_color='#eef1f4')
window.events.loaded += lambda: print(f'event=bare_window_ready ms={age_ms()}',
                                      file=sys.stderr, flush=True)
webview.start(gui='qt', debug=False, private_mode=True)
"""
BARE_PAGE = b"<!doctype html><html><head><title>bare</title></head><body>ready</body></html>"


def run(quick: bool) -> list[Figure]:
    return measure(jobs=QUICK_JOBS if quick else JOBS, runs=QUICK_RUNS if quick else RUNS)


def measure(*, jobs: int, runs: int) -> list[Figure]:
    pdf = realistic_pdf()
    with (
        tempfile.TemporaryDirectory(prefix="cedoka-bench-kiosk-") as tmp,
        Stack(Path(tmp) / "stack") as stack,
    ):
        return _taps(stack, pdf, jobs) + _windows(stack, Path(tmp), runs)


# --- release tap -> submitted -----------------------------------------------------------------


class Screen:
    """The local API as the kiosk screen calls it (secret header, session header)."""

    def __init__(self, window_url: str) -> None:
        base, _, secret = window_url.partition("#k=")
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers[SECRET_HEADER] = secret

    def call(self, method: str, path: str, body: object = None) -> Any:
        answer = self.session.request(method, self.base + path, json=body, timeout=120)
        if answer.status_code != 200:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def login(self, operator: str, pin: str) -> None:
        self.session.headers["x-cedoka-session"] = self.call(
            "POST", "/api/login", {"operator": operator, "pin": pin}
        )["session"]

    def close(self) -> None:
        self.session.close()


def _since_ms(started_s: float, at_s: float) -> float:
    return (at_s - started_s) * 1000


def _fresh_state_ms(screen: Screen) -> float:
    """GET /api/state on a new connection (connect included), closed after."""
    started = time.perf_counter()
    with requests.Session() as fresh:
        fresh.trust_env = False
        answer = fresh.get(
            screen.base + "/api/state", headers=dict(screen.session.headers), timeout=60
        )
        answer.raise_for_status()
    return (time.perf_counter() - started) * 1000


def _argon2id_ms(code: str, device_id: str) -> float:
    """The slow hash a claim costs (once per claim, the district's default parameters)."""
    started = time.perf_counter()
    claim_digest(code, device_id=device_id, params=CLAIM_PARAMS)
    return (time.perf_counter() - started) * 1000


@dataclass
class Taps:
    """Per released job, in ms."""

    whole: list[float] = field(default_factory=list)  # code entered -> submitted
    tap: list[float] = field(default_factory=list)  # print tap -> submitted
    answer: list[float] = field(default_factory=list)  # print tap -> the answer on the screen
    claim: list[float] = field(default_factory=list)  # POST /api/claim
    state: list[float] = field(default_factory=list)  # GET /api/state, kept-alive connection
    fresh: list[float] = field(default_factory=list)  # GET /api/state, new connection
    argon2id: list[float] = field(default_factory=list)
    write: list[float] = field(default_factory=list)  # the virtual printer's own write


def _push_held(stack: Stack, agent: LogTail, pdf: bytes, count: int) -> dict[str, str]:
    """Push ``count`` claim-code jobs and wait until all are held; job id -> claim code."""
    codes: dict[str, str] = {}
    for _ in range(count):
        pushed = stack.admin.push(
            office_code=OFFICE_CODE,
            resident=RESIDENT,
            documents=[("KK", pdf)],
            release=ReleaseMode.CLAIM,
            copies=1,
            lifetime_s=3600,
        )
        if pushed.claim_code is None:
            raise RuntimeError("a claim job without a claim code")
        codes[pushed.job_id] = pushed.claim_code
    agent.wait(
        f"{count} jobs held", lambda: all("state:held" in agent.marks.get(j, {}) for j in codes)
    )
    return codes


def _release_all(stack: Stack, agent: LogTail, pdf: bytes, codes: dict[str, str]) -> Taps:
    taps = Taps()
    operator, _, pin, _ = OPERATORS[0]
    screen = Screen(stack.screen_url)
    try:
        screen.login(operator, pin)
        for index, (job_id, code) in enumerate(codes.items()):
            state_started = time.perf_counter()
            screen.call("GET", "/api/state")
            state_ms = (time.perf_counter() - state_started) * 1000
            fresh_ms = _fresh_state_ms(screen)
            argon2id_ms = _argon2id_ms(code, stack.device_id)
            started = time.time()
            claimed = screen.call("POST", "/api/claim", {"code": code})
            tapped = time.time()
            released = screen.call("POST", "/api/release", {"ticket": claimed["ticket"]})
            answered = time.time()
            if released != {"jobs": [{"job_id": job_id, "state": "printed"}]}:
                raise RuntimeError(f"release of {job_id} answered {released}")
            submitted = agent.wait_mark(job_id, "document_printed")["document_printed"]
            write_ms = durable_write_ms(stack.printed / f"floor-{index}.pdf", pdf)
            if index == 0:
                continue  # warm-up
            taps.whole.append(_since_ms(started, submitted))
            taps.tap.append(_since_ms(tapped, submitted))
            taps.answer.append(_since_ms(tapped, answered))
            taps.claim.append(_since_ms(started, tapped))
            taps.state.append(state_ms)
            taps.fresh.append(fresh_ms)
            taps.argon2id.append(argon2id_ms)
            taps.write.append(write_ms)
    finally:
        screen.close()
    return taps


def _taps(stack: Stack, pdf: bytes, jobs: int) -> list[Figure]:
    agent = LogTail(stack.root / "logs" / "agent.log")
    codes = _push_held(stack, agent, pdf, jobs + 1)  # the first is a warm-up
    t = _release_all(stack, agent, pdf, codes)
    one = [f + w for f, w in zip(t.fresh, t.write, strict=True)]
    two = [2 * f + a + w for f, a, w in zip(t.fresh, t.argon2id, t.write, strict=True)]
    note = (
        f"{jobs} held jobs of one {len(pdf) / 1000:.0f} KB PDF released one by one; "
        f"POST /api/claim {ms(t.claim)}; Argon2id {ms(t.argon2id)}; GET /api/state on a new "
        f"connection {ms(t.fresh)}, kept-alive {ms(t.state)}; fsync'd write {ms(t.write)}"
    )
    trip = (
        "a trivial authenticated API round trip (GET /api/state) on a new connection, "
        "connect included: an upper bound for a call on the screen's kept-alive connection "
        "(see the round-trip figure)"
    )
    limit_two = (
        f"the claim's Argon2id hash (64 MiB, t=2: deliberate, against guessing) + 2 x {trip} "
        "(the screen makes two calls) + the virtual printer's own durable write of the "
        "same bytes"
    )
    limit_one = f"{trip} + the virtual printer's own durable write of the same bytes"
    figures = [
        Figure(
            TAP,
            f"code + print tap -> submitted, p{p}",
            percentile(t.whole, p),
            "ms",
            "Argon2id + 2 x API trip + write",
            percentile(two, p),
            limit_two,
            note,
        )
        for p in (50, 99)
    ]
    figures += [
        Figure(
            TAP,
            f"print tap -> submitted, p{p}",
            percentile(t.tap, p),
            "ms",
            "API trip + write",
            percentile(one, p),
            limit_one,
            note,
        )
        for p in (50, 99)
    ]
    figures += [
        Figure(
            TAP,
            f"print tap -> answer on the screen, p{p}",
            percentile(t.answer, p),
            "ms",
            "API trip + write",
            percentile(one, p),
            limit_one,
            "the answer comes once the document is printed; " + note,
        )
        for p in (50, 99)
    ]
    figures.append(
        Figure(
            TAP,
            "API round trip (GET /api/state, kept-alive), p50",
            percentile(t.state, 50),
            "ms",
            "same call, new connection",
            percentile(t.fresh, 50),
            "the same call on a new TCP connection (connect included): a call on "
            "a kept-alive connection, as the screen makes them, should be faster",
            note,
        )
    )
    return figures


# --- window start-up ----------------------------------------------------------------------------


def _window_stack_missing() -> list[str]:
    absent = [tool for tool in ("Xvfb", "matchbox-window-manager") if shutil.which(tool) is None]
    return absent + [m for m in ("webview", "PyQt6") if importlib.util.find_spec(m) is None]


@contextlib.contextmanager
def _screen() -> Iterator[str]:
    """An X screen (Xvfb 1280x800) with a window manager (fullscreen needs one)."""
    from tests.ui.xdisplay import end, start_xvfb

    name, xvfb = start_xvfb()
    manager: subprocess.Popen[bytes] | None = None
    try:
        manager = subprocess.Popen(
            ["matchbox-window-manager", "-use_titlebar", "no"],
            env={**os.environ, "DISPLAY": name},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.2)
        if manager.poll() is not None:
            raise RuntimeError("matchbox-window-manager did not start")
        yield name
    finally:
        if manager is not None:
            end(manager)
        end(xvfb)


@contextlib.contextmanager
def _bare_page() -> Iterator[str]:
    """A trivial HTML page from a local HTTP server (as the agent serves the kiosk's)."""

    with BytesServer(BARE_PAGE, content_type="text/html; charset=utf-8") as server:
        yield server.url


def _window_env(display: str) -> dict[str, str]:
    env = {**child_env(), "DISPLAY": display}
    env.pop("QTWEBENGINE_CHROMIUM_FLAGS", None)  # each sets it itself when it runs as root
    env.pop("WAYLAND_DISPLAY", None)
    return env


def _start_up_ms(argv: Sequence[str], env: dict[str, str], log: Path) -> float:
    """Start a window process, wait for its ``…_window_ready ms=N`` line, close it (and its
    QtWebEngineProcess helpers, in its process group); N."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while True:
            found = _READY.search(log.read_text(errors="replace"))
            if found is not None:
                return float(found[1])
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-8:]
                raise RuntimeError(
                    f"{argv[-1]}: no page within {WINDOW_TIMEOUT_S:g} s (exit "
                    f"{proc.poll()}):\n  " + "\n  ".join(tail)
                )
            time.sleep(0.02)
    finally:
        _close_window(proc)


def _close_window(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived their window
    if proc.poll() is None:
        proc.wait()


def _windows(stack: Stack, tmp: Path, runs: int) -> list[Figure]:
    absent = _window_stack_missing()
    if absent:
        return [
            missing(
                WINDOW,
                "process start -> page loaded",
                f"needs {', '.join(absent)} (install.sh --test)",
            )
        ]
    ours: list[float] = []
    bare: list[float] = []
    kiosk = [*agent_command(), "--home", str(stack.demo.kiosk_home), "kiosk"]
    warm = ""
    with _screen() as display, _bare_page() as url:
        env = _window_env(display)
        for index in range(runs + 1):  # the first of each is a warm-up
            got_bare = _start_up_ms(
                [sys.executable, "-c", BARE_WINDOW, url], env, tmp / f"bare-{index}.log"
            )
            got_ours = _start_up_ms(kiosk, env, tmp / f"kiosk-{index}.log")
            if index == 0:
                warm = f"warm-up runs (not counted): cedoka kiosk {got_ours:.0f} ms, bare "
                warm += f"{got_bare:.0f} ms"
                continue
            bare.append(got_bare)
            ours.append(got_ours)
    return [
        Figure(
            WINDOW,
            "process start -> page loaded, median",
            median(ours),
            "ms",
            "bare pywebview window",
            median(bare),
            "a bare pywebview window (same Qt WebEngine backend, window options, Xvfb and "
            "window manager) loading a trivial page from a local HTTP server, timed the "
            "same way (the process's age at its first page load)",
            f"{runs} runs each, alternating; cedoka kiosk {', '.join(f'{v:.0f}' for v in ours)}"
            f" ms; bare {', '.join(f'{v:.0f}' for v in bare)} ms; {warm}",
        )
    ]
