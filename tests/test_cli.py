"""The two command lines: version, usage errors, the home's default.

``selftest`` is not tested here: it belongs to ``kiosk.selftest``'s own tests. The district's
commands themselves are tested in ``tests/district/test_cli.py``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from agent import cli as agent_cli
from district import cli as district_cli

CLIS = [
    pytest.param(agent_cli, id="cedoka"),
    pytest.param(district_cli, id="cedoka-district"),
]


@pytest.mark.parametrize("cli", CLIS)
def test_version_prints_program_and_version_then_exits_0(
    cli: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{cli.PROG} ")
    assert cli.package_version() in out


@pytest.mark.parametrize("cli", CLIS)
def test_missing_command_is_a_usage_error(
    cli: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("cli", CLIS)
def test_unknown_command_is_a_usage_error(
    cli: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("cli", CLIS)
def test_home_defaults_to_the_environment_variable(
    cli: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(cli.HOME_ENV, str(tmp_path))
    args = cli.build_parser().parse_args(["selftest"])
    assert args.home == tmp_path


def test_agent_home_falls_back_to_var_lib_without_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(agent_cli.HOME_ENV, raising=False)
    args = agent_cli.build_parser().parse_args(["selftest"])
    assert args.home == agent_cli.DEFAULT_HOME
    assert str(agent_cli.DEFAULT_HOME).startswith("/var/lib/")


def test_district_home_has_no_default_without_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(district_cli.HOME_ENV, raising=False)
    assert district_cli.build_parser().parse_args(["selftest"]).home is None
    assert district_cli.main(["jobs"]) == 2
    assert f"${district_cli.HOME_ENV}" in capsys.readouterr().err


@pytest.mark.parametrize("cli", CLIS)
def test_home_option_overrides_the_environment_variable(
    cli: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(cli.HOME_ENV, "/nowhere")
    args = cli.build_parser().parse_args(["--home", str(tmp_path), "selftest"])
    assert args.home == tmp_path
