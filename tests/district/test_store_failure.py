"""When the district's store fails under a request (PostgreSQL restarted, a connection cut by
the administrator or by a pooler), the kiosk gets the protocol's 500 ``internal`` body, the
server's log says which store call failed and why (the bench's 16,000-kiosk run answered
thousands of 500s and logged nothing), and the next request works on a new connection."""

from __future__ import annotations

import psycopg
import pytest

from tests.district.conftest import Server, enrolled

STORES = ("postgresql",)  # a connection cut behind the server's back: PostgreSQL only

pytestmark = pytest.mark.loopback
THREADS = 40  # anyio's default thread pool, where the store runs


def _cut_server_connections(db_url: str) -> int:
    """Terminate every other backend on the district's database; how many were cut."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_a_cut_connection_is_a_logged_500_then_recovered(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    assert server.db_url is not None
    kiosk = enrolled(server)
    assert kiosk.feed().status_code == 200
    assert _cut_server_connections(server.db_url) > 0
    caplog.set_level("ERROR", logger="cedoka.district.http")

    failed = kiosk.feed()
    assert failed.status_code == 500, failed.text
    assert failed.json()["error"]["code"] == "internal"
    assert "terminat" not in failed.text  # the reason stays in the log, not on the wire
    logged = [r.getMessage() for r in caplog.records if "event=internal_error" in r.getMessage()]
    assert logged, caplog.text
    assert "path=/v1/feed" in logged[0] and "error=StoreError" in logged[0], logged
    assert "terminat" in logged[0].lower(), logged  # PostgreSQL's own reason, first line

    # each pool thread finds its cut connection at its next use, answers 500 once, drops
    # it and opens a new one: a 200 comes within one request per thread at most
    statuses = []
    for _ in range(THREADS + 1):
        statuses.append(kiosk.feed().status_code)
        if statuses[-1] == 200:
            break
    assert statuses[-1] == 200 and set(statuses) <= {200, 500}, statuses
    assert sum(1 for r in caplog.records if "event=internal_error" in r.getMessage()) == (
        1 + statuses.count(500)
    )  # every 500 logged
