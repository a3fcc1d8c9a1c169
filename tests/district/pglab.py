"""A private, real PostgreSQL for the tests: one cluster per test session in a temporary
directory (``initdb -A trust``), on a Unix socket only (``listen_addresses=''``), with
``fsync=off``, a fresh database per test (``CREATE DATABASE … TEMPLATE template0``), stopped
and removed after. It never touches a system cluster. See ../shared/notes/postgres-lab.md.

The cluster itself is :mod:`bench.pgcluster`'s (the district benchmark starts the same kind
of cluster): under root the server runs as the unprivileged ``postgres`` user that Debian's
package creates (``runuser``); under any other user, as that user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bench.pgcluster import PG_BIN, SUPERUSER, PgCluster, missing, pg_cluster

PgLab = PgCluster

__all__ = ["PG_BIN", "SUPERUSER", "PgLab", "missing", "pg_lab"]


@contextmanager
def pg_lab() -> Iterator[PgLab]:
    """Start a private cluster (fsync off: tests need no durability); stop it and remove
    its directory at the end."""
    with pg_cluster(fsync=False) as lab:
        yield lab
