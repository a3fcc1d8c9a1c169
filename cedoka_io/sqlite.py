"""One SQLite database file shared by threads and processes: the plumbing under the agent's
spool (:mod:`agent.spool`) and the district's store (:mod:`district.sqlite_store`).

Each store keeps its SQL and its schemas; this module only holds what both did the same way:

- the file is created 0600 before SQLite first opens it (its ``-wal`` and ``-shm`` files
  inherit the mode);
- one connection per thread (:meth:`SqliteFile.close_all` closes them all at a clean stop, so
  the last one out checkpoints the WAL and removes the ``-wal`` and ``-shm`` files), in
  autocommit mode (``isolation_level=None``), 30 s busy
  timeout, ``journal_mode = WAL``, ``synchronous = FULL``, ``foreign_keys = ON``, then the
  store's own pragmas;
- :meth:`SqliteFile.write`: a ``BEGIN IMMEDIATE`` transaction (the write lock is taken at
  once, so a reader never deadlocks upgrading to a writer), rolled back on any exception;
- :meth:`SqliteFile.migrate`: the schema version in ``PRAGMA user_version`` and forward-only
  migrations, one script from each older version straight to the current one, run with the
  version bump in one transaction; a newer file raises :class:`NewerSchemaError`;
- :func:`sqlite_errors_as`: the class decorator by which a store raises its own
  :class:`~kiosk.errors.StoreError` for every ``sqlite3.Error``, so no caller above a
  store sees one;
- :func:`quick_check`: ``PRAGMA quick_check`` on a read-only connection (a damaged file is
  never written to).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kiosk.errors import StoreError

FILE_MODE = 0o600
BUSY_TIMEOUT_S = 30
_PRAGMAS = ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON")

_Store = TypeVar("_Store", bound=type)


class NewerSchemaError(StoreError):
    """The file's schema version is newer than this program knows (an older program after
    a newer one wrote the file): nothing was changed. Each store turns it into its own
    error."""

    def __init__(self, path: Path, *, found: int, supported: int) -> None:
        super().__init__(f"{path}: schema {found} is newer than this program ({supported})")
        self.path, self.found, self.supported = path, found, supported


class SqliteFile:
    """One database file, one connection per thread (thread-safe), created private."""

    def __init__(self, path: Path, *, pragmas: Sequence[str] = ()) -> None:
        """Create ``path`` 0600 if it is missing (nothing is opened yet); ``pragmas`` are run
        on every new connection after the common ones (e.g. ``"secure_delete = ON"``).
        Raises ``OSError`` when the file cannot be created."""
        self.path = path
        self._pragmas = _PRAGMAS + tuple(pragmas)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []  # every thread's, for close_all
        self._opened_lock = threading.Lock()
        self._generation = 0  # bumped by close_all: a thread's older connection is closed
        # Only a missing file is opened here: closing a descriptor of a database would drop
        # every POSIX lock this process holds on it (SQLite's own connections' included).
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use; raises ``sqlite3.Error``."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", 0) != self._generation:
            conn = None  # closed by close_all: open a new one
        if conn is None:
            # Used by this thread only; another may close it (close_all at a clean stop).
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                                   check_same_thread=False)  # fmt: skip
            for pragma in self._pragmas:
                conn.execute(f"PRAGMA {pragma}")
            with self._opened_lock:
                self._opened.append(conn)
                self._local.conn, self._local.generation = conn, self._generation
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on this thread's connection: committed when the
        block ends, rolled back when it raises (the exception propagates)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self, *, schema_version: int, migrations: Mapping[int, str]) -> int:
        """Bring the file to ``schema_version`` and return the version it had.

        ``migrations`` maps every older version (0 = a new, empty file) to the SQL script
        that takes it to ``schema_version``. Raises :class:`NewerSchemaError` (nothing
        changed) when the file is newer, ``ValueError`` when a script is missing,
        ``sqlite3.Error`` when a script fails (then its transaction is rolled back).
        """
        if missing := set(range(schema_version)) - set(migrations):
            raise ValueError(f"no migration from schema version(s) {sorted(missing)}")
        conn = self.connection()
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > schema_version:
            raise NewerSchemaError(self.path, found=found, supported=schema_version)
        if found < schema_version:  # executescript commits first: it runs its own transaction
            script = migrations[found]
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;{script}PRAGMA user_version = {schema_version};COMMIT;"
                )
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return found

    def close(self) -> None:
        """Close this thread's connection (the next use opens a new one)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            with self._opened_lock:
                self._opened = [c for c in self._opened if c is not conn]
            conn.close()
            self._local.conn = None

    def close_all(self) -> None:
        """Close every thread's connection, at a clean stop when no thread uses the file
        any more (a later use opens a new connection). The last connection to the file, in
        any process, checkpoints the WAL into the database and removes its ``-wal`` and
        ``-shm`` files; closing is never an error."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for conn in opened:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def sqlite_errors_as(error: type[StoreError]) -> Callable[[_Store], _Store]:
    """Class decorator for a store: its ``__init__`` and every public method raise
    ``error(f"{what}: {sqlite message}")`` (the ``sqlite3.Error`` as ``__cause__``) instead
    of any ``sqlite3.Error``. Methods must return plain values, not lazy iterators."""

    def wrap(method: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(method)
        def translated(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except sqlite3.Error as cause:
                raise error(f"{name}: {cause}") from cause

        return translated

    def decorate(cls: _Store) -> _Store:
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and (name == "__init__" or not name.startswith("_")):
                setattr(cls, name, wrap(member, f"{cls.__name__}.{name}"))
        return cls

    return decorate


def quick_check(path: Path) -> tuple[str, ...]:
    """``PRAGMA quick_check`` of ``path`` on a read-only connection: ``("ok",)`` for a sound
    file, else SQLite's findings (or the reason it could not be read at all)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:  # "file is not a database", …
        return (str(error),)
    return tuple(str(row[0]) for row in rows)
