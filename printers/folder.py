"""What the two folder printers (``virtual:`` for documents and for receipts) share: the
marker files that play a printer's faults, and durable whole-file writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def folder_fault(folder: Path, markers: Iterable[tuple[str, str]]) -> str | None:
    """``offline`` when the folder is missing, else the reason of the first marker file
    present (e.g. ``("MEDIA_EMPTY", "media_empty")``), else None."""
    if not folder.is_dir():
        return "offline"
    for marker, reason in markers:
        if (folder / marker).exists():
            return reason
    return None


def write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: temp file, fsync, rename, fsync the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
