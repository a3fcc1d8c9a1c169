"""Logging set-up of ``cedoka-district serve``: logfmt lines (:mod:`kiosk.logfmt`) on stderr,
uvicorn's own records included; under systemd the journal gets the level through the syslog
prefix. The arguments of an ``event=…`` message are escaped one by one (a request path or
any other value a client chose can never add a field or a line)."""

from __future__ import annotations

import logging
import os
import sys

from kiosk.logfmt import log_line, record_message


class LogfmtFormatter(logging.Formatter):
    def __init__(self, *, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record_message(record.msg, record.args)
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return log_line(level=record.levelname, logger=record.name, message=message,
                        context={}, at_s=record.created, journald=self.journald)  # fmt: skip


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(journald="JOURNAL_STREAM" in os.environ))
    logging.basicConfig(level=level, handlers=[handler], force=True)
