"""The logging formatter of every long-running Cedoka process: one :mod:`kiosk.logfmt` line
per record, on stderr.

:class:`LogfmtFormatter` escapes the arguments of an ``event=…`` message one by one
(:func:`kiosk.logfmt.record_message`: a value that came from the other side can never add a
field or a line), appends the traceback of a record that has one, and puts its ``context``
pairs (the agent's device id, once known) after the logger. Under journald the timestamp is
left out and every line carries the syslog priority prefix; :func:`under_journald` tells
whether stderr really is the journal.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from kiosk.logfmt import log_line, record_message


class LogfmtFormatter(logging.Formatter):
    """Formats every record as one logfmt line with ``context`` pairs after the logger.

    ``context`` is the formatter's own dict: a caller may add pairs to it later (the agent
    adds ``device`` once it knows its id). Never raises on a record whose message does not
    fit its arguments (that becomes one escaped ``event=log_format_error`` line).
    """

    def __init__(self, context: Mapping[str, str] | None = None, *, journald: bool = False) -> None:
        super().__init__()
        self.context: dict[str, str] = dict(context or {})
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record_message(record.msg, record.args)
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return log_line(level=record.levelname, logger=record.name, message=message,
                        context=self.context, at_s=record.created,
                        journald=self.journald)  # fmt: skip


def under_journald() -> bool:
    """True when stderr is connected to the journal: systemd sets $JOURNAL_STREAM to the
    ``device:inode`` of the stream it connected, so a process whose stderr was redirected
    elsewhere (a file, a pipe) keeps plain lines even under systemd. Never raises."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == f"{device}:{inode}"
