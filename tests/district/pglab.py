"""A private, real PostgreSQL for the tests: one cluster per test session in a temporary
directory (``initdb -A trust``), on a Unix socket only (``listen_addresses=''``), a fresh
database per test (``CREATE DATABASE … TEMPLATE template0``), stopped and removed after.
It never touches a system cluster. See ../shared/notes/postgres-lab.md.

PostgreSQL refuses to run as root: under root the server runs as the unprivileged
``postgres`` user that Debian's package creates (``runuser``); under any other user, as
that user.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("CEDOKA_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "cedoka"


def missing() -> str | None:
    """Why the lab cannot run here (None when it can)."""
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
class PgLab:
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


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def pg_lab() -> Iterator[PgLab]:
    """Start a private cluster; stop it and remove its directory at the end."""
    base = Path(tempfile.mkdtemp(prefix="cedoka-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    lab = PgLab(base)
    data = base / "data"
    subprocess.run(
        _as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER,
                         "-E", "UTF8", "--no-instructions"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    options = f"-k {base} -c listen_addresses='' -c fsync=off"
    started = subprocess.run(
        _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options,
                         "-l", str(base / "log"), "-w", "start"]),
        check=False, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr!r}\n{lab.log}")
        yield lab
    finally:
        subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                             "-w", "stop"]),
            check=False, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
