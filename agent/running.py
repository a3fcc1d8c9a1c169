"""``<home>/running.json``: the agent says it started (version, pid, time). ``cedoka run``
writes it once its loops and local API are up; a self-update (:mod:`agent.update`) waits for
the new version to write it before it calls the update healthy (ADR 0031)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agent.home import HomeLayout
from cedoka_io.files import write_atomic


def write_running(home: Path, version: str) -> None:
    """Record that ``version`` runs now in this process."""
    data = {"version": version, "pid": os.getpid(), "started_s": int(time.time())}
    write_atomic(HomeLayout(home).running, json.dumps(data, sort_keys=True).encode())


def started_since(home: Path, version: str, since_s: float) -> bool:
    """True when ``running.json`` says ``version`` started at or after ``since_s``."""
    try:
        data = json.loads(HomeLayout(home).running.read_bytes())
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and data.get("version") == version
            and isinstance(data.get("started_s"), int)
            and data["started_s"] >= int(since_s))  # fmt: skip
