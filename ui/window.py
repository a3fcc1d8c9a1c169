"""The kiosk window: one pywebview (Qt WebEngine) window on the screens ``cedoka run`` serves.

A thin adapter. ``cedoka run`` writes the window's URL, ``http://127.0.0.1:PORT/#k=SECRET``,
to ``<home>/kiosk-url`` (0600). The plain functions here read and check that file (they need
no display: the unit tests call them); :func:`open_window` opens the window on it and, from a
thread, follows the file when the agent restarts with a new port and secret.

Invariants: the window opens only ``http://127.0.0.1:<port>/…``; the secret is never logged
(pywebview's own log lines are redacted too); :func:`open_window` returns once the window is
closed, and it closes when ``stop`` is set (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.home import KIOSK_URL_NAME
from kiosk.errors import OperatorError

log = logging.getLogger("cedoka.ui")

URL_FILE = KIOSK_URL_NAME  # in the kiosk's home (agent.home)
URL_FILE_ENV = "CEDOKA_KIOSK_URL_FILE"
MAX_URL_BYTES = 1024
BACKGROUND = "#eef1f4"  # the screens' page colour (--bg in ui/static/app.css), before it paints
TITLE = "Cedoka"
WINDOWED_SIZE = (1280, 800)  # --windowed, for a developer
FOLLOW_INTERVAL_S = 2.0

_URL = re.compile(r"http://127\.0\.0\.1:([1-9][0-9]{0,4})/[\x21-\x7e]*")
_SECRET = re.compile(r"#k=[^\s'\"]*")
_STARTED = time.monotonic()


def window_url_file(home: Path) -> Path:
    """Where ``cedoka run`` writes the window's URL and ``cedoka kiosk`` reads it:
    $CEDOKA_KIOSK_URL_FILE when set (a production install: ``/run/cedoka/kiosk-url``, mode
    0640, readable by the kiosk group), else ``<home>/kiosk-url`` (mode 0600)."""
    configured = os.environ.get(URL_FILE_ENV)
    return Path(configured) if configured else home / URL_FILE


def check_window_url(text: str, source: Path) -> str:
    """Return the URL in ``text`` (surrounding blanks removed).

    Raises:
        OperatorError: it is not ``http://127.0.0.1:<port>/…`` (the message does not repeat
            the text: it may carry the secret).
    """
    url = text.strip()
    match = _URL.fullmatch(url)
    if match is None or int(match.group(1)) > 65535:  # noqa: PLR2004 (the largest port)
        raise OperatorError(
            f"Alamat jendela kios di {source} tidak sah (harus http://127.0.0.1:PORT/). / "
            f"The kiosk window address in {source} is not valid "
            "(it must be http://127.0.0.1:PORT/)."
        )
    return url


def read_window_url(path: Path) -> str | None:
    """Return the checked URL in ``path``, or None when there is no such file.

    Raises:
        OperatorError: the file is too large, not ASCII or not a local URL; or unreadable.
    """
    try:
        with path.open("rb") as source:
            data = source.read(MAX_URL_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OperatorError(
            f"Berkas {path} tidak dapat dibaca ({error.strerror}). / "
            f"Cannot read {path} ({error.strerror})."
        ) from None
    if len(data) > MAX_URL_BYTES or not data.isascii():
        return check_window_url("", path)
    return check_window_url(data.decode("ascii"), path)


def wait_for_window_url(
    path: Path,
    *,
    timeout_s: float,
    stop: threading.Event,
    poll_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Wait until ``path`` holds the window URL (the agent may still be starting) and return
    it; None when ``stop`` is set first. Uses ``stop.is_set()`` only, never ``stop.wait()``:
    a signal handler in this thread may set it.

    Raises:
        OperatorError: no file after ``timeout_s`` seconds (the agent is not running), or the
            file is not valid (see :func:`read_window_url`).
    """
    deadline = clock() + max(timeout_s, 0.0)
    while not stop.is_set():
        url = read_window_url(path)
        if url is not None:
            return url
        if clock() >= deadline:
            raise OperatorError(
                f"Layanan Cedoka belum berjalan: {path} tidak ada setelah {timeout_s:g} detik. "
                "Jalankan layanan (`cedoka run`) lalu coba lagi. / "
                f"The Cedoka service is not running: no {path} after {timeout_s:g} s. "
                "Start the service (`cedoka run`) and try again."
            )
        sleep(poll_s)
    return None


def port_of(url: str) -> int:
    """The port of a URL that :func:`check_window_url` accepted (safe to log)."""
    match = _URL.fullmatch(url)
    return int(match.group(1)) if match else 0


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def follow_window_url(
    path: Path,
    url: str,
    load: Callable[[str], None],
    stop: threading.Event,
    *,
    interval_s: float = FOLLOW_INTERVAL_S,
) -> None:
    """Until ``stop`` is set: every ``interval_s``, when ``path`` changed and holds another
    valid URL (the agent restarted: new port, new secret), call ``load`` with it. A missing
    file (agent stopped) or an invalid one keeps the current page."""
    stamp = _stamp(path)
    while not stop.wait(interval_s):
        now = _stamp(path)
        if now == stamp:
            continue
        stamp = now
        try:
            new = read_window_url(path)
        except OperatorError:
            log.warning("event=kiosk_url_invalid file=%s", path)
            continue
        if new is None or new == url:
            continue
        url = new
        log.info("event=kiosk_url_changed port=%d", port_of(url))
        load(url)


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc; else since this module loaded)."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started_s
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _STARTED


class SecretRedactor(logging.Filter):
    """Replaces the window secret in a log record (pywebview logs URLs at debug level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "#k=" in message:
            record.msg, record.args = _SECRET.sub("#k=<secret>", message), ()
        return True


_USE_BROWSER = (
    "Pakai `cedoka kiosk --browser` dan buka alamatnya di peramban. / "
    "Use `cedoka kiosk --browser` and open the address in a browser."
)


def load_webview() -> None:
    """Check for a screen, then import pywebview with its Qt backend (as root, Qt WebEngine
    needs ``--no-sandbox``).

    Raises:
        OperatorError: no screen, or pywebview / Qt WebEngine is not installed; the message
            points to ``--browser``.
    """
    if not any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise OperatorError(
            "Tidak ada layar (DISPLAY belum diatur) / there is no screen (DISPLAY is not set). "
            + _USE_BROWSER
        )
    if os.geteuid() == 0 and not os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS"):
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox"
    try:
        import webview
        import webview.platforms.qt  # noqa: F401 (fail here, not inside webview.start)
    except ImportError as error:
        raise OperatorError(
            f"Jendela kios tidak tersedia: pywebview dengan Qt belum terpasang ({error}) / the "
            f"kiosk window is not available: pywebview with Qt is not installed ({error}); "
            f"pip install 'cedoka[window]'. {_USE_BROWSER}"
        ) from None
    logging.getLogger("pywebview").addFilter(SecretRedactor())


def open_window(url: str, url_file: Path, *, fullscreen: bool, stop: threading.Event) -> None:
    """Show the window on ``url`` until it is closed or ``stop`` is set, meanwhile following
    ``url_file`` from a thread. Call from the main thread; once this returns, the caller sets
    ``stop`` (with its signal handlers off), which ends that thread.

    Raises:
        OperatorError: see :func:`load_webview`.
    """
    load_webview()
    import webview

    width, height = WINDOWED_SIZE
    window = webview.create_window(
        TITLE, url, width=width, height=height, fullscreen=fullscreen, confirm_close=False,
        text_select=False, zoomable=False, background_color=BACKGROUND,
    )  # fmt: skip
    assert window is not None
    loads = 0

    def on_loaded() -> None:  # start-up: from process start to the page loaded
        nonlocal loads
        loads += 1
        if loads == 1:
            log.info("event=kiosk_window_ready ms=%d", round(process_age_s() * 1000))
        else:
            log.info("event=kiosk_window_reloaded")

    def follow() -> None:
        follow_window_url(url_file, url, window.load_url, stop)
        window.events.shown.wait(10)
        window.destroy()

    window.events.loaded += on_loaded
    log.info("event=kiosk_window_opening port=%d fullscreen=%s", port_of(url), fullscreen)
    webview.start(follow, gui="qt", debug=False, private_mode=True)
