"""The private PostgreSQL lab itself: a fresh, empty database per test."""

from __future__ import annotations

import psycopg


def test_each_test_gets_an_empty_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE marker (x int)")


def test_the_next_test_does_not_see_the_last_ones_tables(pg_url: str) -> None:
    test_each_test_gets_an_empty_database(pg_url)
