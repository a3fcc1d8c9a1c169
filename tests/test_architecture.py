"""The layering rules of docs/architecture.md, checked on the source (not by convention).

* imports point one way: kiosk <- printers <- agent <- ui; district -> kiosk only; the shared
  I/O layer cedoka_io imports only kiosk and the standard library, and every package but
  kiosk may use it;
* kiosk/ (the pure core) imports only the standard library's pure modules, itself, and the
  pure third-party libraries cryptography, joserfc and pypdf; and never calls ``open``
  (ruff's banned-api rule cannot see builtins).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kiosk", "cedoka_io", "printers", "agent", "ui", "district")
MAY_IMPORT = {
    "kiosk": {"kiosk"},
    "cedoka_io": {"kiosk", "cedoka_io"},  # the shared I/O layer beside the core
    "printers": {"kiosk", "cedoka_io", "printers"},
    "agent": {"kiosk", "cedoka_io", "printers", "agent"},
    "ui": {"kiosk", "cedoka_io", "printers", "agent", "ui"},
    "district": {"kiosk", "cedoka_io", "district"},
}
KIOSK_THIRD_PARTY = {"cryptography", "joserfc", "pypdf"}
KIOSK_STDLIB_IO = {
    "os", "pathlib", "shutil", "tempfile", "glob", "sqlite3", "socket", "ssl", "http", "urllib",
    "subprocess", "asyncio", "threading", "multiprocessing", "concurrent", "time", "random",
    "secrets", "logging", "signal", "select", "selectors", "mmap", "fcntl",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    for path in _files(package):
        ours = _imports(path) & set(PACKAGES)
        assert ours <= MAY_IMPORT[package], (
            f"{path.relative_to(ROOT)} imports {ours - MAY_IMPORT[package]}"
        )


def test_the_core_imports_no_io_and_only_pure_libraries() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in _files("kiosk"):
        imported = _imports(path) - {"kiosk", "__future__"}
        assert not imported & KIOSK_STDLIB_IO, f"{path.name}: {imported & KIOSK_STDLIB_IO}"
        foreign = imported - stdlib
        assert foreign <= KIOSK_THIRD_PARTY, f"{path.name}: {foreign - KIOSK_THIRD_PARTY}"


def test_the_core_never_opens_files() -> None:
    for path in _files("kiosk"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input"}, (
                    f"{path.name} calls {node.func.id}"
                )


def test_the_shared_io_layer_uses_only_the_standard_library_and_the_core() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in _files("cedoka_io"):
        foreign = _imports(path) - stdlib - {"kiosk", "cedoka_io", "__future__"}
        assert not foreign, f"{path.relative_to(ROOT)} imports {foreign}"
