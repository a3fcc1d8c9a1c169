"""One PostgreSQL database shared by threads and processes: the plumbing under
:mod:`district.pg_store` (the PostgreSQL twin of :mod:`cedoka_io.sqlite`, kept in
``district/`` because the shared I/O layer imports only the standard library).

- one connection per thread, opened on first use from the URL, in autocommit mode (a read
  is one statement); a broken connection (the server restarted) is replaced on next use;
  the connection of a thread that has ended (anyio's pool threads exit after 10 s idle and
  new ones start under the next burst) is closed when the next connection is opened, so
  connections never pile up past PostgreSQL's ``max_connections``;
  :meth:`PgDatabase.close_all` closes them all at a clean stop;
- :meth:`PgDatabase.write`: one ``READ COMMITTED`` transaction, committed when the block
  ends and rolled back when it raises. Where the SQLite store relies on ``BEGIN IMMEDIATE``
  (one writer at a time), the PostgreSQL SQL takes the lock it needs explicitly: a guarded
  ``UPDATE … WHERE`` (PostgreSQL re-checks the condition on the row it waited for),
  ``INSERT … ON CONFLICT``, ``SELECT … FOR UPDATE SKIP LOCKED`` or ``LOCK TABLE``
  (ADR 0026);
- :meth:`PgDatabase.migrate`: the schema version in a one-row ``schema_version`` table and
  forward-only migrations, each run with the version bump in one transaction under a table
  lock (two processes starting at once migrate once); a newer database raises
  :class:`NewerSchemaError`;
- :func:`pg_errors_as`: the class decorator by which a store raises its
  :class:`~kiosk.errors.StoreError` for every ``psycopg.Error``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import psycopg

from kiosk.errors import StoreError

CONNECT_TIMEOUT_S = 10
_Store = TypeVar("_Store", bound=type)


class NewerSchemaError(StoreError):
    """The database's schema is newer than this program knows: nothing was changed."""

    def __init__(self, *, found: int, supported: int) -> None:
        super().__init__(f"schema {found} is newer than this program ({supported})")
        self.found, self.supported = found, supported


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    host = info.get("host") or "localhost"
    return f"postgresql://{info.get('user') or ''}@{host}/{info.get('dbname') or ''}"


class PgDatabase:
    """One database, one connection per thread (thread-safe)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._opened: list[tuple[threading.Thread, psycopg.Connection[Any]]] = []
        self._opened_lock = threading.Lock()
        self._generation = 0  # bumped by close_all: a thread's older connection is closed

    def connection(self) -> psycopg.Connection[Any]:
        """This thread's connection, opened on first use; raises ``psycopg.Error``."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and (
            getattr(self._local, "generation", 0) != self._generation or conn.closed
        ):
            conn = None
        if conn is None:
            with self._opened_lock:  # the connections of threads that have ended
                ended = [c for thread, c in self._opened if not thread.is_alive()]
                self._opened = [(t, c) for t, c in self._opened if t.is_alive()]
            for old in ended:
                with contextlib.suppress(psycopg.Error):
                    old.close()
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            with self._opened_lock:
                self._opened.append((threading.current_thread(), conn))
                self._local.conn, self._local.generation = conn, self._generation
        return conn

    def open_connections(self) -> int:
        """How many connections this database object holds open (for the tests)."""
        with self._opened_lock:
            return sum(1 for _, conn in self._opened if not conn.closed)

    @contextlib.contextmanager
    def write(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction on this thread's connection (rolled back when the block raises)."""
        conn = self.connection()
        with conn.transaction():
            yield conn

    def migrate(self, *, schema_version: int, migrations: Mapping[int, str]) -> int:
        """Bring the database to ``schema_version`` and return the version it had.

        ``migrations`` maps each older version a database can be at (0 = an empty
        database) to the SQL that takes it to ``schema_version``. Raises
        :class:`NewerSchemaError` (nothing changed), ``ValueError`` when the database is at
        a version with no script, ``psycopg.Error`` when one fails (rolled back).
        """
        with self.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            conn.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            found = 0 if row is None else int(row[0])
            if found > schema_version:
                raise NewerSchemaError(found=found, supported=schema_version)
            if found < schema_version:
                if found not in migrations:
                    raise ValueError(f"no migration from schema version {found}")
                conn.execute(migrations[found].encode())
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version VALUES (%s)", (schema_version,))
        return found

    def close(self) -> None:
        """Close this thread's connection (the next use opens a new one)."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            with self._opened_lock:
                self._opened = [(t, c) for t, c in self._opened if c is not conn]
            conn.close()
            self._local.conn = None

    def close_all(self) -> None:
        """Close every thread's connection (a clean stop); never an error."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for _, conn in opened:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def pg_errors_as(error: type[StoreError]) -> Callable[[_Store], _Store]:
    """Class decorator for a store: its ``__init__`` and every public method raise
    ``error(f"{what}: {message}")`` (the ``psycopg.Error`` as ``__cause__``) instead of any
    ``psycopg.Error``. Methods must return plain values, not lazy iterators."""

    def wrap(method: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(method)
        def translated(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except psycopg.Error as cause:
                first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
                raise error(f"{name}: {first_line or type(cause).__name__}") from cause

        return translated

    def decorate(cls: _Store) -> _Store:
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and (name == "__init__" or not name.startswith("_")):
                setattr(cls, name, wrap(member, f"{cls.__name__}.{name}"))
        return cls

    return decorate
