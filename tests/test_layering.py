"""The layout's rules: stages import only stages below them, SQL stays in the index and the stages' stores,
and no module, class or script outgrows what one reader can hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_import_graph import PACKAGE_DIR, import_graph

# Stages, lowest first. A stage may import its own modules and those of stages of a lower rank, nothing else.
RANKS = {
    "core": 0,
    "media": 1,
    "data": 2,
    "towers": 3,
    "encoder": 4,
    "pairs": 5,
    "index": 6,
    "search": 7,
    "audit": 8,
    "atlas": 8,
    "transfer": 8,
    "evaluation": 8,
    "training": 9,
    "scale": 9,
    "serve": 10,
    "cli": 11,
}
SQL = re.compile(r"^\s*(SELECT|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|CREATE (TABLE|INDEX|VIRTUAL)|PRAGMA) ")
MAX_PY_LINES, MAX_JS_LINES, MAX_FACADE_LINES = 500, 300, 300


def stage(module: str) -> str | None:
    """The stage of an editsearch module (its first package under editsearch); None for the root package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def stage_edges() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(importer's stage, imported stage) -> the module imports that cross between them."""
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for module, targets in import_graph().items():
        for target in targets:
            a, b = stage(module), stage(target)
            if a and b and a != b:
                edges.setdefault((a, b), []).append((module, target))
    return edges


def test_every_package_has_a_rank():
    packages = {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").exists()}
    assert packages - {"weights"} == set(RANKS)
    assert not [p.name for p in PACKAGE_DIR.glob("*.py") if p.name != "__init__.py"], "modules outside a stage"


def test_stages_import_only_stages_below_them():
    upward = {pair: sorted(imports)[:3] for pair, imports in stage_edges().items() if RANKS[pair[1]] >= RANKS[pair[0]]}
    assert not upward, upward


def test_core_and_media_import_nothing_above_them_and_only_cli_imports_cli():
    edges = stage_edges()
    assert not [b for (a, b) in edges if a == "core"]
    assert {b for (a, b) in edges if a == "media"} <= {"core"}
    assert not [a for (a, b) in edges if b == "cli"]
    index_reaches = {b for (a, b) in edges if a == "index"}
    assert index_reaches <= {"core", "media", "data", "towers", "encoder", "pairs"}, index_reaches


def _sql_sites(path: Path) -> list[int]:
    """Lines of `path` holding SQL text or a call of a connection's execute."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("execute", "executemany", "executescript"):
                lines.append(node.lineno)
    return lines


def test_stages_reach_the_database_only_through_the_index_and_their_own_store():
    outside = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR)
        # core/migrations.py is the generic runner of the stores' named migration sets: no table of its own
        if rel.parts[0] == "index" or rel.name == "store.py" or rel.as_posix() == "core/migrations.py":
            continue
        if sites := _sql_sites(path):
            outside[rel.as_posix()] = sites
    assert not outside, outside


def test_no_sql_in_the_page():
    for path in (PACKAGE_DIR / "serve" / "static").rglob("*.js"):
        text = path.read_text()
        for word in ("json_extract", "SELECT ", " LIKE ", "sqlLiteral"):
            assert word not in text, (path.name, word)


def test_no_file_outgrows_a_reader():
    long_py = {
        p.relative_to(PACKAGE_DIR).as_posix(): n
        for p in PACKAGE_DIR.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_PY_LINES
    }
    long_js = {
        p.relative_to(PACKAGE_DIR).as_posix(): n
        for p in (PACKAGE_DIR / "serve" / "static").rglob("*.js")
        if (n := len(p.read_text().splitlines())) > MAX_JS_LINES
    }
    assert not long_py and not long_js, (long_py, long_js)


def test_the_index_facade_stays_a_facade():
    tree = ast.parse((PACKAGE_DIR / "index" / "store.py").read_text())
    (facade,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "EditIndex"]
    assert facade.end_lineno - facade.lineno + 1 <= MAX_FACADE_LINES


def test_index_never_imports_scale_and_pairs_imports_neither():
    graph = import_graph()
    under = lambda package: sorted(m for m in graph if m == package or m.startswith(package + "."))  # noqa: E731
    for module in under("editsearch.index"):
        assert not {m for m in reachable(graph, module) if m.startswith("editsearch.scale")}, module
    for module in under("editsearch.pairs"):
        assert not {m for m in reachable(graph, module) if m.startswith(("editsearch.scale", "editsearch.index"))}
    assert "editsearch.pairs.shards" in graph["editsearch.index.embeddings"]
    assert "editsearch.pairs.loading" in graph["editsearch.scale.embed"]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing `start` runs, deferred imports included."""
    seen, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen
