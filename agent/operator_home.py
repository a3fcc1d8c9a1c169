"""The operators of a kiosk home for a tool outside the running agent (the demo, in its own
process; ``cedoka operator …``): the home's spool opened for the operator book, and closed
again. The kiosk screen itself reaches the operators through the agent's desk
(:mod:`agent.desk`). :func:`staff_audit` writes a local change to the kiosk's audit trail,
which tells the district (ADR 0034)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent import trust as trust_store
from agent.audit import AuditLog
from agent.home import HomeLayout
from agent.keys import DeviceKeys
from agent.operators import OperatorBook
from agent.settings import load_config
from agent.spool import Spool


def staff_audit(home: Path, book: OperatorBook) -> AuditLog:
    """The audit trail of the enrolled kiosk home ``home``, on the spool of ``book`` (local
    clock, never before the trusted floor).

    Raises:
        ConfigError / OSError: not an enrolled home.
    """
    spool = book.spool
    trust = trust_store.load(spool)
    config = load_config(home)
    return AuditLog(spool, device_id=config.device_id, district_code=trust.district_code,
                    key=DeviceKeys.load(home).auth,
                    now_s=lambda: max(int(time.time()), trust.time_floor_s))  # fmt: skip


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
