"""``cedoka``: every argument of every command is checked before the command acts. A bad
value is one ``error: argument …`` line naming the argument and why, exit status 2, no
traceback, and nothing done (no home created, no code matched, no job released)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kiosk.model import ReleaseMode
from tests.agent.harness import CEDOKA, enrol, push, wait_for
from tests.district.conftest import Server

GOOD_CODE = "123456789018"  # 12 digits with a valid check digit (kiosk.claim)
ENROL = ["enroll", "--server", "https://district.example", "--code",
         "01234-56789-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "--printer", "a4=virtual:/tmp/x"]  # fmt: skip


def _run(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CEDOKA), "--home", str(home), *argv], capture_output=True,
                          text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def _swap(argv: list[str], option: str, value: str) -> list[str]:
    at = argv.index(option)
    return [*argv[: at + 1], value, *argv[at + 2 :]]


BAD = {
    "release-operator-name": (["release", "--claim", GOOD_CODE, "--operator", "Operator Desa"],
                              "--operator", "not a staff id"),
    "release-operator-long": (["release", "--claim", GOOD_CODE, "--operator", "x" * 33],
                              "--operator", "not a staff id"),
    "release-claim-letters": (["release", "--claim", "12ab"], "--claim", "not a claim code"),
    "release-claim-short": (["release", "--claim", "1234"], "--claim", "not a claim code"),
    "release-claim-typo": (["release", "--claim", "123456789010"], "--claim", "check digit"),
    "enroll-server-scheme": (_swap(ENROL, "--server", "ftp://district.example"), "--server",
                             "https://"),
    "enroll-server-http": (_swap(ENROL, "--server", "http://district.example"), "--server",
                           "loopback"),
    "enroll-code": (_swap(ENROL, "--code", "not-a-code"), "--code", "not an enrolment code"),
    "enroll-printer-role": (_swap(ENROL, "--printer", "paper=cups:A4"), "--printer",
                            "ROLE a4 or receipt"),
    "enroll-printer-uri": (_swap(ENROL, "--printer", "a4=ipp://printer.example/x"), "--printer",
                           "must start with cups: or virtual:"),
    "enroll-ca-missing": ([*ENROL, "--ca", "/nonexistent/ca.pem"], "--ca",
                          "No such file or directory"),
    "enroll-ca-directory": ([*ENROL, "--ca", "/tmp"], "--ca", "Is a directory"),
    "kiosk-wait-negative": (["kiosk", "--wait", "-5", "--browser"], "--wait", "more than 0"),
    "kiosk-wait-word": (["kiosk", "--wait", "soon", "--browser"], "--wait", "more than 0"),
    "operator-add-id": (["operator", "add", "Siti Aminah", "--name", "Siti"], "operator_id",
                        "not an operator id"),
    "operator-add-name": (["operator", "add", "siti", "--name", " "], "--name",
                          "printable characters"),
    "operator-set-pin-id": (["operator", "set-pin", "Budi!"], "operator_id",
                            "not an operator id"),
    "operator-remove-id": (["operator", "remove", "../x"], "operator_id", "not an operator id"),
    "demo-printer": (["demo", "--printer", "a4=lp0"], "--printer", "must start with"),
}  # fmt: skip


@pytest.mark.parametrize(("argv", "argument", "why"), BAD.values(), ids=BAD.keys())
def test_a_bad_argument_is_one_line_and_exit_2_before_anything_is_done(
    tmp_path: Path, argv: list[str], argument: str, why: str
) -> None:
    home = tmp_path / "home"
    done = _run(home, *argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    [error] = [line for line in done.stderr.splitlines() if "error:" in line]
    assert f"error: argument {argument}: " in error and why in error, error
    assert not home.exists()


def test_release_with_a_name_as_operator_matches_no_code(server: Server, tmp_path: Path) -> None:
    """Issue 16: ``--operator "Operator Desa"`` ended in a TransitionError traceback after
    the code was matched."""
    kiosk = enrol(server, tmp_path)
    job_id, code, _ = push(server, ReleaseMode.CLAIM)
    assert code is not None
    kiosk.start()  # `cedoka run` fetches the job
    try:
        wait_for("job fetched", lambda: kiosk.local_state(job_id) == "held")
        refused = kiosk.cli("release", "--claim", code, "--operator", "Operator Desa")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "argument --operator" in refused.stderr
        assert kiosk.local_state(job_id) == "held"
        done = kiosk.cli("release", "--claim", code, "--operator", "siti")
        assert done.returncode == 0, done.stderr
        assert f"job {job_id}: printed" in done.stdout
    finally:
        kiosk.stop_all()
