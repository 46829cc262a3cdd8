"""The index and the scale-out job meet only in editsearch.pairs: index/ never reaches scale/, pairs/ neither."""

from __future__ import annotations

from test_import_graph import import_graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing `start` runs, deferred imports included."""
    seen, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_index_never_imports_scale_and_pairs_imports_neither():
    graph = import_graph()
    under = lambda package: sorted(m for m in graph if m == package or m.startswith(package + "."))  # noqa: E731
    for module in under("editsearch.index"):
        assert not {m for m in reachable(graph, module) if m.startswith("editsearch.scale")}, module
    for module in under("editsearch.pairs"):
        assert not {m for m in reachable(graph, module) if m.startswith(("editsearch.scale", "editsearch.index"))}
    assert "editsearch.pairs.shards" in graph["editsearch.index.embeddings"]
    assert "editsearch.pairs.loading" in graph["editsearch.scale.embed"]


LATER_THAN_INDEX = ("search", "audit", "atlas", "transfer", "evaluation", "training", "scale", "serve", "cli")


def test_index_reaches_no_later_stage_and_the_encoder_not_the_index():
    graph = import_graph()
    stage = lambda module: module.split(".")[1] if module.count(".") else ""  # noqa: E731
    for module in graph:
        if stage(module) == "index":
            assert not {m for m in reachable(graph, module) if stage(m) in LATER_THAN_INDEX}, module
        if stage(module) in ("encoder", "towers", "pairs"):
            assert not {m for m in reachable(graph, module) if stage(m) == "index"}, module
