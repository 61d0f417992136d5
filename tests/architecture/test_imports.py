"""The house rules on imports that import-linter's contracts do not cover (those: pyproject.toml).

No import cycles between modules anywhere in the application, and no module importing another
module's ``_private`` names: a private name is free to change without looking at its callers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from tests.support.cli import ROOT

PACKAGES = ("archive", "pipelines", "dashboard", "portal")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or not (Tarjan's strongly connected
    components of more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep import chain cannot overflow Python's recursion limit.
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in graph.modules:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1 or module in graph.find_modules_directly_imported_by(module):
                        cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]


def private_imports(root: Path) -> list[str]:
    """``from first_party.module import _name`` anywhere in the application (module, line, name)."""
    found = []
    files = [root / "streamlit_app.py", *(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py"))]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                # ``_`` is gettext's public name by convention (archive.i18n), not a private one.
                if alias.name.startswith("_") and not alias.name.startswith("__") and alias.name != "_":
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {node.module}.{alias.name}")
    return found


def test_no_private_names_imported_across_modules():
    assert private_imports(ROOT) == []


def test_the_private_import_check_finds_one(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "streamlit_app.py").write_text("")
    (tmp_path / "archive" / "a.py").write_text("from archive.b import _hidden, public\n"
                                                "from archive.i18n import _\n")
    assert private_imports(tmp_path) == ["archive/a.py:1 imports archive.b._hidden"]
