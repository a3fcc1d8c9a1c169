"""The atomic durable write: whole or not at all, private whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cedoka_io import files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_written_whole_and_private_under_an_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        files.write_atomic(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").read_bytes() == b"{}"
    assert _mode(tmp_path / "a.json") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_an_existing_file_is_replaced_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "agent.toml"
    target.write_bytes(b"old")
    target.chmod(0o666)
    files.write_atomic(target, b"new", mode=0o640)
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keys.json"
    target.write_bytes(b"old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_a_missing_directory_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        files.write_atomic(tmp_path / "gone" / "a.json", b"{}")
