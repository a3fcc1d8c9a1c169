"""Logging set-up of the agent's long-running commands (``run``, ``kiosk``): logfmt lines
on stderr (:class:`cedoka_io.logs.LogfmtFormatter`, shared with the district), each with the
device id once it is known; under systemd the journal gets the level through the syslog
prefix. The arguments of an ``event=…`` message are escaped one by one, as the district's
are (a value from the district's answers can never add a field or a line)."""

from __future__ import annotations

import logging
import sys

from cedoka_io.logs import LogfmtFormatter, under_journald

__all__ = ["LogfmtFormatter", "configure_logging", "under_journald"]


def configure_logging(level: int = logging.INFO) -> LogfmtFormatter:
    """Send every log record to stderr as logfmt; return the formatter (its ``context``
    takes the device id once the agent knows it)."""
    formatter = LogfmtFormatter(journald=under_journald())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return formatter
