"""``cedoka-district user …`` and ``token …`` as real processes (issue 17 item 2): passwords
come from standard input or a terminal, never an argument; secrets are printed once; every
mistake is one line and exit status 1 or 2, never a traceback. On both stores: the module runs
once with SQLite in the home and once with the store on PostgreSQL (``--db``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from district.identity import Identity
from district.keyring import Keys
from kiosk.admin_audit import check_chain

PASSWORD = "kolaka-utara-2026"
CLI = [sys.executable, "-m", "district.cli"]
DB_OF: dict[Path, str] = {}  # a home whose store is on PostgreSQL -> its database URL


def run(home: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    db = ["--db", DB_OF[home]] if home in DB_OF else []
    return subprocess.run(
        [*CLI, "--home", str(home), *db, *argv], input=stdin, capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONWARNINGS": "error"}, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def home(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    path = tmp_path_factory.mktemp("district") / "home"
    if request.param == "postgresql":
        DB_OF[path] = request.getfixturevalue("pg_cluster").new_database()
    done = run(path, "init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    assert done.returncode == 0, done.stderr
    added = run(path, "user", "add", "andi.admin", "--name", "Andi S.", "--role", "admin",
                "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert (added.returncode, added.stdout.strip()) == (0, "user andi.admin added (admin)")
    return path


def test_users_are_added_listed_and_disabled(home: Path) -> None:
    run(home, "user", "add", "budi", "--name", "Budi", "--role", "viewer", "--password-stdin",
        stdin=PASSWORD + "\n")  # fmt: skip
    listed = json.loads(run(home, "user", "list", "--json").stdout)
    assert [(u["user_id"], u["role"], u["disabled_s"]) for u in listed] == [
        ("andi.admin", "admin", None), ("budi", "viewer", None),
    ]  # fmt: skip
    assert run(home, "user", "disable", "budi").returncode == 0
    again = run(home, "user", "disable", "budi")
    assert (again.returncode, again.stderr.strip()) == (
        1, "cedoka-district: error: the user budi is disabled already",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "stdin", "status", "says"),
    [
        (
            ("user", "add", "x1", "--name", "X", "--role", "admin"),
            "",
            1,
            "no terminal to ask the password on: give --password-stdin",
        ),
        (
            ("user", "add", "x2", "--name", "X", "--role", "admin", "--password-stdin"),
            "short\n",
            1,
            "a password has 12 to 128 characters",
        ),
        (
            ("user", "add", "x3", "--name", "X", "--role", "boss", "--password-stdin"),
            "",
            2,
            "invalid choice: 'boss'",
        ),
        (("user", "disable", "nobody"), "", 1, "no user 'nobody'"),
        (
            ("token", "create", "--user", "andi.admin", "--label", "x", "--expires", "10m"),
            "",
            1,
            "a token lives from 1 hour to 366 days",
        ),
        (
            (
                "token",
                "create",
                "--user",
                "andi.admin",
                "--label",
                "x",
                "--expires",
                "9d",
                "--scope",
                "jobs:everything",
            ),
            "",
            1,
            "'jobs:everything' is not a scope",
        ),
        (("token", "revoke", "zzzzzzzzzzzz"), "", 1, "no token 'zzzzzzzzzzzz'"),
    ],
)
def test_mistakes_are_one_line_without_a_traceback(
    home: Path, argv: tuple[str, ...], stdin: str, status: int, says: str
) -> None:
    done = run(home, *argv, stdin=stdin)
    assert done.returncode == status, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_token_is_printed_once_and_works_until_revoked(home: Path) -> None:
    run(home, "user", "add", "sila", "--name", "Si Laku", "--role", "operator",
        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    made = run(home, "token", "create", "--user", "sila", "--label", "Si Laku O2T",
               "--scope", "jobs:push", "--scope", "jobs:read", "--expires", "90d")  # fmt: skip
    assert made.returncode == 0, made.stderr
    text = made.stdout.strip()
    assert text.startswith("cdk_") and "not shown again" in made.stderr
    listed = run(home, "token", "list", "--json")
    assert text not in listed.stdout and text[len("cdk_") + 13 :] not in listed.stdout
    (row,) = [t for t in json.loads(listed.stdout) if t["user_id"] == "sila"]
    assert row["scopes"] == ["jobs:push", "jobs:read"]

    keys = Keys.open(home, DB_OF.get(home))
    try:
        identity = Identity(keys.store.identity, district_code=keys.district_code)
        assert identity.authenticate(text).user_id == "sila"
        assert run(home, "token", "revoke", row["token_id"]).returncode == 0
        with pytest.raises(Exception, match="unauthenticated"):
            identity.authenticate(text)
        records = keys.store.identity.admin_audit()
        assert check_chain(records, district_code="74.08") == []
        assert {"user.add", "user.disable", "token.create", "token.revoke"} <= {
            r.entry.action for r in records
        }
        assert all(r.entry.actor in {"cli", "anonymous"} for r in records)
    finally:
        keys.store.close()


def test_changes_made_on_the_server_host_are_in_the_admin_audit_log(home: Path) -> None:
    assert run(home, "office", "add", "74.08.01.2005", "--name", "Desa Lima").returncode == 0
    code = run(home, "enroll-code", "74.08.01.2005", "--valid", "1h")
    assert code.returncode == 0, code.stderr
    keys = Keys.open(home, DB_OF.get(home))
    try:
        records = keys.store.identity.admin_audit()
        mine = [(r.entry.actor, r.entry.action, r.entry.targets) for r in records
                if r.entry.action.startswith("office.")]  # fmt: skip
        assert mine == [
            ("cli", "office.add", (("office", "74.08.01.2005"),)),
            ("cli", "office.enroll_code", (("office", "74.08.01.2005"),)),
        ]  # fmt: skip
        assert check_chain(records, district_code="74.08") == []
    finally:
        keys.store.close()
