"""``cedoka-district backup``: a consistent copy of a district home while the server runs.

The database is copied with SQLite's online backup API (a snapshot, never a torn file, even
with the server writing); the private keys are copied byte for byte. The copy is a new
directory ``district-<UTC time>`` inside the destination, mode 0700 (files 0600): it holds
the root key, so it must be kept as carefully as the server itself. It is written under a
temporary name and renamed when complete, so an interrupted backup never looks finished.
Restoring is copying that directory back as the home (with the server stopped).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

from cedoka_io.sqlite import quick_check
from district.keyring import DATABASE
from kiosk.errors import OperatorError, StoreError

KEYS = "keys"


def backup_home(home: Path, dest: Path, *, now_s: float | None = None) -> Path:
    """Copy the district in ``home`` into a new directory in ``dest``; return its path.

    Raises:
        OperatorError: no district in ``home``, the copy exists already, or it fails its check.
        StoreError: SQLite could not read the database or write the copy.
    """
    source = home / DATABASE
    if not source.exists():
        raise OperatorError(f"{home} holds no district: nothing to back up")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now_s is None else now_s))
    final = dest / f"district-{stamp}"
    if final.exists():
        raise OperatorError(f"{final} exists already: wait a second and try again")
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".district-{stamp}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    old_umask = os.umask(0o077)
    try:
        partial.mkdir(mode=0o700)
        try:
            with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live, \
                    contextlib.closing(sqlite3.connect(partial / DATABASE)) as copy:  # fmt: skip
                live.backup(copy)
        except sqlite3.Error as error:
            raise StoreError(f"{source}: the backup could not be made: {error}") from error
        if quick_check(partial / DATABASE) != ("ok",):
            raise OperatorError("the copied database fails its integrity check")
        shutil.copytree(home / KEYS, partial / KEYS)
        for path in [partial / DATABASE, *(partial / KEYS).iterdir()]:
            os.chmod(path, 0o600)
        os.chmod(partial / KEYS, 0o700)
        _fsync_tree(partial)
        partial.rename(final)
        _fsync(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        os.umask(old_umask)
    return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        _fsync(path)
