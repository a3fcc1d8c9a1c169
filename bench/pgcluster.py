"""A private, real PostgreSQL cluster in a temporary directory: ``initdb -A trust``, on a Unix
socket only (``listen_addresses=''``), stopped and removed at the end. It never touches a
system cluster. Used by ``bench.district`` (the ``--db postgresql`` variant) and by the tests'
``tests/district/pglab.py``. See ../shared/notes/postgres-lab.md.

PostgreSQL refuses to run as root: under root the server runs as the unprivileged
``postgres`` user that Debian's package creates (``runuser``); under any other user, as
that user.

    with pg_cluster(fsync=True, settings={"max_connections": "400"}) as cluster:
        url = cluster.new_database()        # postgresql://cedoka@/t123_0?host=/tmp/…
        cluster.postmaster_pid()            # for /proc accounting
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("CEDOKA_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "cedoka"


def missing() -> str | None:
    """Why a cluster cannot run here (None when it can)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[district]')"
    return None


@dataclass
class PgCluster:
    dir: Path  # holds the data directory, the log and the socket
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}"

    def new_database(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    @property
    def log(self) -> str:
        path = self.dir / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children)."""
        return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def pg_cluster(
    *, fsync: bool = False, settings: Mapping[str, str] | None = None
) -> Iterator[PgCluster]:
    """Start a private cluster; stop it and remove its directory at the end.

    ``fsync=False`` (the tests' choice: speed, no durability needed) adds ``-c fsync=off``;
    ``settings`` adds ``-c NAME=VALUE`` server options (e.g. ``max_connections``)."""
    base = Path(tempfile.mkdtemp(prefix="cedoka-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    cluster = PgCluster(base)
    data = base / "data"
    subprocess.run(
        _as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER,
                         "-E", "UTF8", "--no-instructions"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    options = f"-k {base} -c listen_addresses=''"
    if not fsync:
        options += " -c fsync=off"
    for name, value in (settings or {}).items():
        options += f" -c {name}={value}"
    started = subprocess.run(
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options,
                         "-l", str(base / "log"), "-w", "start"]),
        check=False, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr!r}\n{cluster.log}")
        yield cluster
    finally:
        subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                             "-w", "stop"]),
            check=False, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
