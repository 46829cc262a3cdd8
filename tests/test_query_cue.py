"""The weak-match cue is decided in one place (editsearch.search.cue): `EditSearch.query` judges text, exemplar and
edit-id queries, and `run_batch`, the CLI, the server and the demo carry that judgement unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from index_fixtures import make_collection
from test_import_graph import import_graph

from editsearch.cli.main import cli
from editsearch.index.store import EditIndex
from editsearch.search import cue
from editsearch.search.api import EditSearch
from editsearch.search.weak_match import refresh_statistics
from editsearch.serve import create_app

FIXED = {"text": 2.0, "exemplar": -2.0}  # references no cosine misses: every text query weak, no exemplar


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def idx(tmp_path_factory, tiny_model_dir) -> Path:
    """A 12-edit index of the tiny model, its weak-match references computed and kept."""
    from editsearch.encoder import load_model

    root = tmp_path_factory.mktemp("cue")
    model = load_model(tiny_model_dir, "cpu")
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([make_collection(root / "data", 12)], model, batch_size=4, workers=0)
        refresh_statistics(index, model)
    return root / "idx"


@pytest.fixture
def fixed_references(monkeypatch) -> list[tuple[str, str]]:
    """The references replaced by FIXED where the cue reads them; the (kind, rank) of each read."""
    reads: list[tuple[str, str]] = []

    def fixed(index, embedder, kind, rank="hybrid"):
        reads.append((kind, rank))
        return FIXED[kind]

    monkeypatch.setattr(cue, "reference", fixed)
    return reads


def exemplar(idx: Path) -> tuple[str, str]:
    """The before and after files of an indexed pair."""
    images = idx.parent / "data" / "images"
    return str(images / "p0_1_before.png"), str(images / "p0_1_after.png")


def served(idx: Path, k: int) -> list[dict]:
    """The server's answers to a text, an edit-id and an uploaded exemplar query (in that order)."""
    files = {
        side: (f"{side}.png", Path(path).read_bytes(), "image/png")
        for side, path in zip(("before", "after"), exemplar(idx), strict=True)
    }
    with TestClient(create_app(idx, allowed_hosts=["testserver"], readers=1)) as client:
        return [
            client.get("/api/search", params={"text": "invert the colors", "k": k}).json(),
            client.get("/api/search", params={"edit_id": 1, "k": k}).json(),
            client.post("/api/search", files=files, data={"k": str(k)}).json(),
        ]


def shown(idx: Path, k: int) -> list[dict]:
    """`query --json`'s answers to the same three queries."""
    before, after = exemplar(idx)
    queries = (["--text", "invert the colors"], ["--edit-id", 1], ["--before", before, "--after", after])
    return [json.loads(run("query", "--index", idx, "-k", k, *q, "--json").stdout) for q in queries]


def test_query_judges_text_exemplar_and_edit_id_queries(idx):
    cases = [(["invert the colors"], "text", "hybrid"), (["invert the colors"], "text", "pair")]
    cases += [([exemplar(idx)], "exemplar", "hybrid"), ([1], "exemplar", "hybrid")]
    with EditSearch.open(idx) as searcher:
        for positive, kind, rank in cases:
            outcome = searcher.query(positive, k=3, rank=rank, echo={"k": 3})
            assert outcome.query == {"k": 3} and outcome.error is None
            ranked = searcher.search(positive, k=3, rank=rank)
            assert [(r.id, r.score) for r in outcome.results] == [(r.id, r.score) for r in ranked]
            reference = searcher.weak_reference(kind, rank)
            assert reference is not None and outcome.weak_reference == reference
            assert outcome.weak_match is (outcome.results[0].score <= reference)
            assert searcher.weak_match(outcome.results, rank, kind) is outcome.weak_match
        for positive, negative in ((["invert the colors", 1], []), ([1], [2])):  # no reference fits these
            outcome = searcher.query(positive, negative, k=3)
            assert outcome.results and outcome.weak_match is None and outcome.weak_reference is None
        assert searcher.query(["invert the colors"], k=3).to_dict()["query"] == {}


def test_the_cli_and_the_server_answer_with_the_outcome_of_query(idx):
    with EditSearch.open(idx) as searcher:
        expected = [searcher.query(terms, k=3) for terms in (["invert the colors"], [1], [exemplar(idx)])]
    for want, *answers in zip(expected, shown(idx, 3), served(idx, 3), strict=True):
        assert want.weak_reference is not None
        for answer in answers:
            assert (answer["weak_match"], answer["weak_reference"]) == (want.weak_match, want.weak_reference)
            assert [r["id"] for r in answer["results"]] == [r.id for r in want.results]
            assert [r["score"] for r in answer["results"]] == pytest.approx([r.score for r in want.results], abs=1e-5)


def test_every_face_takes_the_cue_from_one_place(idx, fixed_references):
    before, after = exemplar(idx)
    with EditSearch.open(idx) as searcher:
        outcomes = [searcher.query(["invert the colors"], k=2, rank="pair"), searcher.query([1], k=2)]
        specs = [{"text": "invert the colors", "rank": "pair"}, {"edit_id": 1}, {"before": before, "after": after}]
        outcomes += searcher.run_batch(specs, k=2)
    assert [(o.weak_match, o.weak_reference) for o in outcomes] == [(True, 2.0), (False, -2.0)] * 2 + [(False, -2.0)]
    assert ("text", "pair") in fixed_references  # a text query is judged under its own rank
    for answer in [*shown(idx, 2), *served(idx, 2)]:
        weak = "text" in answer["query"]  # the text query; the others are an edit id and an exemplar
        assert (answer["weak_match"], answer["weak_reference"]) == ((True, 2.0) if weak else (False, -2.0))


def test_the_demo_shows_the_cue_of_its_queries(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(cue, "reference", lambda index, embedder, kind, rank="hybrid": 2.0)  # every query weak
    args = ["demo", "--out", tmp_path / "demo", "--pairs", 10, "--model", tiny_model_dir, "-q", "--no-apply"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "weak match: nothing here fits better than instructions" in result.stdout
    assert "weak match: nothing here is much like this edit" in result.stdout


def test_only_the_search_stage_reaches_the_cue():
    graph = import_graph()
    users = {module for module, imports in graph.items() if "editsearch.search.cue" in imports}
    assert users and all(module.startswith("editsearch.search.") for module in users), users
