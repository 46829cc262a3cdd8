"""The editsearch modules import each other without cycles, deferred and TYPE_CHECKING imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import editsearch

PACKAGE_DIR = Path(editsearch.__file__).parent


def module_names(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every editsearch module by dotted name (a package by its own name, for its __init__.py)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth: deferred ones and those under `if TYPE_CHECKING:` too."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def _targets(name: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The editsearch modules one import statement in module `name` names."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module or ""
    named = {f"{origin}.{alias.name}" for alias in node.names}
    submodules = named & modules
    return submodules if len(submodules) == len(named) else submodules | {origin}


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the editsearch modules that importing it runs.

    Importing `editsearch.a.b` also runs the packages `editsearch` and `editsearch.a` (their __init__),
    except those that enclose the importer: they are already being imported when it runs.
    """
    names = module_names(root)
    modules = set(names)
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            for target in _targets(name, is_package, node, modules):
                edges.add(target)
                parts = target.split(".")
                for i in range(1, len(parts)):
                    package = ".".join(parts[:i])
                    if not (name == package or name.startswith(package + ".")):
                        edges.add(package)
        edges &= modules - {name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle path (first module repeated at the end) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(_cycle_through(min(group), graph, group) for group in groups)


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from start back to start inside its strongly connected group."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is on no cycle")


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_graph_counts_deferred_relative_and_package_imports(tmp_path):
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub.a import A\n",
            "pkg/sub/__init__.py": "from .a import A\n",
            "pkg/sub/a.py": "def f():\n    from . import b\n",
            "pkg/sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.kinds import X\n",
            "pkg/kinds.py": "X = int\n",
            "pkg/sub/c.py": "from pkg.sub import A\n",
            "pkg/other.py": "import pkg.sub.b\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.sub.a"] == {"pkg.sub.b"}  # deferred and relative, `from . import b` names the submodule
    assert graph["pkg.sub.b"] == {"pkg.kinds"}  # TYPE_CHECKING imports count: a type cycle is a cycle too
    assert graph["pkg.other"] == {"pkg.sub", "pkg.sub.b"}  # importing pkg.sub.b runs pkg/sub/__init__.py
    assert graph["pkg.sub"] == {"pkg.sub.a"}
    assert graph["pkg.sub.c"] == {"pkg.sub"}  # a name from its own package's __init__ needs that __init__
    assert cycles(graph) == []


def test_cycles_are_reported_with_their_path(tmp_path):
    root = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import x\n",
            "pkg/b.py": "def g():\n    from pkg import c\n",
            "pkg/c.py": "from pkg import a\n",
            "pkg/d.py": "from pkg.e import y\n",
            "pkg/e.py": "from pkg.d import z\n",
        },
    )
    assert cycles(import_graph(root)) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.d", "pkg.e", "pkg.d"]]
