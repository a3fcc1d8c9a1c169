"""The development install (``install.sh --test`` / ``--demo``: ``pip install -e``) is quiet:
it printed setuptools' "Editable installation" warning (its import-finder strategy for a
flat layout whose packages setup.cfg did not place) at every install.

Real: a throw-away venv, and pip with install.sh's own flags building the project with the
setuptools of ``[build-system]`` (fetched like every other install test's packages); only
the project's dependencies are left out (``--no-deps``), they print nothing of ours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("kiosk", "printers", "agent", "ui", "district", "cedoka_io")
PIP_FLAGS = ("--quiet", "--disable-pip-version-check", "--no-input")  # as install.sh
# Without PYTHONPATH: it would point the imports below at the tests' own tree.
ENV = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def test_the_editable_install_prints_nothing_and_imports_from_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, tree / name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # As install.sh: today's pip first (ensurepip's older one hides the build's warnings).
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", *PIP_FLAGS, "--upgrade",
                    "pip"], env=ENV, check=True, timeout=300)  # fmt: skip
    done = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", *PIP_FLAGS, "--no-deps", "-e", "."],
        cwd=tree, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ours = [line for line in done.stderr.splitlines() if "Location 'file:" not in line]
    assert not any("Editable installation" in line or "Warning" in line for line in ours), ours
    where = subprocess.run(
        [str(venv / "bin/python"), "-c", "import kiosk, ui; print(kiosk.__file__, ui.__file__)"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert where.stdout.split() == [str(tree / "kiosk/__init__.py"), str(tree / "ui/__init__.py")]
