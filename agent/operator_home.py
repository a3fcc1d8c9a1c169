"""The operators of a kiosk home for a tool outside the running agent (the demo, in its own
process): the home's spool opened for the operator book, and closed again. The kiosk
screen itself reaches the operators through the agent's desk (:mod:`agent.desk`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.home import HomeLayout
from agent.operators import OperatorBook
from agent.spool import Spool


@contextmanager
def operator_book(home: Path) -> Iterator[OperatorBook]:
    """The operator book of the kiosk home ``home`` (local clock), open for the block.

    Raises:
        OSError / SpoolError: the home's spool cannot be opened.
    """
    spool = Spool(HomeLayout(home).spool)
    try:
        yield OperatorBook(spool, now_s=lambda: int(time.time()))
    finally:
        spool.close()
