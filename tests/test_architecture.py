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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, lazy (function-level) imports included:
    ``from agent import trust`` is an edge to ``agent.trust`` when that is a module."""
    paths = {_module_name(path): path for package in PACKAGES for path in _files(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in paths else base)
        graph[name] = {edge for edge in edges if edge in paths and edge != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    """No module imports itself back through others, not even through a lazy import
    inside a function (it only hides the cycle from Python's import machinery)."""
    graph = _import_graph()
    assert "agent.app" in graph and "agent.spool" in graph["agent.app"]  # the graph is real
    cycles = _cycles(graph)
    assert not cycles, f"import cycles (each a set of modules that import each other): {cycles}"


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


HOME_FILE_NAMES = {
    "agent.toml", "spool.db", "keys", "auth.pem", "seal.pem", "blobs", "printing.lock",
    "server-ca.pem", "kiosk-url",
}  # fmt: skip


def test_the_home_layout_has_one_owner() -> None:
    """agent/home.py names the files of the kiosk's home; no other module of the agent, the
    screen or the printers spells one (docstrings aside)."""
    owner = ROOT / "agent" / "home.py"
    for package in ("agent", "ui", "printers"):
        for path in _files(package):
            if path == owner:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    name = node.value.rpartition("/")[2]
                    assert name not in HOME_FILE_NAMES, (
                        f"{path.relative_to(ROOT)}:{node.lineno} names {node.value!r}: "
                        "use agent.home.HomeLayout"
                    )


# The agent's job services: the kiosk screen reaches them only through the desk (agent.desk).
DESK_ONLY_MODULES = {"agent.spool", "agent.jobs", "agent.stored", "agent.dispatch",
                     "agent.release", "agent.audit", "agent.trust", "agent.sync"}  # fmt: skip
DESK_ONLY_ATTRIBUTES = {"spool", "book", "stored", "dispatcher", "releaser", "audit", "syncer",
                        "reporter", "link", "operators", "printers", "receipt"}  # fmt: skip


def test_the_kiosk_screen_reaches_the_agent_only_through_its_desk() -> None:
    """No file of ui/ imports the spool or the agent's job services, nor reads one off the
    Agent (``agent.spool``, ``agent.dispatcher`` …): every staff action is a method of
    ``agent.desk`` (issue 15)."""
    for path in _files("ui"):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module not in DESK_ONLY_MODULES, f"{where} imports {node.module}"
            elif isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
                assert not names & DESK_ONLY_MODULES, f"{where} imports {names}"
            elif isinstance(node, ast.Attribute) and node.attr in DESK_ONLY_ATTRIBUTES:
                owner = node.value
                assert not (isinstance(owner, ast.Name) and owner.id == "agent"), (
                    f"{where}:{node.lineno} reads agent.{node.attr}: use agent.desk"
                )


# --- one error tree (issue 15 item 4) ------------------------------------------------------

_BUILTIN_ROOTS = {
    "Exception", "BaseException", "ValueError", "TimeoutError", "OSError", "RuntimeError",
    "TypeError", "KeyError", "LookupError", "ArgumentTypeError",
}  # fmt: skip


def _exception_classes() -> dict[str, tuple[Path, list[str]]]:
    """Every class defined in the project's packages: name -> (file, base names)."""
    classes: dict[str, tuple[Path, list[str]]] = {}
    for package in PACKAGES:
        for path in _files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
                    classes[node.name] = (path, bases)
    return {name: entry for name, entry in classes.items() if _raises(name, classes)}


def _ancestors(name: str, classes: dict[str, tuple[Path, list[str]]]) -> set[str]:
    """Every base name reachable from ``name`` (a class named like its base ends there)."""
    found: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for base in classes[current][1] if current in classes else []:
            if base not in found:
                found.add(base)
                todo.append(base)
    return found


def _raises(name: str, classes: dict[str, tuple[Path, list[str]]]) -> bool:
    return bool(_ancestors(name, classes) & _BUILTIN_ROOTS)


def test_every_project_exception_derives_from_cedoka_error() -> None:
    classes = _exception_classes()
    assert len(classes) > 20, sorted(classes)  # the scan finds the tree
    for name, (path, bases) in classes.items():
        assert name == "CedokaError" or "CedokaError" in _ancestors(name, classes), (
            f"{path.relative_to(ROOT)}: {name}({', '.join(bases)}) is not under CedokaError"
        )


def test_the_error_tree_is_drawn_once_with_every_exception() -> None:
    """kiosk/errors.py's docstring draws the whole tree; docs/architecture.md points to it."""
    import kiosk.errors

    drawn = kiosk.errors.__doc__ or ""
    assert "    CedokaError\n" in drawn
    for name in set(_exception_classes()) - {"CedokaError"}:
        assert f"── {name} " in drawn, f"{name} is missing from the tree in kiosk/errors.py"
    assert "kiosk/errors.py" in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_the_docs_draw_the_same_error_tree() -> None:
    import kiosk.errors

    lines = (kiosk.errors.__doc__ or "").splitlines()
    start = lines.index("    CedokaError")
    end = lines.index("", start)
    tree = "\n".join(line[4:] for line in lines[start:end])
    docs = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"```\n{tree}\n```" in docs, "docs/architecture.md §8 differs from kiosk/errors.py"
