"""Atomic, durable, private file writes: what the agent's state files and the folder printers'
output share.

A write goes to a temporary file in the same directory (``.<name>.<random>.tmp``), is
``fsync``-ed, made ``mode`` (0600 unless told otherwise), renamed over the target with
``os.replace``, then the directory is ``fsync``-ed: a power cut leaves either the old file or
the new one, never half of it, and the new file is never readable by others, even for a
moment, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in the directory ``path`` durable; raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data``, durably and atomically, with ``mode`` (default 0600).

    Raises ``OSError`` (the directory is missing, the disk is full …); then ``path`` is
    unchanged and the temporary file is gone.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
