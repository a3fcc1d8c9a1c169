"""Named crash points for the crash tests: ``CEDOKA_CRASH_AT=<name>`` makes the agent kill
itself with SIGKILL (exactly what a power cut or ``kill -9`` does to the process) when it
reaches that point. Unset — always, in production — :func:`reach` does nothing.

The points sit between the durable steps whose order makes printing exactly-once, e.g.
``print.after_intent`` (intent recorded, nothing submitted) and ``print.after_submit``
(submitted to the printer, not yet recorded)."""

from __future__ import annotations

import os
import signal

ENV = "CEDOKA_CRASH_AT"
POINTS = frozenset({
    "sync.before_root_pinned",  # a rotated root and its keyring verified, nothing stored
    "sync.after_root_pinned",  # the new root and its keyring stored, the head not yet
    "sync.after_accept",  # job tombstoned (received), nothing downloaded
    "sync.between_docs",  # one document of a bundle stored, the next not yet
    "sync.after_store",  # blobs stored, not yet verified
    "sync.after_verify",  # verified + held/released
    "print.after_submit_state",  # job in printing, no intent recorded
    "print.after_intent",  # intent recorded, nothing submitted
    "print.after_submit",  # submitted to the printer, not recorded as submitted
    "print.after_done",  # the printer finished, not recorded
    "print.after_printed",  # job printed, events queued, not delivered
    "report.before_mark",  # events sent, delivery not recorded
    "purge.mid",  # blobs deleted, job not yet purged
    "seal.after_store",  # a new sealing key stored, not yet sent to the district
    "seal.after_send",  # the district took the new sealing key, the kiosk not yet switched
})  # fmt: skip


def reach(name: str) -> None:
    """Crash here if the environment names this point."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
