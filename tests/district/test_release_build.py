"""``cedoka-district release build`` (issue 19 item 1, ADR 0031) with the real pip and no
network: a small project named ``cedoka`` whose build backend lives in its own tree (a
PEP 517 in-tree backend writing a pure-Python wheel, so ``pip wheel`` needs no setuptools
from an index), dependency wheels in a local wheelhouse, and pip told never to use an index.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from district import cli as district_cli

VERSION = "0.7.0"

BACKEND = '''
"""An in-tree PEP 517 backend for the test: writes the wheel named in wheel.json."""
import base64, csv, hashlib, io, json, pathlib, zipfile

def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    spec = json.loads(pathlib.Path("wheel.json").read_text())
    name, version = spec["name"], spec["version"]
    info = f"{name}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *spec["metadata"], ""]
    files = {f"{name}_lab/__init__.py": b"VERSION = %r\\n" % version,
             f"{info}/METADATA": "\\n".join(lines).encode(),
             f"{info}/WHEEL": (b"Wheel-Version: 1.0\\nGenerator: lab\\n"
                               b"Root-Is-Purelib: true\\nTag: py3-none-any\\n")}
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\\n")
    for path, data in files.items():
        writer.writerow([path, _hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel, "w") as out:
        for path, data in files.items():
            out.writestr(path, data)
    return wheel
'''


def _wheel(out: Path, name: str, version: str, metadata: tuple[str, ...] = ()) -> Path:
    """A tiny pure-Python wheel (a dependency in the wheelhouse)."""
    out.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": b"",
        f"{info}/METADATA": "\n".join(["Metadata-Version: 2.1", f"Name: {name}",
                                       f"Version: {version}", *metadata, ""]).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lab\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }  # fmt: skip
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    wheel = out / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


METADATA = ["Requires-Dist: lab-dep>=1", "Provides-Extra: ui",
            'Requires-Dist: lab-ui-dep; extra == "ui"']  # fmt: skip


def _source(tmp_path: Path, version: str = VERSION) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "labbackend"\nbackend-path = ["."]\n'
    )
    (src / "labbackend.py").write_text(BACKEND)
    spec = {"name": "cedoka", "version": version, "metadata": METADATA}
    (src / "wheel.json").write_text(json.dumps(spec))
    return src


@pytest.fixture(autouse=True)
def _no_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip never reaches an index here (no network in tests), nor reads this host's pip
    configuration (its indexes, links and constraints)."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


def _build(*argv: str) -> int:
    return district_cli.main(["release", "build", *argv])


def _members(archive: Path) -> tuple[dict[str, object], list[str]]:
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        extracted = tar.extractfile("release.json")
        assert extracted is not None
        info = json.loads(extracted.read())
    return info, sorted(n.removeprefix("wheels/") for n in names if n.startswith("wheels/"))


def test_build_from_the_source_with_a_local_wheelhouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path)
    deps = tmp_path / "deps"
    _wheel(deps, "lab-dep", "1.2")
    _wheel(deps, "lab-ui-dep", "2.0")
    _wheel(deps, "unrelated", "9.9")  # in the wheelhouse, not needed: left out
    out = tmp_path / "cedoka-0.7.0.tar.gz"
    assert _build("--from", str(src), "--wheels", str(deps), "--extras", "ui",
                  "--out", str(out)) == 0, capsys.readouterr().err  # fmt: skip
    assert "release 0.7.0, 3 wheels, extras ui" in capsys.readouterr().out
    info, wheels = _members(out)
    assert info == {"format": "cedoka-release/1", "version": VERSION, "extras": ["ui"]}
    assert wheels == ["cedoka-0.7.0-py3-none-any.whl", "lab_dep-1.2-py3-none-any.whl",
                      "lab_ui_dep-2.0-py3-none-any.whl"]  # fmt: skip
    # the district publishes it as it is
    home = tmp_path / "district"
    from tests.district.conftest import new_district

    keys, _ = new_district(home)
    keys.store.close()
    district = ["--home", str(home), "release"]
    assert district_cli.main([*district, "init"]) == 0
    assert district_cli.main([*district, "publish", str(out), "--version", VERSION]) == 0


def test_build_refuses_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _source(tmp_path)
    partial = tmp_path / "partial"
    _wheel(partial, "lab-dep", "1.2")  # lab-ui-dep missing
    out = tmp_path / "x.tar.gz"

    def refused(*argv: str, text: str) -> None:
        existed = out.exists()
        capsys.readouterr()
        assert _build(*argv) == 1
        err = capsys.readouterr().err
        assert text in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert out.exists() == existed  # nothing written

    refused("--from", str(src), "--wheels", str(partial), "--extras", "ui", "--out", str(out),
            text="pip wheel of")  # fmt: skip
    refused("--out", str(out), text="give --from SRC_DIR and/or --wheels DIR")
    refused("--from", str(tmp_path / "nowhere"), "--out", str(out), text="not a project source")
    # a wheelhouse that lacks a dependency of cedoka[ui]: the kiosk could not install it
    house = tmp_path / "house"
    _wheel(house, "lab-dep", "1.2")
    (house / "cedoka-0.7.0-py3-none-any.whl").write_bytes(_built_cedoka(tmp_path, src).read_bytes())
    refused("--wheels", str(house), "--extras", "ui", "--out", str(out),
            text="do not install cedoka[ui]==0.7.0 on their own")  # fmt: skip
    assert _build("--wheels", str(house), "--extras", "", "--out", str(out)) == 0  # no ui: fine
    refused("--wheels", str(house), "--out", str(out), "--extras", "", text="exists already")
    out.unlink()
    _wheel(house, "cedoka", "0.6.0")  # an older release's wheel left in the wheelhouse
    refused("--wheels", str(house), "--extras", "", "--out", str(out), text="give --version")
    assert _build("--wheels", str(house), "--extras", "", "--version", VERSION,
                  "--out", str(out)) == 0  # fmt: skip
    assert "cedoka-0.6.0-py3-none-any.whl" not in _members(out)[1]
    out.unlink()
    refused("--wheels", str(house), "--version", "0.8.0", "--out", str(out),
            text="holds no cedoka-0.8.0-*.whl")  # fmt: skip


def _built_cedoka(tmp_path: Path, src: Path) -> Path:
    """The project's wheel as pip wheel builds it (the backend above)."""
    import subprocess
    import sys

    out = tmp_path / "built"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                    "--wheel-dir", str(out), str(src)], check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    (wheel,) = out.glob("cedoka-*.whl")
    return wheel
