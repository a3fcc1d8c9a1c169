"""A real X screen for the window tests: Xvfb with a window manager (matchbox), and a
helper that lists a process's descendants (the QtWebEngineProcess helpers). Missing tools
fail the test under CI and skip it elsewhere."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def require_the_window_stack() -> None:
    missing = [tool for tool in ("Xvfb", "matchbox-window-manager") if not shutil.which(tool)]
    missing += [m for m in ("webview", "PyQt6", "PIL") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the real window needs {', '.join(missing)} (install.sh --test)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def start_xvfb() -> tuple[str, subprocess.Popen[bytes]]:
    for number in range(90, 100):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        xvfb = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while xvfb.poll() is None and time.monotonic() < deadline:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return f":{number}", xvfb
            time.sleep(0.02)
        end(xvfb)  # lost a race for this number, or too slow: try the next one
    raise AssertionError("no free X display in :90 to :99")


def end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def display() -> Iterator[str]:
    """A 1280x800 X screen (Xvfb) with a window manager (fullscreen needs one)."""
    require_the_window_stack()
    name, xvfb = start_xvfb()
    manager = subprocess.Popen(
        ["matchbox-window-manager", "-use_titlebar", "no"], env={**os.environ, "DISPLAY": name},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.2)
        assert manager.poll() is None, "matchbox-window-manager did not start"
        yield name
    finally:
        end(manager)
        end(xvfb)


def children(pid: int) -> list[int]:
    """All live descendants of ``pid`` (the QtWebEngineProcess helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, todo = [], [pid]
    while todo:
        parent_pid = todo.pop()
        kids = [child for child, parent in parents.items() if parent == parent_pid]
        found += kids
        todo += kids
    return found
