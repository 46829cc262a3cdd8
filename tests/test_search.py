"""EditSearch and rank_edits: text / pair / edit-id queries, weighted combinations, filters, scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from index_fixtures import make_collection

from editsearch.data.sources import iter_source
from editsearch.index.errors import FilterError, ModelMismatchError, UnknownEditError
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch, SearchResult
from editsearch.search.candidates import rank_edits
from editsearch.search.specs import read_queries


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("search")
    manifest = make_collection(root / "data", 20)
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([manifest], tiny_model, batch_size=8, workers=0)
    return root / "idx", manifest


@pytest.fixture
def searcher(indexed, tiny_model):
    with EditSearch.open(indexed[0], model=tiny_model) as s:
        yield s


def pair_vec(model, before, after):
    return model.embed_pairs([before], [after])[0].numpy()


def test_text_query_scores_are_ec2t(searcher, tiny_model):
    results = searcher.search_text("invert the colors", k=5, rank="pair")
    assert [r.rank for r in results] == [1, 2, 3, 4, 5]
    assert all(isinstance(r, SearchResult) for r in results)
    assert results == sorted(results, key=lambda r: -r.score)
    top = results[0]
    text = tiny_model.embed_texts(["invert the colors"])[0].numpy()
    assert top.score == pytest.approx(float(pair_vec(tiny_model, top.before, top.after) @ text), abs=1e-4)
    assert top.scores["pair"] == pytest.approx(top.score, abs=1e-6)
    assert top.metadata["family"].startswith("f") and top.instruction


def test_pair_query_finds_itself_with_ec2ec_one(searcher):
    first = searcher.search_edit(1, k=1)[0]
    own = searcher.search_pair(first.before, first.after, k=1)[0]
    assert own.score == pytest.approx(1.0, abs=1e-4)
    assert own.id == first.id or own.score == pytest.approx(first.score, abs=1e-5)


def test_edit_query_excludes_itself(searcher):
    results = searcher.search_edit(3, k=19)
    assert 3 not in [r.id for r in results] and len(results) == 19
    with pytest.raises(UnknownEditError):
        searcher.search_edit(999)


def test_combined_query_is_the_renormalised_weighted_sum(searcher, tiny_model):
    a, b = "invert the colors", "mirror the image"
    ta, tb = (tiny_model.embed_texts([t])[0].numpy() for t in (a, b))
    expected = 2 * ta - 0.5 * tb
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(searcher.query_vector([a], [b], weights=[2, 0.5]), expected, atol=1e-5)
    results = searcher.search(positive=[a], negative=[b], weights=[2, 0.5], k=3, rank="pair")
    vec = searcher.index.stored_vector(results[0].id)
    assert results[0].score == pytest.approx(float(vec @ expected), abs=1e-4)
    mixed = searcher.search(positive=["invert the colors", 4], k=3)
    assert 4 not in [r.id for r in mixed]
    with pytest.raises(ValueError, match="cancel out"):
        searcher.query_vector([a], [a])
    with pytest.raises(ValueError, match="weights"):
        searcher.query_vector([a], weights=[1, 2])


def test_filters(searcher):
    watercolor = searcher.search_text("anything", k=20, contains="watercolor")
    assert watercolor and all("watercolor" in r.instruction for r in watercolor)
    assert len(watercolor) == 4
    family = searcher.search_edit(1, k=20, where="json_extract(metadata, '$.family') = 'f2'")
    assert {r.metadata["family"] for r in family} == {"f2"} and len(family) == 4
    both = searcher.search_text("x", k=20, where="source = 'manifest'", contains="mirror")
    assert len(both) == 4
    assert searcher.search_text("x", where="source = 'ip2p'") == []
    with pytest.raises(FilterError, match="bad filter"):
        searcher.search_text("x", where="no_such_column = 1")


def test_over_fetch_path_matches_exact_path(searcher, monkeypatch):
    import editsearch.index.searcher as searcher_module

    exact = searcher.search_text("mirror", k=5, where="id % 2 = 0")
    monkeypatch.setattr(searcher_module, "EXACT_FILTER_MAX", 0)  # force FAISS over-fetch, then filter
    fetched = searcher.search_text("mirror", k=5, where="id % 2 = 0")
    assert [r.id for r in exact] == [r.id for r in fetched]
    assert all(r.id % 2 == 0 for r in fetched)


def test_other_model_is_refused_for_queries(indexed):
    from conftest import tiny_config

    from editsearch.encoder.registry import random_model

    other = random_model(tiny_config(name="other"), seed=3)
    with pytest.raises(ModelMismatchError, match="not comparable"):
        EditSearch.open(indexed[0], model=other)


def test_rank_edits_without_an_index(indexed, tiny_model):
    pairs = [p for p in iter_source(indexed[1])][:6]
    ranked = rank_edits(pairs, "invert the colors", model=tiny_model)
    assert sorted(r.id for r in ranked) == list(range(6)) and ranked[0].rank == 1
    assert ranked == sorted(ranked, key=lambda r: -r.score)
    tuples = [(p.before.path, p.after.path) for p in pairs]
    by_pair = rank_edits(tuples, tuples[2], model=tiny_model)
    assert by_pair[0].id == 2 and by_pair[0].score == pytest.approx(1.0, abs=1e-4)
    assert by_pair[0].before == tuples[2][0] and by_pair[0].instruction is None


def test_run_batch_keeps_order_and_reports_each_failed_query(searcher, indexed, tmp_path):
    data = indexed[1].parent
    pair = [f"images/{p.name}" for p in sorted((data / "images").glob("*.png"))[:2]]
    lines = tmp_path / "q.jsonl"
    lines.write_text(
        "\n".join(
            [
                '{"text": "invert the colors", "k": 3}',
                "not json",
                json.dumps({"before": pair[0], "after": pair[1]}),
                '{"edit_id": 999999}',
                '{"text": "x", "colour": 1}',
                '{"edit_id": 2, "where": "no_such_column = 1"}',
                "[1, 2]",
            ]
        )
        + "\n"
    )
    outcomes = searcher.run_batch(read_queries(lines), k=4, base=data)
    assert [o.error is None for o in outcomes] == [True, False, True, False, False, False, False]
    assert len(outcomes[0].results) == 3 and outcomes[0].query["k"] == 3
    assert outcomes[0].results == searcher.search_text("invert the colors", k=3)
    assert len(outcomes[2].results) == 4 and outcomes[2].query == {"before": pair[0], "after": pair[1], "k": 4}
    assert "line 2" in outcomes[1].error and "JSON" in outcomes[1].error
    assert "999999" in outcomes[3].error and "unknown query keys: colour" in outcomes[4].error
    assert "bad filter" in outcomes[5].error and "line 7" in outcomes[6].error
    failed = {"query": {}, "results": [], "weak_match": None, "weak_reference": None, "error": outcomes[1].error}
    assert outcomes[1].to_dict() == failed
    assert outcomes[0].to_dict()["results"][0] == outcomes[0].results[0].to_dict()


def test_run_batch_groups_by_filter_with_the_same_results_as_single_searches(searcher):
    specs = [{"text": "invert the colors"}, {"edit_id": 3, "where": "id % 2 = 0"}, {"text": "blur", "k": 2}]
    outcomes = searcher.run_batch(specs, k=5)
    assert outcomes[0].results == searcher.search_text("invert the colors", k=5)
    assert outcomes[1].results == searcher.search_edit(3, k=5, where="id % 2 = 0")
    assert outcomes[2].results == searcher.search_text("blur", k=2)
    assert all(r.id % 2 == 0 for r in outcomes[1].results)


def test_the_searcher_keeps_a_bounded_text_cache(searcher, monkeypatch):
    from editsearch.encoder import embedder as embedder_module

    monkeypatch.setattr(embedder_module, "TEXT_CACHE_SIZE", 2)
    texts = ["invert the colors", "blur it", "mirror it"]
    outcomes = searcher.run_batch([{"text": t} for t in texts], k=3)
    assert list(searcher.embedder._texts) == texts[1:]  # the least recently used one dropped
    assert [o.results for o in outcomes] == [searcher.search_text(t, k=3) for t in texts]
