"""Logging set-up of the agent's long-running commands (``run``, ``kiosk``): logfmt lines
(:mod:`kiosk.logfmt`) on stderr, each with the device id once it is known; under systemd
the journal gets the level through the syslog prefix. The arguments of an ``event=…``
message are escaped one by one, as the district's are (a value from the district's answers
can never add a field or a line)."""

from __future__ import annotations

import logging
import os
import sys

from kiosk.logfmt import log_line, record_message


class LogfmtFormatter(logging.Formatter):
    """Formats every record as one logfmt line with ``context`` pairs after the logger."""

    def __init__(self, context: dict[str, str] | None = None, *, journald: bool = False) -> None:
        super().__init__()
        self.context = dict(context or {})
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record_message(record.msg, record.args)
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return log_line(level=record.levelname, logger=record.name, message=message,
                        context=self.context, at_s=record.created,
                        journald=self.journald)  # fmt: skip


def under_journald() -> bool:
    """True when stderr is connected to the journal (systemd sets $JOURNAL_STREAM)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == f"{device}:{inode}"


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
