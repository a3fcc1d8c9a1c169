"""A private, real print stack for the tests: a CUPS scheduler (``cupsd``) and an IPP
Everywhere printer (``ippeveprinter``), started in a temporary directory, on loopback and
unix sockets only, torn down after. It never touches a system cupsd.

The printer "prints" by running ``print.sh`` (``ippeveprinter -c``) once per document: it
copies the document and its IPP attributes (``IPP_*``) into ``out/`` for the tests to check,
and obeys control files in ``ctl/`` to play a real printer's faults: ``fail`` (the printer
errors out the job), ``media-empty`` (out of paper: the printer reports it and fails),
``slow`` (seconds to take), ``markers`` (supply levels it reports). See
../shared/notes/printing-lab.md for the facts this is built on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PRINT_SH = """#!/bin/sh
# ippeveprinter -c: one call per document, $1 = the document, IPP_* = the job's attributes
ctl="$LAB/ctl"; out="$LAB/out"
n=$(date +%s%N)
if [ -f "$ctl/markers" ]; then echo "ATTR: $(cat "$ctl/markers")" >&2; fi
# A failing job takes a moment, as on a real printer: CUPS's ipp backend reports a job that
# ends before its first status poll as completed (seen under load), which is a fact about
# CUPS ("completed" = the printer took it) that these faults are not about.
if [ -f "$ctl/media-empty" ]; then
  echo "STATE: +media-empty" >&2; echo "ERROR: out of paper" >&2; sleep 2; exit 1
fi
echo "STATE: -media-empty" >&2
if [ -f "$ctl/slow" ]; then sleep "$(cat "$ctl/slow")"; fi
if [ -f "$ctl/fail" ]; then echo "ERROR: paper jam" >&2; sleep 2; exit 1; fi
cp "$1" "$out/$n.doc"
env | grep '^IPP_' | sort > "$out/$n.env"
exit 0
"""

CUPSD_CONF = """LogLevel warn
Listen {dir}/cups.sock
Browsing No
DefaultAuthType None
WebInterface No
PreserveJobFiles No
PreserveJobHistory Yes
MaxJobTime 0
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """ServerRoot {dir}/etc
RequestRoot {dir}/spool
TempDir {dir}/tmp
CacheDir {dir}/cache
StateDir {dir}/state
AccessLog {dir}/log/access_log
ErrorLog {dir}/log/error_log
PageLog {dir}/log/page_log
ServerBin /usr/lib/cups
DataDir /usr/share/cups
SystemGroup root
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, ready: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"print lab: {what} did not come up")
        time.sleep(0.02)


@dataclass
class CupsLab:
    dir: Path
    queue: str = "cedoka-a4"
    printer_port: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def socket(self) -> str:
        return str(self.dir / "cups.sock")

    @property
    def out(self) -> Path:
        return self.dir / "out"

    @property
    def ctl(self) -> Path:
        return self.dir / "ctl"

    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.socket}

    # --- the parts ------------------------------------------------------------------

    def start(self) -> None:
        for sub in ("etc", "spool", "tmp", "cache", "state", "log", "out", "ctl", "ippeve"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for name in ("raw.types", "raw.convs"):
            if Path(f"/etc/cups/{name}").exists():
                shutil.copy(f"/etc/cups/{name}", self.dir / "etc" / name)
        (self.dir / "cupsd.conf").write_text(CUPSD_CONF.format(dir=self.dir))
        (self.dir / "cups-files.conf").write_text(CUPS_FILES_CONF.format(dir=self.dir))
        script = self.dir / "print.sh"
        script.write_text(PRINT_SH)
        script.chmod(0o755)
        self.procs["dbus"] = subprocess.Popen(
            ["dbus-daemon", "--session", f"--address=unix:path={self.dir}/dbus.sock",
             "--nofork", "--nopidfile"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        _wait("dbus", (self.dir / "dbus.sock").exists)
        self.start_printer()
        self.load_media("iso_a4_210x297mm")
        with (self.dir / "log/cupsd.out").open("wb") as log:
            self.procs["cupsd"] = subprocess.Popen(
                ["cupsd", "-f", "-c", str(self.dir / "cupsd.conf"), "-s",
                 str(self.dir / "cups-files.conf")],
                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        _wait("cupsd", self._cupsd_answers)
        self.add_queue()

    def add_queue(self) -> None:
        self.lpadmin("-p", self.queue, "-E", "-v", self.printer_uri, "-m", "everywhere",
                     "-o", "media-default=iso_a4_210x297mm",
                     "-o", "printer-error-policy=abort-job")  # fmt: skip

    def reset(self) -> None:
        """A fresh printer and queue: no faults, no state a fault test left behind (the
        printer remembers media-empty, CUPS the reasons it last saw)."""
        self.clear_faults()
        self.kill_printer()
        self.command("cancel", "-a", "-x")
        self.lpadmin("-x", self.queue)
        self.clear_received()
        shutil.rmtree(self.dir / "ippeve")  # the printer's own spool: "busy" means this test's job
        (self.dir / "ippeve").mkdir()
        self.start_printer()
        self.load_media("iso_a4_210x297mm")
        self.add_queue()

    @property
    def printer_uri(self) -> str:
        return f"ipp://localhost:{self.printer_port}/ipp/print?contimeout=3"

    def _cupsd_answers(self) -> bool:
        done = subprocess.run(["lpstat", "-r"], env=self.env(), capture_output=True, check=False)
        return b"is running" in done.stdout

    def start_printer(self) -> None:
        if not self.printer_port:
            self.printer_port = _free_port()
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={self.dir}/dbus.sock",
               "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.dir}/dbus.sock",
               "LAB": str(self.dir)}  # fmt: skip
        with (self.dir / "log/ippeve.out").open("ab") as log:
            self.procs["printer"] = subprocess.Popen(
                ["ippeveprinter", "-r", "off", "-k", "-d", str(self.dir / "ippeve"),
                 "-c", str(self.dir / "print.sh"), "-n", "localhost", "-p",
                 str(self.printer_port), "-f", "application/pdf,image/pwg-raster,image/urf",
                 "-2", "-M", "Cedoka Test", "-m", "Lab Printer", "Lab Printer"],
                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # "switched off" kills its print commands too
            )  # fmt: skip

        def answers() -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.printer_port), timeout=0.2),
            ):
                return True
            return False

        _wait("ippeveprinter", answers)

    def load_media(self, size: str, level: int = 250) -> None:
        """What staff put in the main tray (ippeveprinter's media form; it starts with
        Letter, as a US printer would)."""
        query = (f"size1={size}&type1=stationery&level1={level}"
                 "&size3=na_number-10_4.125x9.5in&type3=envelope&level3=-2")  # fmt: skip
        url = f"http://localhost:{self.printer_port}/media?{query}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200

    def kill_printer(self) -> None:
        proc = self.procs.pop("printer", None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def lpadmin(self, *args: str) -> None:
        subprocess.run(["lpadmin", *args], env=self.env(), check=True, capture_output=True)

    def command(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=self.env(), capture_output=True, text=True,
                              check=False)  # fmt: skip

    def stop(self) -> None:
        for name in ("cupsd", "printer", "dbus"):
            proc = self.procs.pop(name, None)
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # --- faults and what arrived ------------------------------------------------------

    def fault(self, name: str, value: str = "") -> None:
        (self.ctl / name).write_text(value)

    def clear_faults(self) -> None:
        for path in self.ctl.iterdir():
            path.unlink()

    def received(self) -> list[tuple[bytes, dict[str, str]]]:
        """Each document the printer printed, in order, with its IPP attributes."""
        out = []
        for doc in sorted(self.out.glob("*.doc")):
            env = doc.with_suffix(".env").read_text() if doc.with_suffix(".env").exists() else ""
            attrs = dict(line.split("=", 1) for line in env.splitlines() if "=" in line)
            out.append((doc.read_bytes(), attrs))
        return out

    def clear_received(self) -> None:
        for path in self.out.iterdir():
            path.unlink()


@contextlib.contextmanager
def cups_lab() -> Iterator[CupsLab]:
    # Not pytest's tmp_path: its root is 0700 and CUPS filters (user lp) could not read it.
    base = Path(tempfile.mkdtemp(prefix="cedoka-cups-", dir="/tmp"))
    base.chmod(0o755)
    lab = CupsLab(base)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(base, ignore_errors=True)
