"""The kiosk window (``cedoka kiosk``): reading, checking, waiting for and following the
window's URL without a display; then one smoke test of the real pywebview (Qt) window under
Xvfb with a window manager, over a live ``cedoka run``."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kiosk.errors import OperatorError
from tests.agent.harness import CEDOKA, enrol, wait_for
from tests.district.conftest import Server
from tests.ui.xdisplay import children, display
from ui import cli, window

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["display"]  # a fixture
URL = "http://127.0.0.1:8123/#k=" + "s3cr3t" * 8
SHOTS = Path("/tmp/cedoka-shots")
APP_CSS = Path(window.__file__).with_name("static") / "app.css"


def _app_colour(name: str) -> tuple[int, int, int]:
    """A colour of the screens' style sheet (``--bg``, ``--brand`` …) as RGB."""
    found = re.search(rf"--{name}:\s*#([0-9a-fA-F]{{6}})\b", APP_CSS.read_text())
    assert found is not None, f"--{name} is not in {APP_CSS}"
    return (int(found[1][0:2], 16), int(found[1][2:4], 16), int(found[1][4:6], 16))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # as the agent does: a new file, atomically


# --- the URL: read, checked, waited for, followed (no display) ------------------------------


@pytest.mark.parametrize(
    "text", [URL, URL + "\n", "http://127.0.0.1:65535/", "http://127.0.0.1:1/index.html#k=x"]
)
def test_a_local_url_is_accepted(text: str, tmp_path: Path) -> None:
    assert window.check_window_url(text, tmp_path) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "https://127.0.0.1:8123/#k=s3cr3t",
        "http://localhost:8123/#k=s3cr3t",
        "http://127.0.0.2:8123/#k=s3cr3t",
        "http://127.0.0.1/#k=s3cr3t",
        "http://127.0.0.1:8123#k=s3cr3t",
        "http://127.0.0.1:0/#k=s3cr3t",
        "http://127.0.0.1:08123/#k=s3cr3t",
        "http://127.0.0.1:65536/#k=s3cr3t",
        "http://127.0.0.1:8123@evil.example/#k=s3cr3t",
        "http://127.0.0.1:8123.evil.example/#k=s3cr3t",
        "http://127.0.0.1:8123/#k=s3cr3t with blanks",
        "http://127.0.0.1:8123/\n#k=s3cr3t",
        "javascript:alert(1)//http://127.0.0.1:8123/",
        "file:///etc/passwd",
    ],
)
def test_anything_else_is_refused_without_repeating_it(text: str, tmp_path: Path) -> None:
    with pytest.raises(OperatorError) as refused:
        window.check_window_url(text, tmp_path / "kiosk-url")
    message = str(refused.value)
    assert "s3cr3t" not in message
    assert "tidak sah" in message and "not valid" in message and "kiosk-url" in message


def test_the_url_file_is_in_the_home_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(window.URL_FILE_ENV, raising=False)
    assert window.window_url_file(tmp_path) == tmp_path / "kiosk-url"
    monkeypatch.setenv(window.URL_FILE_ENV, "/run/cedoka/kiosk-url")
    assert window.window_url_file(tmp_path) == Path("/run/cedoka/kiosk-url")


def test_reading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kiosk-url"
    assert window.read_window_url(path) is None
    path.write_text(URL)
    assert window.read_window_url(path) == URL
    path.write_text(URL + "x" * window.MAX_URL_BYTES)
    with pytest.raises(OperatorError):
        window.read_window_url(path)
    path.write_text(URL + "é")
    with pytest.raises(OperatorError):
        window.read_window_url(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(OperatorError, match="Cannot read"):
        window.read_window_url(path)


class FakeClock:
    def __init__(self, on_sleep: Callable[[float], object] = lambda now: None) -> None:
        self.now = 100.0
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.on_sleep(self.now)


def test_waits_for_the_agent_to_write_the_url(tmp_path: Path) -> None:
    path = tmp_path / "kiosk-url"
    clock = FakeClock(lambda now: path.write_text(URL) if now >= 105 else None)
    url = window.wait_for_window_url(path, timeout_s=60, stop=threading.Event(), poll_s=1,
                                     clock=clock, sleep=clock.sleep)  # fmt: skip
    assert url == URL and clock.now == 105


def test_gives_up_after_the_timeout_in_both_languages(tmp_path: Path) -> None:
    clock = FakeClock()
    with pytest.raises(OperatorError) as failed:
        window.wait_for_window_url(tmp_path / "kiosk-url", timeout_s=60, stop=threading.Event(),
                                   poll_s=1, clock=clock, sleep=clock.sleep)  # fmt: skip
    assert clock.now == 160
    message = str(failed.value)
    assert "belum berjalan" in message and "not running" in message and "cedoka run" in message


def test_stop_ends_the_wait(tmp_path: Path) -> None:
    stop = threading.Event()
    clock = FakeClock(lambda now: stop.set())
    url = window.wait_for_window_url(tmp_path / "kiosk-url", timeout_s=60, stop=stop,
                                     clock=clock, sleep=clock.sleep)  # fmt: skip
    assert url is None


def test_follows_the_agent_to_its_new_port_and_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk-url"
    path.write_text(URL)
    loaded: list[str] = []
    stop = threading.Event()
    follower = threading.Thread(target=window.follow_window_url,
                                args=(path, URL, loaded.append, stop),
                                kwargs={"interval_s": 0.01})  # fmt: skip
    caplog.set_level(logging.INFO, logger="cedoka.ui")
    follower.start()
    try:
        _write(path, URL + "\n")  # rewritten, same URL: nothing to do
        path.unlink()  # the agent stopped: the page stays
        time.sleep(0.1)
        _write(path, "http://evil.example/")
        wait_for("the warning", lambda: "kiosk_url_invalid" in caplog.text, 5)
        new = "http://127.0.0.1:9000/#k=" + "n3w" * 14
        _write(path, new)
        wait_for("the new URL", lambda: loaded == [new], 5)
    finally:
        stop.set()
        follower.join(5)
    assert not follower.is_alive()
    assert "event=kiosk_url_changed port=9000" in caplog.text
    assert "n3w" not in caplog.text and "evil" not in caplog.text


def test_the_window_background_is_the_apps_page_colour() -> None:
    assert window.BACKGROUND.lower() == "#" + bytes(_app_colour("bg")).hex()


def test_port_and_process_age() -> None:
    assert window.port_of(URL) == 8123
    assert window.port_of("nonsense") == 0
    assert 0 < window.process_age_s() < 24 * 3600


def test_pywebviews_log_lines_lose_the_secret() -> None:
    record = logging.LogRecord("pywebview", logging.DEBUG, __file__, 1, "Loading URL: %s",
                               (URL,), None)  # fmt: skip
    assert window.SecretRedactor().filter(record)
    assert record.getMessage() == "Loading URL: http://127.0.0.1:8123/#k=<secret>"


# --- the command (no display) ---------------------------------------------------------------


@pytest.fixture
def keep_signals() -> Iterator[None]:
    """``cedoka kiosk`` handles SIGTERM and SIGINT; give pytest its own handlers back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("keep_signals")
def test_browser_prints_the_url_and_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kiosk-url").write_text(URL)
    assert cli.main(["--home", str(tmp_path), "kiosk", "--browser"]) == 0
    assert capsys.readouterr().out == URL + "\n"


@pytest.mark.usefixtures("keep_signals")
def test_no_agent_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--home", str(tmp_path), "kiosk", "--wait", "0.3"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cedoka kiosk: Layanan Cedoka belum berjalan")
    assert "The Cedoka service is not running" in captured.err


@pytest.mark.usefixtures("keep_signals")
def test_a_foreign_url_is_never_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kiosk-url").write_text("http://evil.example/#k=s3cr3t")
    assert cli.main(["--home", str(tmp_path), "kiosk", "--browser"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "not valid" in captured.err and "s3cr3t" not in captured.err


@pytest.mark.usefixtures("keep_signals")
def test_without_pywebview_it_points_to_browser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kiosk-url").write_text(URL)
    monkeypatch.setitem(sys.modules, "webview", None)  # import webview fails
    monkeypatch.setenv("QTWEBENGINE_CHROMIUM_FLAGS", "")  # restored afterwards
    monkeypatch.setenv("DISPLAY", ":99")
    assert cli.main(["--home", str(tmp_path), "kiosk"]) == 1
    captured = capsys.readouterr()
    assert "pywebview" in captured.err and "cedoka kiosk --browser" in captured.err
    assert "s3cr3t" not in captured.err + captured.out
    expected = "--no-sandbox" if os.geteuid() == 0 else ""
    assert os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] == expected


@pytest.mark.usefixtures("keep_signals")
def test_without_a_screen_it_points_to_browser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kiosk-url").write_text(URL)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["--home", str(tmp_path), "kiosk", "--windowed"]) == 1
    captured = capsys.readouterr()
    assert "DISPLAY is not set" in captured.err and "cedoka kiosk --browser" in captured.err


def test_windowed_and_browser_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        cli.main(["kiosk", "--windowed", "--browser"])
    assert usage.value.code == 2 and "not allowed with" in capsys.readouterr().err


# --- the real window under Xvfb -------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (nobody may reap it in a container)


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))


def _screen(name: str) -> Image.Image:
    from PIL import ImageChops, ImageGrab

    deadline = time.monotonic() + 30
    while True:
        first = ImageGrab.grab(xdisplay=name)
        time.sleep(0.3)
        second = ImageGrab.grab(xdisplay=name)
        stable = ImageChops.difference(first, second).getbbox() is None
        colours = second.getcolors(1 << 24) or []
        if stable and len(colours) > 1:
            return second
        assert time.monotonic() < deadline, "the screen never settled on a picture"


def _assert_shows_the_app_fullscreen(shot: Image.Image) -> None:
    pixels = shot.width * shot.height
    colours = {rgb: n for n, rgb in shot.getcolors(1 << 24) or []}
    assert shot.size == (1280, 800)
    assert colours.get((0, 0, 0), 0) < 0.05 * pixels, "black: the window is not fullscreen"
    assert max(colours.values()) < 0.98 * pixels, "one colour: nothing drawn"
    page, brand = _app_colour("bg"), _app_colour("brand")
    assert colours.get(page, 0) > 0.3 * pixels, f"the app's page colour {page} is missing"
    assert colours.get(brand, 0) > 0.02 * pixels, f"the app's header colour {brand} is missing"


@contextlib.contextmanager
def _kiosk_window(home: Path, display: str, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``cedoka --home HOME kiosk`` on ``display``; stdout and stderr go to ``logs``.*."""
    env = {**os.environ, "DISPLAY": display}
    env.pop("QTWEBENGINE_CHROMIUM_FLAGS", None)  # the command sets it when it runs as root
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
        proc = subprocess.Popen([str(CEDOKA), "--home", str(home), "kiosk"], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.loopback
def test_the_real_window_shows_the_app_fullscreen_and_closes_cleanly(
    display: str, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = enrol(server, tmp_path)
    url_file, logs = kiosk.home / window.URL_FILE, tmp_path / "kiosk"
    err = logs.with_suffix(".err")
    agent = kiosk.start()
    try:
        wait_for("the agent's window URL", url_file.exists)
        secrets = [url_file.read_text().partition("#k=")[2]]
        with _kiosk_window(kiosk.home, display, logs) as proc:
            wait_for("the page", lambda: "event=kiosk_window_ready" in err.read_text(), 60)
            ready = re.search(r"event=kiosk_window_ready ms=(\d+)", err.read_text())
            assert ready is not None
            shot = _screen(display)
            SHOTS.mkdir(exist_ok=True)
            shot.save(SHOTS / "window.png")
            _assert_shows_the_app_fullscreen(shot)
            helpers = children(proc.pid)
            assert helpers, "no QtWebEngineProcess"
            pss_mb = sum(_pss_kib(pid) for pid in [proc.pid, *helpers]) / 1024
            report = (f"kiosk window: page loaded {ready[1]} ms after process start; "
                      f"PSS {pss_mb:.0f} MB in {1 + len(helpers)} processes")  # fmt: skip
            (SHOTS / "window-metrics.txt").write_text(report + "\n")
            with capsys.disabled():
                print(f"\n{report}")

            # The agent restarts (new port, new secret): the window follows it.
            assert kiosk.stop(agent) == 0
            agent = kiosk.start()
            wait_for("the new window URL", url_file.exists)
            secrets.append(url_file.read_text().partition("#k=")[2])
            wait_for("the reload", lambda: "event=kiosk_window_reloaded" in err.read_text(), 30)

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            wait_for("the QtWebEngineProcess helpers to exit",
                     lambda: not any(_alive(pid) for pid in helpers), 10)  # fmt: skip
    finally:
        kiosk.stop_all()
    printed = logs.with_suffix(".out").read_text()
    assert printed == ""
    assert all(secret and secret not in err.read_text() for secret in secrets)
    assert "event=kiosk_url_changed" in err.read_text()
