"""``cedoka demo``: the whole product on one machine, for a newcomer.

It starts, each as its own real process: a district server on 127.0.0.1 (``cedoka-district
serve``, embedded SQLite), a kiosk agent enrolled with it (``cedoka run``, printing to the
virtual printers, or to a CUPS queue given with ``--printer``), and the kiosk window
(``cedoka kiosk``) when there is a display; then it pushes the specimen jobs of
:mod:`district.samples` (fake data) through ``cedoka-district push-samples`` and prints their
claim codes, the operators' PINs and where the printed PDFs land. Ctrl-C (SIGINT) or SIGTERM
stops the window, then the agent, then the server, and exits 0; a part that dies on its own
stops the rest, and the demo exits 1 after showing the end of that part's log.

This module is an orchestrator, not a second implementation: the district runs through its
command line (``ui`` may not import ``district``), the agent through the same ``cedoka run``
as on a village PC. It enrols and adds the operators in-process (agent API).

The demo directory (``--dir``) holds everything: ``district/`` and ``kiosk/`` homes, the
virtual printers' output (``printed/``, ``receipts/``) and ``logs/``. It is wiped at the next
start, and only if it carries the demo's marker file, so ``--dir`` cannot wipe anything else.
One demo per directory: the running one holds an exclusive ``flock`` on ``.cedoka-demo.lock``
in it (released by the kernel when that demo ends, however it ends), and a second ``cedoka
demo`` on the same directory is refused with exit status 6 before it touches anything. The
lock file itself is never wiped, so the lock a running demo holds stays the one others see.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests

from agent.app import agent_version
from agent.enrolment import enroll
from agent.files import private_dir
from agent.home import HomeLayout
from agent.operator_home import operator_book
from agent.settings import load_config, save_config
from kiosk.errors import CedokaError, OperatorError
from ui import window

MARKER = ".cedoka-demo"
LOCK = ".cedoka-demo.lock"  # held (flock) by the demo running in the directory
EXIT_DEMO_RUNNING = 6
DISTRICT_NAME, DISTRICT_CODE = "Disdukcapil Kolaka Utara (demo)", "74.08"
OFFICE_CODE, OFFICE_NAME = "74.08.01.2002", "Desa Pitulua"
# (id, name, PIN, supervisor): fake staff of the demo office; the PINs are printed on purpose.
DEMO_ADMIN = "admin.demo"  # district IT's user in the demo (its password is made per run)
OPERATORS = (("siti", "Siti Aminah", "2580", False), ("budi", "Budi Santoso", "1470", True))
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = {"window": 10.0, "agent": 30.0, "district": 10.0}
LOG_TAIL_LINES = 15
# Set in a child's environment, these would point it at a production install's files.
FOREIGN_ENV = ("CEDOKA_HOME", "CEDOKA_DISTRICT_HOME", window.URL_FILE_ENV)
_PR_SET_PDEATHSIG = 1


class DemoError(OperatorError):
    """The demo cannot start or a part of it failed (the message says which and why);
    ``exit_status``: the demo's exit status for it (1, or 5: a demo runs in the directory)."""

    def __init__(self, message: str, *, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


@dataclass
class Part:
    """One running process of the demo."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class SampleJob:
    title: str
    job_id: str
    claim_code: str | None
    documents: list[str]
    cards: list[str]


@dataclass
class Demo:
    root: Path
    printers: dict[str, str]
    want_window: bool
    stop: threading.Event
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    parts: list[Part] = field(default_factory=list)
    lock_fd: int | None = field(default=None, repr=False)  # the directory's lock, once held
    admin_password: str = field(default_factory=lambda: "demo-" + secrets.token_urlsafe(12),
                                repr=False)  # fmt: skip

    @property
    def district_home(self) -> Path:
        return self.root / "district"

    @property
    def kiosk_home(self) -> Path:
        return self.root / "kiosk"

    # --- start ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Take the directory's lock, then wipe the previous demo in ``root`` (only a demo
        directory; never the lock file) and recreate it.

        Raises:
            DemoError: ``root`` is not a directory, not the demo's, or another demo runs in
                it (``exit_status`` 5; nothing is touched).
        """
        if self.root.exists():
            if not self.root.is_dir():
                raise DemoError(f"{self.root} is not a directory: choose another --dir")
            others = [p for p in self.root.iterdir() if p.name != LOCK]
            if others and not (self.root / MARKER).exists():
                raise DemoError(
                    f"{self.root} is not empty and was not made by 'cedoka demo': "
                    "choose another --dir (the demo wipes its directory at each start)"
                )
        private_dir(self.root)
        self.lock_fd = take_lock(self.root / LOCK)
        for old in self.root.iterdir():
            if old.name == LOCK:
                continue
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        (self.root / MARKER).write_text("made by cedoka demo: wiped at its next start\n")
        for sub in ("logs", "printed", "receipts"):
            private_dir(self.root / sub)

    def start_district(self, *, port: int | None = None, public_url: str | None = None) -> str:
        """Create the district (keys, the demo office), serve it on ``port`` (a free one by
        default); return its base URL. ``public_url``: the URL the kiosk uses when it is not
        the server's own (a forwarder in front of it); its proofs are checked against it."""
        self._district("init", "--name", DISTRICT_NAME, "--code", DISTRICT_CODE)
        self._district("office", "add", OFFICE_CODE, "--name", OFFICE_NAME)
        # District IT's demo login for the web console and the admin API: a fresh password
        # each run, printed in the banner (never a fixed secret in the code)
        self._district("user", "add", DEMO_ADMIN, "--name", "Admin Demo", "--role", "admin",
                       "--password-stdin", stdin=self.admin_password + "\n")  # fmt: skip
        port = free_port() if port is None else port
        url = f"http://127.0.0.1:{port}"
        public = [] if public_url is None else ["--public-url", public_url]
        self._spawn("district", [*district_command(), "--home", str(self.district_home),
                                 "serve", "--listen", f"127.0.0.1:{port}", *public])  # fmt: skip
        self._wait("the district server", lambda: answers(url + "/v1/feed"))
        return url

    def enrol(self, server_url: str) -> str:
        """Enrol the demo kiosk with the district and add its operators; return its id."""
        code = self._district("enroll-code", OFFICE_CODE).strip()
        done = enroll(self.kiosk_home, server_url=server_url, code=code,
                      printers=self.printers, agent=agent_version())  # fmt: skip
        # A demo home: its settings screen may choose folder printers (never on a village PC).
        config = load_config(self.kiosk_home)
        save_config(self.kiosk_home, replace(config, allow_virtual_printers=True))
        with operator_book(self.kiosk_home) as book:
            for operator_id, name, pin, supervisor in OPERATORS:
                role = "supervisor" if supervisor else "staff"
                book.add(operator_id, name=name, role=role, pin=pin)
        return done.device_id

    def start_agent(self) -> str:
        """Start ``cedoka run``; return the kiosk screen's URL once it is served."""
        self._spawn("agent", [*agent_command(), "--home", str(self.kiosk_home), "run"])
        url_file = HomeLayout(self.kiosk_home).kiosk_url
        self._wait("the kiosk agent", url_file.exists)
        url = window.read_window_url(url_file)
        if url is None:  # removed again: the agent stopped at once
            raise DemoError(
                "the kiosk agent stopped while starting: see " + str(self._log("agent"))
            )
        return url

    def push_samples(self) -> list[SampleJob]:
        out = self._district("push-samples", "--office", OFFICE_CODE, "--json")
        try:
            return [SampleJob(title=str(j["title"]), job_id=str(j["job_id"]),
                              claim_code=j["claim_code"], documents=list(j["documents"]),
                              cards=list(j["cards"])) for j in json.loads(out)]  # fmt: skip
        except (ValueError, KeyError, TypeError) as error:
            raise DemoError(f"push-samples printed unexpected JSON ({error})") from None

    def start_window(self) -> None:
        self._spawn("window", [*agent_command(), "--home", str(self.kiosk_home), "kiosk",
                               "--windowed", "--wait", "30"])  # fmt: skip

    # --- run -----------------------------------------------------------------------------

    def supervise(self) -> int:
        """Until ``stop`` is set: 0; a part that ends on its own ends the demo (the window
        closed by the user: 0; anything else: 1, with the end of its log)."""
        while not self.stop.is_set():
            for part in self.parts:
                code = part.proc.poll()
                if code is None:
                    continue
                if part.name == "window" and code == 0:
                    self.say("\nThe kiosk window was closed: stopping the demo.")
                    return 0
                self.say(f"\nThe {part.name} stopped on its own (exit status {code}); "
                         "the end of its log:")  # fmt: skip
                self.say(log_tail(part.log))
                return 1
            time.sleep(0.2)
        return 0

    def shutdown(self) -> list[str]:
        """Stop every part, the last started first; return the parts that had to be killed."""
        killed = []
        for part in reversed(self.parts):
            if part.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    part.proc.send_signal(signal.SIGTERM)
                try:
                    part.proc.wait(timeout=STOP_TIMEOUT_S[part.name])
                except subprocess.TimeoutExpired:
                    part.proc.kill()
                    part.proc.wait()
                    killed.append(part.name)
        return killed

    # --- helpers -------------------------------------------------------------------------

    def _log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        log = self._log(name)
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                env=child_env(), start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (the demo runs no threads)
            )  # fmt: skip
        self.parts.append(Part(name, proc, log))

    def _district(self, *argv: str, stdin: str | None = None) -> str:
        """Run one ``cedoka-district`` command on the demo's district (``stdin``: what to
        write to it); return its stdout."""
        done = subprocess.run(
            [*district_command(), "--home", str(self.district_home), *argv],
            capture_output=True, text=True, env=child_env(), input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            timeout=120, check=False, start_new_session=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise DemoError(f"cedoka-district {argv[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if self.stop.is_set():
                raise DemoStoppedError
            for part in self.parts:
                if part.proc.poll() is not None:
                    raise DemoError(f"{what} stopped while starting; the end of its log:\n"
                                    + log_tail(part.log))  # fmt: skip
            if time.monotonic() > deadline:
                raise DemoError(f"{what} did not start within {START_TIMEOUT_S:g} s; "
                                f"see the logs in {self.root / 'logs'}")  # fmt: skip
            time.sleep(0.1)


class DemoStoppedError(CedokaError):
    """Ctrl-C while the demo was starting."""


def take_lock(path: Path) -> int:
    """Hold an exclusive ``flock`` on ``path`` for the rest of this process (the kernel lets
    it go when the process ends, even by SIGKILL; children do not inherit it); the file
    says which process holds it.

    Raises:
        DemoError: another process holds it (``exit_status`` 5).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise DemoError(
            f"another cedoka demo is running in {path.parent} (process {holder}): stop it "
            "first (Ctrl-C in its terminal), or give this one another --dir",
            exit_status=EXIT_DEMO_RUNNING,
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the demo dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _entry_point(script: str, module: str) -> list[str]:
    """The console script next to this Python (a venv), else ``python -m module``."""
    beside = Path(sys.executable).with_name(script)
    return [str(beside)] if beside.exists() else [sys.executable, "-m", module]


def agent_command() -> list[str]:
    return _entry_point("cedoka", "ui.cli")


def district_command() -> list[str]:
    return _entry_point("cedoka-district", "district.cli")


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's choice; another process could take it
    before the server binds it: then the server fails to start and the demo says so)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """True once an HTTP server answers at ``url`` (any status)."""
    try:
        requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return True


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"  ({path} cannot be read)"
    return "\n".join("  | " + line for line in text.splitlines()[-lines:]) or "  (empty log)"


def default_root() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "cedoka-demo"


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def printer_choice(root: Path, given: Sequence[str]) -> dict[str, str]:
    """The virtual printers in ``root``, overridden role by role by ``--printer ROLE=URI``."""
    chosen = {"a4": f"virtual:{root / 'printed'}", "receipt": f"virtual:{root / 'receipts'}"}
    for item in given:
        role, sep, uri = item.partition("=")
        if not sep or role not in chosen or not uri:
            raise DemoError(f"--printer {item!r}: write ROLE=URI with ROLE a4 or receipt, "
                            "e.g. a4=cups:Office")  # fmt: skip
        chosen[role] = uri
    return chosen


def banner(demo: Demo, *, server_url: str, device_id: str, screen: str,
           jobs: Sequence[SampleJob]) -> str:  # fmt: skip
    a4, receipt = demo.printers["a4"], demo.printers["receipt"]
    lines = [
        "",
        "Cedoka demo is running (fake data only).",
        f"  District server  {server_url}  (home {demo.district_home})",
        f"  Kiosk agent      device {device_id}, office {OFFICE_CODE} {OFFICE_NAME}  "
        f"(home {demo.kiosk_home})",
        f"  Kiosk screen     {screen}",
        f"  A4 printer       {a4}",
        f"  Receipt printer  {receipt}",
        "  Sign in as       " + " · ".join(
            f"{name} ({'supervisor' if sup else 'staff'}) PIN {pin}"
            for _, name, pin, sup in OPERATORS
        ),
        f"  District IT      console {server_url}/console/  ·  admin API {server_url}/admin/v1/",
        f"                   sign in: {DEMO_ADMIN} / {demo.admin_password}",
        "  Jobs pushed to the kiosk:",
    ]  # fmt: skip
    for n, job in enumerate(jobs, 1):
        code = f"claim code {job.claim_code}" if job.claim_code else "no claim code"
        cards = f"  (+ {', '.join(job.cards)} card by courier)" if job.cards else ""
        lines.append(f"    {n}. {job.title:<28} {code:<26} {', '.join(job.documents)}{cards}")
    lines += [
        "  On the screen: sign in, tap 'Masukkan kode' (enter code), type a claim code, print,",
        "  then confirm the hand-over. The printed PDFs appear in the A4 printer's folder.",
        f"  More jobs:  {' '.join(district_command())} --home {demo.district_home} "
        f"push-samples --office {OFFICE_CODE}",
        f"  Look in:    {shlex.join([*agent_command(), '--home', str(demo.kiosk_home)])} "
        "status  (or doctor, printers)",
        f"              {shlex.join([*district_command(), '--home', str(demo.district_home)])}"
        " jobs  (or audit)",
        f"  Logs:       {demo.root / 'logs'}",
        "  Press Ctrl-C to stop everything.",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def run_demo(root: Path | None, printers: Sequence[str], no_window: bool) -> int:
    """``cedoka demo``: start, supervise, stop; the exit status."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    root = (root or default_root()).absolute()
    try:
        chosen = printer_choice(root, printers)
    except DemoError as error:
        print(f"cedoka demo: {error}", file=sys.stderr)
        return 2
    demo = Demo(root, chosen, want_window=not no_window, stop=stop)
    try:
        demo.prepare()  # first: a demo running in root is refused before anything is touched
    except DemoError as error:
        print(f"cedoka demo: {error}", file=sys.stderr)
        return error.exit_status
    except OSError as error:
        print(f"cedoka demo: {error}", file=sys.stderr)
        return 1
    code = 1
    try:
        demo.say(f"Starting the Cedoka demo in {root} …")
        server_url = demo.start_district()
        device_id = demo.enrol(server_url)
        screen_url = demo.start_agent()
        jobs = demo.push_samples()
        screen = window_plan(demo, screen_url)
        demo.say(banner(demo, server_url=server_url, device_id=device_id, screen=screen,
                        jobs=jobs))  # fmt: skip
        code = demo.supervise()
    except DemoStoppedError:
        code = 0
    except (CedokaError, OSError, subprocess.SubprocessError) as error:
        print(f"cedoka demo: {error}", file=sys.stderr)
    finally:
        killed = demo.shutdown()
        if killed:
            print(f"cedoka demo: had to kill: {', '.join(killed)}", file=sys.stderr)
            code = code or 1
        demo.say(f"Cedoka demo stopped. Its files stay in {root} until the next start.")
    return code


def window_plan(demo: Demo, screen_url: str) -> str:
    """Open the window when possible; return the banner's 'Kiosk screen' text."""
    browser = f"open in a browser: {screen_url}"
    if not demo.want_window:
        return browser
    if not has_display():
        return browser + "  (no display: no window)"
    if importlib.util.find_spec("webview") is None:
        return browser + "  (no window: install the 'window' extra, pywebview[qt])"
    demo.start_window()
    return "in the window that just opened  (or " + browser + ")"
