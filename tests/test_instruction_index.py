"""Hybrid ranking at any number of distinct instructions: the instruction vectors behind their own FAISS cache."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.index.instructions import save_instruction_vectors
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch

QUERY = "invert the colors"
MANY = 200_001  # more than the old in-memory ceiling of 200,000 distinct instructions


def test_more_than_200k_distinct_instructions_rank_hybrid(tmp_path, tiny_model):
    manifest = make_collection(tmp_path / "data", 6)
    idx = tmp_path / "idx"
    query = tiny_model.embed_texts([QUERY])[0].numpy().astype(np.float32)
    query /= np.linalg.norm(query)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((MANY, query.shape[0])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    noise[123_456] = query  # one synthetic instruction points exactly at the query
    with EditIndex.open(idx, create=True) as index:
        index.sync([manifest], tiny_model, batch_size=8, workers=0)
        texts = [f"synthetic instruction {i}" for i in range(MANY)]
        save_instruction_vectors(index.catalog, tiny_model.fingerprint, texts, noise)
        assert len(index.instruction_matrix()) > MANY  # the writer brings the cache up to date and saves it
    assert (idx / "instructions.faiss").exists()
    with EditIndex.open(idx) as index:
        instructions = index.instruction_matrix()
        assert len(instructions) > MANY
        assert instructions.top_texts(query, 3)[0] == "synthetic instruction 123456"  # a k-NN lookup
        got = instructions.scores(query, ["synthetic instruction 123456", "no such instruction", None])
        assert got[0] is not None and abs(got[0] - 1.0) < 1e-5 and got[1:] == [None, None]
    with EditSearch.open(idx, model=tiny_model) as searcher:
        hybrid = searcher.search_text(QUERY, k=4, rank="hybrid")
        pair = searcher.search_text(QUERY, k=4, rank="pair")
    assert all(r.scores["instruction"] is not None for r in hybrid if r.instruction)
    assert any(r.scores["instruction"] is not None for r in hybrid)
    assert [r.score for r in hybrid] != [r.score for r in pair]  # the instruction component counts
    result = CliRunner().invoke(cli, ["verify", "--index", str(idx), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["instruction_faiss_vectors"] > MANY


def test_the_instruction_cache_is_checked_and_repaired_like_the_pair_cache(tmp_path, tiny_model):
    manifest = make_collection(tmp_path / "data", 6)
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        index.sync([manifest], tiny_model, batch_size=8, workers=0)
    stats = json.loads(CliRunner().invoke(cli, ["stats", "--index", str(idx), "--json"]).stdout)
    assert stats["instruction_faiss_type"] == "flat" and stats["instruction_faiss_vectors"] > 0
    path = idx / "instructions.faiss"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["verify", "--index", str(idx), "--json"])
    assert result.exit_code == 4
    assert any("instruction FAISS cache" in p for p in json.loads(result.stdout)["problems"])
    with EditSearch.open(idx, model=tiny_model) as searcher:  # a reader repairs it in memory
        assert any(r.scores["instruction"] is not None for r in searcher.search_text(QUERY, k=3))
    assert CliRunner().invoke(cli, ["rebuild", "--index", str(idx)]).exit_code == 0
    assert CliRunner().invoke(cli, ["verify", "--index", str(idx)]).exit_code == 0
