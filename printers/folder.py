"""What the two folder printers (``virtual:`` for documents and for receipts) share: the
marker files that play a printer's faults. Their files are written whole or not at all by
:func:`cedoka_io.files.write_atomic`."""

from __future__ import annotations

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
