"""Logging set-up of ``cedoka-district serve``: logfmt lines (:mod:`kiosk.logfmt`) on stderr,
uvicorn's own records included; under systemd the journal gets the level through the syslog
prefix."""

from __future__ import annotations

import logging
import os
import sys

from kiosk.logfmt import log_line


class LogfmtFormatter(logging.Formatter):
    def __init__(self, *, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return log_line(level=record.levelname, logger=record.name, message=message,
                        context={}, at_s=record.created, journald=self.journald)  # fmt: skip


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(journald="JOURNAL_STREAM" in os.environ))
    logging.basicConfig(level=level, handlers=[handler], force=True)
