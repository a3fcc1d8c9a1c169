"""``cedoka operator``: district IT adds the village staff, with PINs that follow the rules,
against a real enrolled kiosk home."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from agent.operators import OperatorBook, StaffError
from agent.spool import Spool
from tests.agent.harness import CEDOKA, enrol
from tests.district.conftest import Server


def _cli(home: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CEDOKA), "--home", str(home), "operator", *argv], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ))  # fmt: skip


def test_operators_are_added_listed_repinned_and_removed(server: Server, tmp_path: Path) -> None:
    home = enrol(server, tmp_path).home
    assert "no operators yet" in _cli(home, "list").stdout
    added = _cli(home, "add", "budi", "--name", "Budi  Santoso", "--supervisor", "--pin-stdin",
                 stdin="4826\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    for pin, why in (("1234", "run"), ("7777", "repeat"), ("12", "4 to 8"), ("12ab", "4 to 8")):
        weak = _cli(home, "add", "siti", "--name", "Siti", "--pin-stdin", stdin=pin + "\n")
        assert weak.returncode == 1 and "bad_pin" in weak.stderr and why in weak.stderr
    bad_id = _cli(home, "add", "Siti!", "--name", "x", "--pin-stdin", stdin="4826\n")
    assert bad_id.returncode == 2 and "not an operator id" in bad_id.stderr  # before the PIN
    taken = _cli(home, "add", "budi", "--name", "Other", "--pin-stdin", stdin="4826\n")
    assert "taken" in taken.stderr
    no_tty = _cli(home, "add", "ani", "--name", "Ani")
    assert no_tty.returncode == 1 and "--pin-stdin" in no_tty.stderr
    listed = json.loads(_cli(home, "list", "--json").stdout)
    assert listed == [{"id": "budi", "name": "Budi Santoso", "role": "supervisor"}]
    assert _cli(home, "set-pin", "budi", "--pin-stdin", stdin="5039\n").returncode == 0
    spool = Spool(home / "spool.db")
    try:
        book = OperatorBook(spool, now_s=lambda: 1_800_000_000)
        assert book.check("budi", "5039").is_supervisor
        try:
            book.check("budi", "4826")
            raise AssertionError("the old PIN still works")
        except StaffError as error:
            assert error.code == "pin_wrong"
        raw = (home / "spool.db").read_bytes()
        assert b"5039" not in raw and b"scrypt$" in raw  # only the salted hash is stored
    finally:
        spool.close()
    assert _cli(home, "remove", "budi").returncode == 0
    assert _cli(home, "remove", "budi").returncode == 1
