"""``<home>/update/last.json``: the outcome of the kiosk's last self-update attempt (ADR 0031).

``cedoka update`` (run as root by the timer, or by an operator) writes it; the running agent
reads it for every heartbeat (the optional ``update`` member, protocol §12), so district IT
sees a release that was rolled back, failed its checks, was refused by TUF or waits for the
printer, on the kiosk's row in the console and in ``GET /admin/v1/devices``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from agent.home import HomeLayout
from cedoka_io.files import write_atomic
from kiosk.errors import WireError
from kiosk.report import UpdateReport, parse_update_report

log = logging.getLogger("cedoka.agent.update_status")
STATUS_NAME = "last.json"
MAX_STATUS_BYTES = 4096


def write_status(home: Path, result: str, version: str, reason: str | None = None) -> None:
    """Record the last attempt (the update directory is created when missing); as root, the
    file is given to the home's owner, who runs the agent that reads it."""
    layout = HomeLayout(home)
    layout.update.mkdir(mode=0o700, parents=True, exist_ok=True)
    report = UpdateReport(int(time.time()), result, version, reason)
    data = json.dumps(report.to_json(), sort_keys=True).encode()
    write_atomic(layout.update / STATUS_NAME, data, mode=0o600)
    if os.geteuid() == 0:  # written by the root timer: the agent (the home's owner) reads it
        owner = home.stat()
        for path in (layout.update, layout.update / STATUS_NAME):
            os.lchown(path, owner.st_uid, owner.st_gid)


def record(home: Path, result: str, version: str, reason: str | None = None) -> None:
    """:func:`write_status`, where a failure to write never fails the update (logged)."""
    try:
        write_status(home, result, version, reason)
    except OSError as error:
        log.warning("event=update_status_not_written error=%s", error)


def read_status(home: Path) -> UpdateReport | None:
    """The last attempt, or None (never tried, or a file that does not parse: logged)."""
    path = HomeLayout(home).update / STATUS_NAME
    try:
        data = path.read_bytes()[:MAX_STATUS_BYTES]
        return parse_update_report(json.loads(data), "update/last.json")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, WireError) as error:
        log.warning("event=update_status_unreadable error=%s", type(error).__name__)
        return None
