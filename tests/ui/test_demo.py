"""``./install.sh --demo``, the README's first command, as a newcomer runs it — but headless
and without a terminal (CI=true, stdin closed): the set-up finds everything in place, the demo
comes up (real district server, real agent, real local API), a pushed job is released
through the local API as the screen does it and printed by the virtual printer, the
district hears of it, and Ctrl-C stops every part cleanly. Then the window variant under
Xvfb, and the refusals."""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from district.samples import sample_jobs
from tests.agent.harness import CEDOKA, wait_for
from tests.ui.xdisplay import display
from tests.without_printers.sitecustomize import env_without_printers
from ui.guard import SECRET_HEADER

__all__ = ["display"]  # a fixture
REPO = Path(__file__).resolve().parents[2]
DISTRICT = Path(sys.executable).with_name("cedoka-district")
READY = "Press Ctrl-C to stop everything."
_URL = re.compile(r"(http://127\.0\.0\.1:[0-9]+/)#k=([A-Za-z0-9_-]+)")
_CLAIM = re.compile(r"claim code ([0-9]{4} [0-9]{4} [0-9]{4})")
STAFF = ("siti", "2580")


@dataclass
class Running:
    proc: subprocess.Popen[str]
    root: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout_s: float) -> None:
        wait_for("the demo's banner", lambda: READY in self.output() or self.proc.poll()
                 is not None, timeout_s)  # fmt: skip
        assert self.proc.poll() is None, f"the demo ended early:\n{self.output()}"

    def ctrl_c(self) -> int:
        """What a terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError(f"the demo did not stop on Ctrl-C:\n{self.output()}") from None


@contextmanager
def running(argv: list[str], root: Path, env: dict[str, str]) -> Iterator[Running]:
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    run = Running(proc, root)

    def read() -> None:
        assert proc.stdout is not None
        run.lines.extend(line.rstrip("\n") for line in proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield run
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def headless_env(**extra: str) -> dict[str, str]:
    foreign = {"DISPLAY", "WAYLAND_DISPLAY", "CEDOKA_HOME", "CEDOKA_KIOSK_URL_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in foreign}
    return {**env, "CI": "true", **extra}


def left_behind(root: Path) -> dict[int, str]:
    """The live processes (pid: command line) that still use the demo's directory."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if str(root) in cmdline and state != "Z":
            found[int(entry.name)] = cmdline
    return found


class Screen:
    """The local API as the kiosk screen calls it (secret header, session token)."""

    def __init__(self, url: str, secret: str) -> None:
        self.url, self.session = url.rstrip("/"), requests.Session()
        self.session.headers[SECRET_HEADER] = secret

    def call(self, method: str, path: str, body: object = None) -> requests.Response:
        return self.session.request(method, self.url + path, json=body, timeout=60)

    def login(self, operator: str, pin: str) -> None:
        answer = self.call("POST", "/api/login", {"operator": operator, "pin": pin})
        assert answer.status_code == 200, answer.text
        self.session.headers["x-cedoka-session"] = answer.json()["session"]

    def held(self) -> int:
        return sum(j["state"] == "held" for j in self.call("GET", "/api/jobs").json()["jobs"])


def district_jobs(root: Path) -> dict[str, str | None]:
    done = subprocess.run(
        [str(DISTRICT), "--home", str(root / "district"), "jobs", "--json"], capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=60, check=True,
    )  # fmt: skip
    return {j["job_id"]: j["state"] for j in json.loads(done.stdout)}


def release_one_and_hand_over(run: Running) -> str:
    """Release the first claim code on the screen's API, as staff; return the job id."""
    out = run.output()
    url_match, codes = _URL.search(out), _CLAIM.findall(out)
    assert url_match and len(codes) >= 3, out
    screen = Screen(url_match[1], url_match[2])
    screen.login(*STAFF)
    wait_for("the pushed jobs on the kiosk", lambda: screen.held() >= len(codes), 60)
    claimed = screen.call("POST", "/api/claim", {"code": codes[0].replace(" ", "")})
    assert claimed.status_code == 200, claimed.text
    [job] = claimed.json()["jobs"]
    released = screen.call("POST", "/api/release", {"ticket": claimed.json()["ticket"]})
    assert released.json() == {"jobs": [{"job_id": job["job_id"], "state": "printed"}]}
    printed = sorted((run.root / "printed").glob("*.pdf"))
    assert len(printed) == len(job["documents"]) >= 1
    assert all(p.read_bytes().startswith(b"%PDF-") for p in printed)
    over = screen.call("POST", f"/api/jobs/{job['job_id']}/handover", {})
    assert over.json() == {"job_id": job["job_id"], "state": "purged", "receipt": "printed"}
    assert list((run.root / "receipts").glob("receipt-*"))
    return str(job["job_id"])


def test_install_sh_demo_comes_up_prints_a_released_job_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    root = tmp_path / "state" / "cedoka-demo"  # the default --dir under $XDG_STATE_HOME
    env = headless_env(XDG_STATE_HOME=str(tmp_path / "state"))
    with running(["bash", str(REPO / "install.sh"), "--demo"], root, env) as run:
        run.wait_ready(timeout_s=600)  # a first run may still have pip work to do
        out = run.output()
        assert "open in a browser: http://127.0.0.1:" in out and "(no display: no window)" in out
        assert "Siti Aminah (staff) PIN 2580" in out
        signs_in_as_district_it(out)
        job_id = release_one_and_hand_over(run)
        wait_for("the district to hear of the hand-over",
                 lambda: district_jobs(root)[job_id] == "purged", 60)  # fmt: skip
        assert run.ctrl_c() == 0, run.output()
    assert "Cedoka demo stopped." in run.output()
    assert left_behind(root) == {}
    residents = {job.resident for job in sample_jobs(datetime.date.today())}
    for log in (root / "logs").glob("*.log"):
        text = log.read_text()
        assert "Traceback" not in text, f"{log.name}:\n{text}"
        assert not [name for name in residents if name in text]


def test_the_demo_opens_the_window_when_there_is_a_display(tmp_path: Path, display: str) -> None:
    root = tmp_path / "demo"
    env = headless_env(DISPLAY=display)
    with running([str(CEDOKA), "demo", "--dir", str(root)], root, env) as run:
        run.wait_ready(timeout_s=120)
        assert "in the window that just opened" in run.output()
        window_log = root / "logs" / "window.log"
        wait_for("the kiosk window's page", lambda: window_log.exists()
                 and "event=kiosk_window_ready" in window_log.read_text(), 60)  # fmt: skip
        assert run.ctrl_c() == 0, run.output()
    assert left_behind(root) == {}


def test_a_directory_the_demo_did_not_make_is_never_wiped(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    done = subprocess.run(
        [str(CEDOKA), "demo", "--dir", str(tmp_path), "--no-window"], capture_output=True,
        text=True, stdin=subprocess.DEVNULL, env=headless_env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "was not made by 'cedoka demo'" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_a_bad_printer_choice_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CEDOKA), "demo", "--dir", str(tmp_path / "d"), "--printer", "fax=x"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=headless_env(),
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "ROLE a4 or receipt" in done.stderr
    assert not (tmp_path / "d").exists()


def test_a_part_that_dies_stops_the_demo_with_its_log(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    with running([str(CEDOKA), "demo", "--dir", str(root), "--no-window"], root,
                 headless_env()) as run:  # fmt: skip
        run.wait_ready(timeout_s=120)
        [agent] = [pid for pid, line in left_behind(root).items() if line.endswith(" run ")]
        os.kill(agent, signal.SIGKILL)
        assert run.proc.wait(timeout=60) == 1
        time.sleep(0.1)
    out = run.output()
    assert "The agent stopped on its own (exit status -9)" in out
    assert left_behind(root) == {}


def test_a_second_demo_in_the_same_directory_is_refused_and_wipes_nothing(tmp_path: Path) -> None:
    """Issue 16: a second ``cedoka demo`` wiped the running one's directory. And the banner
    names the kiosk's and the district's homes, so that ``cedoka status`` can be run."""
    root = tmp_path / "demo"
    with running([str(CEDOKA), "demo", "--dir", str(root), "--no-window"], root,
                 headless_env()) as run:  # fmt: skip
        run.wait_ready(timeout_s=120)
        out = run.output()
        assert f"(home {root / 'kiosk'})" in out and f"(home {root / 'district'})" in out
        look = re.search(r"Look in: +(.+) status  \(or doctor, printers\)$", out, re.MULTILINE)
        assert look is not None, out
        status = subprocess.run([*shlex.split(look[1]), "status"], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, env=headless_env(),
                                timeout=60, check=False)  # fmt: skip
        assert status.returncode == 0 and "office 74.08.01.2002" in status.stdout, status.stderr
        config = (root / "kiosk" / "agent.toml").read_bytes()
        second = subprocess.run(
            [str(CEDOKA), "demo", "--dir", str(root), "--no-window"], capture_output=True,
            text=True, stdin=subprocess.DEVNULL, env=headless_env(), timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 6, second.stderr
        assert second.stderr.strip() == (
            f"cedoka demo: another cedoka demo is running in {root} (process {run.proc.pid}): "
            "stop it first (Ctrl-C in its terminal), or give this one another --dir"
        )
        assert (root / "kiosk" / "agent.toml").read_bytes() == config
        assert run.proc.poll() is None
        assert run.ctrl_c() == 0


def test_the_default_demo_without_the_printers_extra_opens_its_settings(tmp_path: Path) -> None:
    """Issue 16: install.sh --demo leaves the printers extra out when CUPS has no queue, and
    the settings then failed with HTTP 500 (tests.without_printers: as without the extra)."""
    root = tmp_path / "demo"
    env = env_without_printers(headless_env())
    with running([str(CEDOKA), "demo", "--dir", str(root), "--no-window"], root, env) as run:
        run.wait_ready(timeout_s=120)
        url_match = _URL.search(run.output())
        assert url_match is not None
        screen = Screen(url_match[1], url_match[2])
        screen.login("budi", "1470")  # the demo's supervisor
        unlocked = screen.call("POST", "/api/settings/unlock", {"pin": "1470"})
        assert unlocked.status_code == 200, unlocked.text
        settings = screen.session.get(
            screen.url + "/api/settings", timeout=60,
            headers={"x-cedoka-settings": unlocked.json()["settings_ticket"]},
        )  # fmt: skip
        assert settings.status_code == 200, settings.text
        missing = [m["code"] for m in settings.json()["missing"]]
        assert missing == ["cups_missing", "escpos_missing"]
        assert run.ctrl_c() == 0


def signs_in_as_district_it(out: str) -> None:
    """The banner's district IT login opens a console session on the admin API (issue 17)."""
    found = re.search(
        r"console (http://127\.0\.0\.1:\d+)/console/ .*\n\s+sign in: (\S+) / (\S+)", out
    )
    assert found, out
    base, user, password = found.groups()
    answer = requests.post(
        f"{base}/admin/v1/session", json={"user_id": user, "password": password}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "admin"
