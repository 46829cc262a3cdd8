"""Self-tuning FAISS caches: recall@10 measured at build, the cheapest setting kept, stats/verify/queries use it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import synthetic, write_shard

from editsearch.cli.main import cli
from editsearch.index import tuning
from editsearch.index.store import EditIndex
from editsearch.index.vectors import AnnParams


def recall_now(index: EditIndex) -> float:
    """recall@10 of the index's FAISS cache as it searches now (tuning's own query sample)."""
    vi = index.vectors
    live = np.sort(vi.ids())
    return tuning.measure(vi, live, index.caches.load_array, index.caches.live_chunks())


@pytest.fixture(scope="module")
def ivf_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tuned")
    write_shard(root / "emb", synthetic())
    args = ["build-index", "--from-embeddings", str(root / "emb"), "--index", str(root / "idx"), "--index-type", "ivf"]
    result = CliRunner().invoke(cli, [*args, "-q", "--json"])
    assert result.exit_code == 0, result.output
    tuned = json.loads(result.stdout)["index"]["faiss_tuning"]
    assert tuned["reached"] and tuned["recall"] >= 0.95
    return root / "idx"


def test_the_untuned_index_misses_the_target_and_the_tuned_one_reaches_it(ivf_index):
    with EditIndex.open(ivf_index, params=AnnParams()) as index:  # explicit defaults: the untuned search
        assert index.vectors.params.ivf_nprobe == AnnParams().ivf_nprobe
        untuned = recall_now(index)
    with EditIndex.open(ivf_index) as index:
        chosen = index.vectors.tuning
        tuned = recall_now(index)
    assert untuned < 0.95 <= tuned
    assert chosen.recall == pytest.approx(tuned, abs=1e-4) and chosen.reached
    assert chosen.settings["ivf_nprobe"] > AnnParams().ivf_nprobe
    # the cheapest: half the chosen nprobe (the setting tried before it) misses the target
    with EditIndex.open(ivf_index, params=AnnParams(ivf_nprobe=chosen.settings["ivf_nprobe"] // 2)) as index:
        assert recall_now(index) < 0.95


def test_stats_show_the_settings_and_a_query_without_parameters_uses_them(ivf_index):
    result = CliRunner().invoke(cli, ["stats", "--index", str(ivf_index), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    nprobe = stats["faiss_tuning"]["settings"]["ivf_nprobe"]
    assert stats["target_recall"] == 0.95 and stats["faiss_tuning"]["recall"] >= 0.95
    assert stats["faiss_tuning"]["queries"] == tuning.TUNE_QUERIES
    text = CliRunner().invoke(cli, ["stats", "--index", str(ivf_index)]).stdout
    assert f'"ivf_nprobe": {nprobe}' in text
    with EditIndex.open(ivf_index) as index:
        assert index.vectors._inner().nprobe == nprobe  # what FAISS searches with
        hits = index.search(synthetic()[:1], k=10)[0]
        assert len(hits) == 10
    with EditIndex.open(ivf_index, params=AnnParams(ivf_nprobe=3)) as index:  # passed explicitly: overrides
        assert index.vectors._inner().nprobe == 3


def test_verify_measures_the_recall_again(ivf_index):
    result = CliRunner().invoke(cli, ["verify", "--index", str(ivf_index), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["recall_at_10"] == report["recall_at_build"] >= report["target_recall"] == 0.95
    assert not report["notes"]


def test_a_higher_target_retunes_on_rebuild(ivf_index, tmp_path):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(ivf_index, copy)
    before = json.loads(CliRunner().invoke(cli, ["stats", "--index", str(copy), "--json"]).stdout)["faiss_tuning"]
    result = CliRunner().invoke(cli, ["rebuild", "--index", str(copy), "--target-recall", "0.99", "--json"])
    assert result.exit_code == 0, result.output
    after = json.loads(result.stdout)["faiss_tuning"]
    assert after["target"] == 0.99 and after["recall"] >= 0.99
    assert after["settings"]["ivf_nprobe"] > before["settings"]["ivf_nprobe"]


def test_a_target_no_setting_reaches_in_budget_is_said_not_stored_silently(monkeypatch, tmp_path):
    monkeypatch.setattr(tuning, "LATENCY_BUDGET_MS", 0.0)  # every setting is over budget: only the first is tried
    write_shard(tmp_path / "emb", synthetic())
    idx = tmp_path / "idx"
    args = ["build-index", "--from-embeddings", str(tmp_path / "emb"), "--index", str(idx), "--index-type", "ivf"]
    result = CliRunner().invoke(cli, [*args, "-q", "--json"])
    assert result.exit_code == 0, result.output
    tuned = json.loads(result.stdout)["index"]["faiss_tuning"]
    assert not tuned["reached"] and tuned["recall"] < 0.95 and tuned["settings"] == {"ivf_nprobe": 1}
    assert "--index-type pq" in tuned["note"] and "--index-type pq" in result.stderr
    verify = CliRunner().invoke(cli, ["verify", "--index", str(idx), "--json"])
    assert verify.exit_code == 0, verify.output  # a shortfall is a note (quality), not an inconsistency
    notes = json.loads(verify.stdout)["notes"]
    assert any("below the target 0.95" in n and "--index-type pq" in n for n in notes)


@pytest.mark.parametrize("kind", ["hnsw", "pq", "ivfpq-sq8"])
def test_each_approximate_type_tunes_itself(kind, tmp_path):
    x = synthetic(3000, 16, seed=1)
    ids = np.arange(1, len(x) + 1)
    vi = tuning.build_tuned(kind, 16, ids, lambda some: (some, x[some - 1]), tuning.as_chunks(ids, x))
    assert vi.tuning.reached and vi.tuning.recall >= 0.95
    knob = {"hnsw": "hnsw_ef_search", "pq": "pq_k_factor", "ivfpq-sq8": "ivfpq_nprobe"}[kind]
    assert getattr(vi.params, knob) == vi.tuning.settings[knob]
    assert tuning.measure(vi, ids, lambda some: (some, x[some - 1]), tuning.as_chunks(ids, x)) >= 0.95
    if kind == "ivfpq-sq8":  # then the fewest re-ranked rows that keep the target: half as many would miss it
        factor = vi.tuning.settings["pq_k_factor"]
        assert factor < AnnParams().pq_k_factor
        if factor > tuning.MIN_K_FACTOR:
            vi.set_params(AnnParams(ivfpq_nprobe=vi.tuning.settings["ivfpq_nprobe"], pq_k_factor=factor // 2))
            assert tuning.measure(vi, ids, lambda some: (some, x[some - 1]), tuning.as_chunks(ids, x)) < 0.95
            vi.use_tuning(vi.tuning)
    vi.save(tmp_path, 1, "fp")
    from editsearch.index.vectors import VectorIndex

    loaded, _ = VectorIndex.load(tmp_path)
    assert loaded.tuning == vi.tuning and getattr(loaded.params, knob) == vi.tuning.settings[knob]
