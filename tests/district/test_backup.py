"""``cedoka-district backup``: a consistent, private copy of a live district that works as a
home again."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from district import cli
from district.admin import DistrictAdmin
from district.keyring import Keys
from kiosk.model import ReleaseMode
from tests.agent.harness import nik_pdf
from tests.district.conftest import Kiosk, Server

OFFICE = "74.08.01.2002"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_backup_of_the_running_server_restores_as_a_home(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = Kiosk(server.base_url)
    with kiosk.session:
        assert kiosk.enroll(server.admin.new_enroll_code(OFFICE, valid_s=600)).status_code == 200
    pushed = server.admin.push(
        office_code=OFFICE, resident="SITI NURHALIZA", documents=[("KK", nik_pdf())],
        release=ReleaseMode.CLAIM, copies=1, lifetime_s=3600,
    )  # fmt: skip
    dest = tmp_path / "backups"
    assert cli.main(["--home", str(server.home), "backup", "--to", str(dest)]) == 0
    [copy] = dest.iterdir()
    assert copy.name.startswith("district-") and str(copy) in capsys.readouterr().out
    assert _mode(copy) == 0o700 and _mode(copy / "keys") == 0o700
    assert all(_mode(p) == 0o600 for p in copy.rglob("*") if p.is_file())
    restored = Keys.open(copy)
    assert [j.job_id for j in restored.store.jobs()] == [pushed.job_id]
    assert restored.root_public() == server.keys.root_public()
    again = DistrictAdmin(restored).push(
        office_code=OFFICE, resident="SITI NURHALIZA", documents=[("KK", nik_pdf())],
        release=ReleaseMode.CLAIM, copies=1, lifetime_s=3600,
    )  # fmt: skip
    assert again.device_id == pushed.device_id  # the signing keys work from the copy


def test_no_district_no_backup_and_nothing_left_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "backups"
    assert cli.main(["--home", str(tmp_path / "none"), "backup", "--to", str(dest)]) == 1
    assert "holds no district" in capsys.readouterr().err
    assert not dest.exists()
