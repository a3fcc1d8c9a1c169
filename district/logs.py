"""Logging set-up of ``cedoka-district serve``: logfmt lines on stderr
(:class:`cedoka_io.logs.LogfmtFormatter`, shared with the agent), uvicorn's own records
included; when stderr is the journal (:func:`cedoka_io.logs.under_journald`) it gets the
level through the syslog prefix. The arguments of an ``event=…`` message are escaped one by
one (a request path or any other value a client chose can never add a field or a line)."""

from __future__ import annotations

import logging
import sys

from cedoka_io.logs import LogfmtFormatter, under_journald

__all__ = ["LogfmtFormatter", "configure_logging"]


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(journald=under_journald()))
    logging.basicConfig(level=level, handlers=[handler], force=True)
