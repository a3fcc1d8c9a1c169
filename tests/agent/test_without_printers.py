"""A kiosk installed without the ``printers`` extra (no pycups, no python-escpos), as
``install.sh --demo`` installs it when CUPS has no queue: the command line says what is
missing in one line, with its own exit status (4), and never shows a traceback.

The missing extra is made by :mod:`tests.without_printers.sitecustomize` (see there why it
equals an install without the extra)."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.model import ReleaseMode
from tests.agent.harness import Kiosk, enrol, push, wait_for
from tests.district.conftest import Server
from tests.without_printers.sitecustomize import env_without_printers


def _configure(kiosk: Kiosk, a4: str, receipt: str | None = None) -> None:
    """Point the enrolled kiosk's printer roles elsewhere (as district IT edits agent.toml)."""
    toml = kiosk.home / "agent.toml"
    text = toml.read_text()
    lines = [line for line in text.splitlines() if not line.startswith("receipt = ")]
    lines = [f'a4 = "{a4}"' if line.startswith("a4 = ") else line for line in lines]
    if receipt is not None:
        at = next(i for i, line in enumerate(lines) if line.startswith("a4 = "))
        lines.insert(at + 1, f'receipt = "{receipt}"')
    toml.write_text("\n".join(lines) + "\n")


def test_printers_with_virtual_printers_says_cups_is_not_installed(
    server: Server, tmp_path: Path
) -> None:
    """``cedoka printers`` crashed with ``No module named 'cups'`` in the default demo."""
    kiosk = enrol(server, tmp_path)
    done = kiosk.cli("printers", env=env_without_printers())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "CUPS tidak terpasang / CUPS is not installed" in done.stdout
    as_json = json.loads(kiosk.cli("printers", "--json", env=env_without_printers()).stdout)
    assert as_json["cups_installed"] is False and as_json["cups_queues"] == []


def test_a_cups_printer_without_pycups_is_one_line_and_exit_4(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    _configure(kiosk, "cups:Kantor_A4", "escpos:tcp://127.0.0.1:9")
    done = kiosk.cli("printers", env=env_without_printers())
    assert done.returncode == 4  # agent.commands.EXIT_NOT_INSTALLED
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("cedoka: error: cups_missing, escpos_missing: ")
    assert "printers extra" in line
    assert "CUPS tidak terpasang di komputer ini" in done.stdout
    assert "CUPS is not installed on this PC" in done.stdout
    status = kiosk.cli("status", "--json", env=env_without_printers())
    assert status.returncode == 0, status.stderr
    states = {p["role"]: p for p in json.loads(status.stdout)["printers"]}
    assert states["a4"]["reasons"] == ["cups-not-installed"]
    assert states["receipt"]["reasons"] == ["escpos-not-installed"]
    doctor = kiosk.cli("doctor", "--json", env=env_without_printers())
    assert "Traceback" not in doctor.stderr
    assert "CUPS tidak terpasang" in doctor.stdout and "printers extra" in doctor.stdout


def test_release_on_a_cups_printer_without_pycups_says_so_with_exit_4(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, code, _ = push(server, ReleaseMode.CLAIM)
    assert code is not None
    kiosk.start()  # fetch the job (printers are not involved)
    try:
        wait_for("job fetched", lambda: kiosk.local_state(job_id) == "held")
    finally:
        kiosk.stop_all()
    _configure(kiosk, "cups:Kantor_A4")
    done = kiosk.cli("release", "--claim", code, env=env_without_printers())
    assert done.returncode == 4, done.stderr  # agent.commands.EXIT_NOT_INSTALLED
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("cedoka: cups_missing: CUPS is not installed on this PC")
    assert f"job {job_id}: released" in done.stdout  # it prints once CUPS is installed
