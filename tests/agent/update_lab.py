"""The self-update's test bench (ADR 0031): a district whose server also serves its TUF
repository of agent releases, release archives built here, and a static mirror (a plain
HTTP file server: an attacker or a stale cache between the kiosk and the district).

A release archive holds a real wheel of this tree with another version, written by
:func:`build_wheel` (a wheel is a zip: the packages, ``*.dist-info/METADATA``, ``WHEEL``,
``entry_points.txt``, ``RECORD``), because building one with setuptools would need the
network for its build requirements. pip installs it for real; the dependencies come from a
*seed* directory (symlinks to this venv's site-packages, Cedoka itself left out), written
into the new venv as a ``.pth``: a real archive carries every wheel instead.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import http.server
import io
import shutil
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from district.releases import write_archive

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kiosk", "printers", "agent", "ui", "district", "cedoka_io")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build_wheel(version: str, out: Path, *, patch: dict[str, str] | None = None) -> Path:
    """A wheel ``cedoka-<version>-py3-none-any.whl`` of this tree's packages (``patch``:
    file path → new text, e.g. a broken self-test)."""
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"cedoka-{version}-py3-none-any.whl"
    info = f"cedoka-{version}.dist-info"
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(ROOT).as_posix()
                files[rel] = path.read_bytes()
    for rel, text in (patch or {}).items():
        files[rel] = text.encode()
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: cedoka\nVersion: {version}\n"
                                 "Provides-Extra: ui\n").encode()  # fmt: skip
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: cedoka-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
    files[f"{info}/entry_points.txt"] = (b"[console_scripts]\ncedoka = ui.cli:main\n"
                                         b"cedoka-district = district.cli:main\n")  # fmt: skip
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def build_archive(version: str, work: Path, *, patch: dict[str, str] | None = None) -> Path:
    """A release archive ``cedoka-<version>.tar.gz`` holding one wheel of this tree."""
    wheel = build_wheel(version, work / f"wheels-{version}", patch=patch)
    archive = work / f"cedoka-{version}.tar.gz"
    write_archive(archive, version, [wheel], [])
    return archive


@functools.cache
def seed_dir(base: Path) -> Path:
    """``base``/seed: a symlink to every entry of this venv's site-packages but Cedoka's own
    (its dist-info and editable hook), for the new release's ``.pth``."""
    seed = base / "seed"
    if seed.exists():
        return seed
    seed.mkdir(parents=True)
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.name.startswith(("cedoka", "__editable__")) or entry.suffix == ".pth":
            continue
        (seed / entry.name).symlink_to(entry)
    return seed


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@contextlib.contextmanager
def mirror(tuf_dir: Path, copy_to: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving a frozen copy of ``tuf_dir`` at ``/tuf/``:
    what a stale cache or an attacker replaying old files would serve. Yields the base URL."""
    shutil.copytree(tuf_dir, copy_to / "tuf")
    handler = functools.partial(_Quiet, directory=str(copy_to))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
