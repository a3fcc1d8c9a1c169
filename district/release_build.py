"""``cedoka-district release build``: a release archive from this project's source or from a
wheelhouse, so district IT does not pack one by hand (issue 19 item 1, ADR 0031).

- ``--from SRC`` runs ``pip wheel 'SRC[extras]'``: the project's wheel and a wheel of every
  dependency the kiosk installs with those extras, from pip's configured index; with
  ``--wheels DIR`` as well, offline: ``--no-index --find-links DIR`` (DIR holds the
  dependencies' wheels, and the build's own, setuptools and wheel).
- ``--wheels DIR`` alone packs a wheelhouse made elsewhere (``cedoka-V`` among its wheels).

Then the wheelhouse is checked the way a kiosk will install it: ``pip install --dry-run
--no-index --find-links WHEELS 'cedoka[extras]==V'`` must resolve from those wheels alone
(pip ``--isolated``: no index or constraint from this machine's configuration), and
:func:`district.releases.write_archive` writes ``release.json`` + ``wheels/``.

Wheels with compiled code are for the interpreter that builds them: build on a machine like
the kiosks (Debian 12, its ``/usr/bin/python3``, the same architecture), or give
``--python`` that interpreter (it needs pip).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from district.releases import write_archive
from kiosk.errors import OperatorError
from kiosk.rollout import parse_version

WHEEL_NAME = re.compile(r"cedoka-([^-]+)-[^-]+-[^-]+-[^-]+\.whl")
EXTRA = re.compile(r"[a-z][a-z0-9_-]{0,31}")
PIP_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Built:
    """What :func:`build` wrote."""

    out: Path
    version: str
    wheels: int
    extras: tuple[str, ...]


def parse_extras(text: str) -> list[str]:
    extras = [e for e in text.split(",") if e]
    if not all(EXTRA.fullmatch(e) for e in extras):
        raise OperatorError(f"--extras {text!r}: names such as printers,ui,window")
    return extras


def _pip(python: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *argv],
                              capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                              check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OperatorError(f"{python} -m pip: {error}") from None


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    useful = [line for line in lines if line.startswith("ERROR") or "error" in line.lower()]
    return (useful or lines or [f"exit status {done.returncode}"])[-1]


def _cedoka_wheels(wheels: list[Path]) -> dict[str, Path]:
    found = {}
    for wheel in wheels:
        match = WHEEL_NAME.fullmatch(wheel.name)
        if match:
            found[match.group(1)] = wheel
    return found


def _pick_version(wheels: list[Path], version: str | None, where: str) -> str:
    """The release version: ``version`` (its wheel must be there) or the only cedoka wheel's."""
    versions = _cedoka_wheels(wheels)
    if version is not None:
        if version not in versions:
            raise OperatorError(f"{where} holds no cedoka-{version}-*.whl")
        return version
    if len(versions) != 1:
        found = ", ".join(sorted(versions)) or "none"
        raise OperatorError(f"{where}: give --version (cedoka wheels there: {found})")
    (only,) = versions
    parse_version(only)  # a release version: 2-4 numbers
    return only


def _wheel_from_source(python: Path, source: Path, extras: list[str], offline: Path | None,
                       into: Path) -> None:  # fmt: skip
    if not (source / "pyproject.toml").is_file() and not (source / "setup.py").is_file():
        raise OperatorError(f"{source} is not a project source directory (no pyproject.toml)")
    spec = f"{source.resolve()}[{','.join(extras)}]" if extras else str(source.resolve())
    index = [] if offline is None else ["--no-index", "--find-links", str(offline.resolve())]
    done = _pip(python, "wheel", "--wheel-dir", str(into), *index, spec)
    if done.returncode != 0:
        raise OperatorError(f"pip wheel of {source} failed: {_last(done)}")


def check_wheelhouse(python: Path, wheels: Path, version: str, extras: list[str]) -> None:
    """``cedoka[extras]==version`` must resolve from ``wheels`` alone, as on a kiosk."""
    spec = f"cedoka[{','.join(extras)}]=={version}" if extras else f"cedoka=={version}"
    done = _pip(python, "--isolated", "install", "--dry-run", "--ignore-installed",
                "--no-index", "--find-links", str(wheels), "--quiet", spec)  # fmt: skip
    if done.returncode != 0:
        raise OperatorError(f"the wheels do not install {spec} on their own: {_last(done)}")


def build(*, out: Path, source: Path | None, wheels: Path | None, version: str | None,
          extras: list[str], python: Path | None = None) -> Built:  # fmt: skip
    """Build the release archive ``out`` (see the module's docstring).

    Raises OperatorError: a missing or unusable input, pip failing, a wheelhouse that is
    not complete."""
    python = python or Path(sys.executable)
    if out.exists():
        raise OperatorError(f"{out} exists already")
    if source is None and wheels is None:
        raise OperatorError("give --from SRC_DIR and/or --wheels DIR")
    if wheels is not None and not wheels.is_dir():
        raise OperatorError(f"{wheels} is not a directory")
    if version is not None:
        parse_version(version)
    with tempfile.TemporaryDirectory(prefix="cedoka-release-") as tmp:
        house = Path(tmp) / "wheels"
        house.mkdir()
        if source is not None:
            _wheel_from_source(python, source, extras, wheels, house)
            where = f"the wheels built from {source}"
        else:
            assert wheels is not None
            for wheel in wheels.glob("*.whl"):
                (house / wheel.name).symlink_to(wheel.resolve())
            where = str(wheels)
        version = _pick_version(sorted(house.glob("*.whl")), version, where)
        for other, wheel in _cedoka_wheels(sorted(house.glob("*.whl"))).items():
            if other != version:  # another release's wheel in the wheelhouse
                wheel.unlink()
        listed = sorted(house.glob("*.whl"))
        check_wheelhouse(python, house, version, extras)
        partial = out.with_name(out.name + ".partial")
        write_archive(partial, version, [w.resolve() for w in listed], extras)
        os.replace(partial, out)
    return Built(out, version, len(listed), tuple(extras))
