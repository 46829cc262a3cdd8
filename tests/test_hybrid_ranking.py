"""Instruction-aware ranking: instruction vectors in the catalog, the fusion, the fallback, CLI and serve."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from index_fixtures import EDITS, CountingModel, make_collection

from editsearch.cli.main import cli
from editsearch.index.legibility import legibility_of
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch
from editsearch.search.ranking import fuse, instruction_trust
from editsearch.serve import create_app

QUERY = "invert the colors"


def build(root, manifest, model):
    with EditIndex.open(root, create=True) as index:
        return index.sync([manifest], model, batch_size=4, workers=0)


def strip_instructions(manifest, keep=lambda n: False):
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    for line in lines:
        if not keep(line["n"]):
            line.pop("instruction")
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))


def instruction_rows(idx):
    with sqlite3.connect(idx / "catalog.db") as db:
        return db.execute("SELECT instruction, vector FROM instruction_vectors ORDER BY instruction").fetchall()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("hybrid")
    manifest = make_collection(root / "data", 10)
    build(root / "idx", manifest, tiny_model)
    return root / "idx"


def exact_components(searcher, model, text):
    """Pair and instruction cosines of every edit, computed without the ranking code."""
    q = model.embed_texts([text])[0].numpy()
    pair, instr = {}, {}
    for edit_id in range(1, 11):
        pair[edit_id] = float(searcher.index.stored_vector(edit_id) @ q)
        instruction = searcher.index.catalog.get_edit(edit_id)["instruction"]
        instr[edit_id] = float(model.embed_texts([instruction])[0].numpy() @ q)
    return pair, instr


def test_pair_instruction_and_hybrid_each_follow_their_signal(indexed, tiny_model):
    with EditSearch.open(indexed, model=tiny_model) as searcher:
        pair, instr = exact_components(searcher, tiny_model, QUERY)
        ids = sorted(pair)
        trust = instruction_trust(searcher.index.legibility())
        fused = fuse(np.array([pair[i] for i in ids]), np.array([instr[i] for i in ids]), trust=trust)
        expected = {
            "pair": sorted(ids, key=lambda i: -pair[i]),
            "instruction": sorted(ids, key=lambda i: -instr[i]),
            "hybrid": [ids[j] for j in np.argsort(-fused, kind="stable")],
        }
        assert expected["pair"][:3] != expected["instruction"][:3]  # the two signals disagree here
        for rank, order in expected.items():
            results = searcher.search_text(QUERY, k=10, rank=rank)
            assert [r.id for r in results][:3] == order[:3], rank
            for r in results:
                assert r.scores["pair"] == pytest.approx(pair[r.id], abs=1e-4)
                assert r.scores["instruction"] == pytest.approx(instr[r.id], abs=1e-4)
        for r in searcher.search_text(QUERY, k=10):  # the default's score is a mix of its two cosines
            low, high = sorted((r.scores["pair"], r.scores["instruction"]))
            assert low - 1e-5 <= r.score <= high + 1e-5
        assert searcher.search_text(QUERY, k=1, rank="instruction")[0].instruction == QUERY
        assert [r.id for r in searcher.search_text(QUERY, k=10)] == [r.id for r in results]  # hybrid by default
        batch = searcher.run_batch([{"text": QUERY, "rank": "pair", "k": 3}, {"text": QUERY, "rank": "nope"}])
        assert [r.id for r in batch[0].results] == expected["pair"][:3] and "rank must be" in batch[1].error


def test_the_index_measures_its_legibility_from_the_catalog(indexed, tiny_model, monkeypatch):
    import editsearch.index.statistics as records

    with EditSearch.open(indexed, model=tiny_model) as searcher:
        index = searcher.index
        ids = range(1, 11)
        pairs = np.stack([index.stored_vector(i) for i in ids])
        texts = [index.get_edit(i)["instruction"] for i in ids]
        vectors = tiny_model.embed_texts(texts).numpy()
        expected = legibility_of(pairs, texts, vectors)  # every edit and instruction: a catalog this small
        assert index.legibility() == pytest.approx(expected, abs=1e-5)
        assert 0 <= expected <= 1
        monkeypatch.setattr(records, "sample_legibility", lambda *a, **k: pytest.fail("measured again"))
        assert index.legibility() == pytest.approx(expected, abs=1e-5)  # kept for the catalog's state


def test_instruction_vectors_are_added_to_an_existing_index_without_pair_forwards(tmp_path, tiny_model):
    manifest = make_collection(tmp_path / "data", 10)
    first = build(tmp_path / "idx", manifest, tiny_model)
    assert first.instructions == len(EDITS) and len(instruction_rows(tmp_path / "idx")) == len(EDITS)
    with sqlite3.connect(tmp_path / "idx" / "catalog.db") as db:
        db.execute("DELETE FROM instruction_vectors")  # an index built before instruction vectors existed
    counting = CountingModel(tiny_model)
    again = build(tmp_path / "idx", manifest, counting)
    assert counting.embedded == 0 and again.embedded == 0 and again.instructions == len(EDITS)
    rows = instruction_rows(tmp_path / "idx")
    assert [t for t, _ in rows] == sorted(text for text, _ in EDITS)
    for text, blob in rows:
        np.testing.assert_allclose(
            np.frombuffer(blob, np.float32), tiny_model.embed_texts([text])[0].numpy(), atol=1e-6
        )
    lines = manifest.read_text().replace("mirror the image", "flip it left to right")
    manifest.write_text(lines)  # a changed instruction: one new instruction vector, still no pair forward
    third = build(tmp_path / "idx", manifest, counting)
    assert counting.embedded == 0 and third.instructions == 1 and third.updated == 0


def test_default_ranking_falls_back_to_the_pair_without_instructions(tmp_path, tiny_model):
    manifest = make_collection(tmp_path / "data", 10)
    strip_instructions(manifest, keep=lambda n: n % 2 == 0)
    build(tmp_path / "idx", manifest, tiny_model)
    with EditSearch.open(tmp_path / "idx", model=tiny_model) as searcher:
        for r in searcher.search_text(QUERY, k=10):
            if r.instruction is None:  # no penalty: the fused score is the pair's own cosine
                assert r.scores["instruction"] is None and r.score == pytest.approx(r.scores["pair"], abs=1e-6)
    none = make_collection(tmp_path / "bare", 10)
    strip_instructions(none)
    build(tmp_path / "bare-idx", none, tiny_model)
    with EditSearch.open(tmp_path / "bare-idx", model=tiny_model) as searcher:
        hybrid, pair = searcher.search_text(QUERY, k=10), searcher.search_text(QUERY, k=10, rank="pair")
        assert [(r.id, r.score) for r in hybrid] == [(r.id, r.score) for r in pair]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_rank_and_json_component_scores(indexed, tiny_model_dir):
    out = {}
    for rank in ("pair", "instruction", "hybrid"):
        result = run(
            "query",
            "--index",
            indexed,
            "--text",
            QUERY,
            "--rank",
            rank,
            "--k",
            "3",
            "--json",
            "--model",
            tiny_model_dir,
        )
        assert result.exit_code == 0, result.output
        out[rank] = json.loads(result.stdout)["results"]
        assert all(set(r["scores"]) == {"pair", "instruction"} for r in out[rank])
    assert out["instruction"][0]["instruction"] == QUERY
    assert [r["score"] for r in out["pair"]] == [r["scores"]["pair"] for r in out["pair"]]
    assert run("query", "--index", indexed, "--text", QUERY, "--rank", "nope").exit_code == 2
    by_id = run("query", "--index", indexed, "--edit-id", "1", "--json", "--model", tiny_model_dir)
    assert all(r["scores"] is None for r in json.loads(by_id.stdout)["results"])


def test_from_embeddings_adds_instruction_vectors_once(tmp_path, indexed, tiny_model, tiny_model_dir, monkeypatch):
    from editsearch.encoder import load_model
    from editsearch.scale.embed import embed_sources

    manifest = make_collection(tmp_path / "data", 10)  # the collection of `indexed`, elsewhere on disk
    embed_sources([manifest], tmp_path / "emb", load_model(str(tiny_model_dir), device="cpu"), batch_size=8)
    idx = tmp_path / "idx"
    args = ["build-index", "--from-embeddings", tmp_path / "emb", "--index", idx, "-q", "--json"]
    first = json.loads(run(*args).stdout)
    assert (first["added"], first["embedded"], first["instructions"]) == (10, 0, len(EDITS))
    rows = instruction_rows(idx)
    assert [t for t, _ in rows] == sorted(text for text, _ in EDITS)
    for text, blob in rows:
        np.testing.assert_allclose(
            np.frombuffer(blob, np.float32), tiny_model.embed_texts([text])[0].numpy(), atol=1e-6
        )
    for rank in ("instruction", "hybrid"):
        found = {}
        for where in (idx, indexed):
            result = run(
                "query", "--index", where, "--text", QUERY, "--rank", rank, "--json", "--model", tiny_model_dir
            )
            assert result.exit_code == 0, result.output
            found[where] = [
                (r["instruction"], round(r["score"], 5), r["scores"]) for r in json.loads(result.stdout)["results"]
            ]
        assert all(scores["instruction"] is not None for _, _, scores in found[idx])
        assert [(t, s) for t, s, _ in found[idx]] == [(t, s) for t, s, _ in found[indexed]], rank
    assert found[idx][0][0] == QUERY

    def no_model(*_a, **_k):
        raise AssertionError("the model was loaded with nothing to embed")

    monkeypatch.setattr("editsearch.encoder.load_model", no_model)
    again = json.loads(run(*args).stdout)
    assert (again["added"], again["skipped"], again["instructions"]) == (0, 10, 0)
    assert instruction_rows(idx) == rows
    monkeypatch.undo()
    with sqlite3.connect(idx / "catalog.db") as db:  # a run killed after its pairs, before their instructions
        db.execute("DELETE FROM instruction_vectors WHERE instruction != ?", [QUERY])
    resumed = json.loads(run(*args).stdout)
    assert (resumed["added"], resumed["skipped"], resumed["instructions"]) == (0, 10, len(EDITS) - 1)
    after = instruction_rows(idx)
    assert [t for t, _ in after] == [t for t, _ in rows]
    np.testing.assert_allclose(
        [np.frombuffer(b, np.float32) for _, b in after], [np.frombuffer(b, np.float32) for _, b in rows], atol=1e-6
    )


def test_verify_checks_the_instruction_vectors(tmp_path, tiny_model):
    idx = tmp_path / "idx"
    build(idx, make_collection(tmp_path / "data", 5), tiny_model)
    clean = run("verify", "--index", idx, "--json")
    assert clean.exit_code == 0 and json.loads(clean.stdout)["ok"], clean.output
    with sqlite3.connect(idx / "catalog.db") as db:  # one flipped bit, in a blob SQLite itself finds well formed
        (blob,) = db.execute("SELECT vector FROM instruction_vectors WHERE instruction = ?", [QUERY]).fetchone()
        db.execute(
            "UPDATE instruction_vectors SET vector = ? WHERE instruction = ?", [bytes([blob[0] ^ 1]) + blob[1:], QUERY]
        )
    verified = run("verify", "--index", idx, "--json")
    report = json.loads(verified.stdout)
    assert verified.exit_code == 4 and not report["ok"]
    assert [p for p in report["problems"] if "1 stored instruction vectors do not match" in p and repr(QUERY) in p]
    assert "restore it from a backup" in report["problems"][0]
    with sqlite3.connect(idx / "catalog.db") as db:  # the bit back, and another vector cut short
        db.execute("UPDATE instruction_vectors SET vector = ? WHERE instruction = ?", [blob, QUERY])
        db.execute("UPDATE instruction_vectors SET vector = substr(vector, 1, 8), crc = NULL WHERE id = 2")
    text = run("verify", "--index", idx)
    assert text.exit_code == 4 and "PROBLEM: 1 instruction vectors are not 16 float32 values" in text.output
    assert "checksum" not in text.output and text.output.splitlines()[-1] == "inconsistent"


def test_serve_rank_param(indexed, tiny_model_dir):
    with TestClient(create_app(indexed, model=str(tiny_model_dir), readers=1, allowed_hosts=["testserver"])) as client:
        pair = client.get("/api/search", params={"text": QUERY, "k": 3, "rank": "pair"}).json()
        instruction = client.get("/api/search", params={"text": QUERY, "k": 3, "rank": "instruction"}).json()
        assert pair["query"]["rank"] == "pair" and instruction["results"][0]["instruction"] == QUERY
        assert all(r["scores"]["pair"] == r["score"] for r in pair["results"])
        assert client.get("/api/search", params={"text": QUERY, "rank": "nope"}).status_code == 400


CLI = [sys.executable, "-c", "from editsearch.cli.main import cli; cli()"]


def test_instruction_vectors_survive_kill_9(tmp_path, tiny_model, tiny_model_dir):
    manifest = make_collection(tmp_path / "data", 60)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    for line in lines:
        line["instruction"] = f"{line['instruction']} number {line['n']}"  # 60 distinct instructions
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    idx = tmp_path / "idx"
    cmd = [*CLI, "build-index", str(manifest), "--index", str(idx), "--model", str(tiny_model_dir),
           "--batch-size", "2", "--workers", "0", "-q", "--json"]  # fmt: skip
    for delay in (1.5, 3.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    rows = instruction_rows(idx)
    assert sorted(t for t, _ in rows) == sorted(line["instruction"] for line in lines)
    for text, blob in rows[:5]:
        np.testing.assert_allclose(
            np.frombuffer(blob, np.float32), tiny_model.embed_texts([text])[0].numpy(), atol=1e-5
        )
    again = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert (again["embedded"], again["instructions"], again["skipped"]) == (0, 0, 60)


def test_the_legibility_sample_is_drawn_by_id_spread_and_finds_sparse_rows():
    from types import SimpleNamespace

    from editsearch.index.legibility import draw_rows

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, keep INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, int(i % 97 == 0)) for i in range(1, 50_001)])
    catalog = SimpleNamespace(conn=db)
    rows = draw_rows(catalog, "SELECT id FROM t WHERE id IN ({ids})", [], "t", 200)
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids) >= 200 and max(ids) > 40_000 and min(ids) < 10_000  # spread over the table
    assert rows == draw_rows(catalog, "SELECT id FROM t WHERE id IN ({ids})", [], "t", 200)  # the same each time
    sparse = draw_rows(catalog, "SELECT id FROM t WHERE keep = ? AND id IN ({ids})", [1], "t", 200)
    assert len(sparse) >= 200 and all(r[0] % 97 == 0 for r in sparse)  # 1% qualify: later rounds draw more
    few = draw_rows(catalog, "SELECT id FROM t WHERE id % 10000 = 0 AND id IN ({ids})", [], "t", 200)
    assert sorted(r[0] for r in few) == [10_000, 20_000, 30_000, 40_000, 50_000]  # every id drawn at last
