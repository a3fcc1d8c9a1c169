"""Durable, private files: the only place the agent writes outside SQLite.

Every write is atomic (:func:`cedoka_io.files.write_atomic`: a temporary file in the same
directory, ``fsync``, ``os.replace``, then ``fsync`` of the directory), so a power cut leaves
either the old file or the new one, never half of it. Directories are created 0700 and files
0600: the state directory holds the device's private keys and sealed documents.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from cedoka_io.files import FILE_MODE, fsync_dir, write_atomic

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "exclusive_lock",
    "fsync_dir",
    "private_dir",
    "remove_durably",
    "sweep_temporaries",
    "write_atomic",
]

DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def remove_durably(path: Path) -> None:
    """Delete ``path`` if it exists and make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def sweep_temporaries(directory: Path) -> int:
    """Delete the temporary files an interrupted ``write_atomic`` left; return how many."""
    removed = 0
    for leftover in directory.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
        removed += 1
    if removed:
        fsync_dir(directory)
    return removed


@contextlib.contextmanager
def exclusive_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive advisory lock on ``path`` (created 0600) across processes and
    threads (each call opens its own file description); the kernel drops it when the
    process dies, so a crash never leaves it held. Yields True when held; with
    ``wait=False`` it yields False at once, holding nothing, when someone else holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
