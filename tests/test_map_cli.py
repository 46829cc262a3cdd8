"""`editsearch map` end to end (click's CliRunner): parquet, --json summary, --png, exit codes."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from map_fixtures import add_vectors, clustered, vector_index

from editsearch.cli.main import cli
from editsearch.index.store import EditIndex
from editsearch.vocabulary import EDIT_PHRASES

PHRASES = [EDIT_PHRASES[5], EDIT_PHRASES[12], EDIT_PHRASES[20]]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    from editsearch.encoder import load_model

    return load_model(str(tiny_model_dir))


def test_map_writes_parquet_png_and_json_then_places_a_new_edit(tmp_path, model):
    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 15, seed=7)
    idx = vector_index(tmp_path / "idx", model, vectors)
    out, png = tmp_path / "out", tmp_path / "map.png"
    result = run("map", "--index", idx, "--out", out, "--png", png, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["edits"] == 45 and summary["clusters"] == 3 and summary["refitted"] is True
    assert sorted(item["label"] for item in summary["labels"]) == sorted(PHRASES)
    assert sum(item["size"] for item in summary["labels"]) + summary["noise"] == 45
    table = pq.read_table(out / "map.parquet")
    assert table.column_names == ["id", "before", "after", "x", "y", "cluster", "label"] and table.num_rows == 45
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    with EditIndex.open(idx, writable=True) as index:
        add_vectors(index, vectors[:1], "new")
    again = run("map", "--index", idx)
    assert again.exit_code == 0, again.output
    assert "46 edits, 3 clusters" in again.stdout and "1 placed by the stored layout" in again.stdout
    for phrase in PHRASES:
        assert phrase in again.stdout


def test_map_of_a_tiny_index_notes_why_everything_is_noise(tmp_path, model):
    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 1, seed=8)
    idx = vector_index(tmp_path / "idx", model, vectors[:2])
    result = run("map", "--index", idx, "--out", tmp_path / "out", "--png", tmp_path / "m.png", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["edits"], summary["clusters"], summary["noise_share"]) == (2, 0, 1.0)
    assert "note: only 2 edits" in result.stderr
    assert pq.read_table(tmp_path / "out" / "map.parquet").column("cluster").to_pylist() == [-1, -1]
    assert (tmp_path / "m.png").exists()


def test_map_of_an_empty_index_and_of_no_index(tmp_path):
    with EditIndex.open(tmp_path / "idx", create=True):
        pass
    result = run("map", "--index", tmp_path / "idx", "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["edits"] == 0 and "no edits" in result.stderr
    assert pq.read_table(tmp_path / "out" / "map.parquet").num_rows == 0
    missing = run("map", "--index", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no index at" in missing.stderr
    bad = run("map", "--index", tmp_path / "idx", "--fit-sample", "3")
    assert bad.exit_code == 2
