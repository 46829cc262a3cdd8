"""`editsearch map` end to end (click's CliRunner): parquet, --json summary, --png, exit codes."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from map_fixtures import add_vectors, clustered, vector_index

from editsearch.cli.main import cli
from editsearch.index.store import EditIndex
from editsearch.search.vocabulary import EDIT_PHRASES

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
    assert {(item["source"], item["purity"]) for item in summary["labels"]} == {("vocabulary", None)}
    assert sum(item["size"] for item in summary["labels"]) + summary["noise"] == 45
    assert summary["agreement"]["instructed"] == 0 and summary["agreement_line"].startswith("no instructions")
    table = pq.read_table(out / "map.parquet")
    assert table.column_names == ["id", "before", "after", "x", "y", "cluster", "label"] and table.num_rows == 45
    assert json.loads(table.schema.metadata[b"editsearch.agreement"])["line"] == summary["agreement_line"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    with EditIndex.open(idx, writable=True) as index:
        add_vectors(index, vectors[:1], "new")
    again = run("map", "--index", idx)
    assert again.exit_code == 0, again.output
    assert "46 edits, 3 clusters" in again.stdout and "1 placed by the stored layout" in again.stdout
    assert "no instructions on the mapped edits: the clusters cannot be checked against them" in again.stdout
    assert "edit phrases" in again.stdout  # where each cluster's name comes from
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


def test_a_collection_past_the_memory_available_is_refused_before_any_work(tmp_path, model, monkeypatch):
    import psutil

    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 15, seed=7)
    idx = vector_index(tmp_path / "idx", model, vectors)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=200 << 20))
    result = run("map", "--index", idx, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "a map of 45 edits needs about 0.7 GiB of memory, and this machine has 0.2 GiB" in result.stderr
    assert not (tmp_path / "out").exists()


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


@pytest.mark.parametrize(
    ("option", "inside"), [("--png", "catalog.db"), ("--png", "sub/map.png"), ("--out", "."), ("--out", "maps")]
)
def test_map_refuses_an_output_inside_the_index_before_any_work(tmp_path, model, option, inside):
    vectors, _ = clustered(model.embed_texts(PHRASES).numpy(), 10, seed=9)
    idx = vector_index(tmp_path / "idx", model, vectors)
    before = {p.name: p.read_bytes() for p in idx.iterdir() if p.is_file()}
    result = run("map", "--index", idx, option, idx / inside)
    assert result.exit_code == 2 and "index folder" in result.stderr and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in idx.iterdir() if p.is_file()} == before  # the catalog untouched
    assert not (idx / "maps").exists() and not (idx / "sub").exists()


def test_map_png_draws_names_with_dollar_signs_as_text(tmp_path, model):
    texts = ["make it cost $x$", "add $$ signs", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 15, seed=10)
    idx = vector_index(tmp_path / "idx", model, vectors, [texts[f] for f in family])
    png = tmp_path / "map.png"
    result = run("map", "--index", idx, "--png", png, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(item["label"] for item in json.loads(result.stdout)["labels"]) == sorted(texts)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_removed_instruction_names_no_cluster(tmp_path, model):
    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 20, seed=2)
    carried = [texts[f] if f != 1 or i % 4 else "make it gloomy" for i, f in enumerate(family)]
    idx = vector_index(tmp_path / "idx", model, vectors, carried)
    first = run("map", "--index", idx, "--json")
    assert texts[1] in [item["label"] for item in json.loads(first.stdout)["labels"]]
    namers = [i + 1 for i, text in enumerate(carried) if text == texts[1]]  # edit ids start at 1
    assert run("remove", *namers, "--index", idx).exit_code == 0
    result = run("map", "--index", idx, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["refitted"] is False and summary["edits"] == 45 and summary["clusters"] == 3
    assert "make it gloomy" in [item["label"] for item in summary["labels"]]
    assert texts[1] not in [item["label"] for item in summary["labels"]]
    assert texts[1] not in pq.read_table(tmp_path / "out" / "map.parquet").column("label").to_pylist()


def test_map_says_how_far_the_clusters_agree_with_the_instructions(tmp_path, model):
    from editsearch.atlas import read_map
    from editsearch.atlas.render import figure

    texts = ["paint the sky purple", "add a tiny red boat", "remove every tree"]
    vectors, family = clustered(model.embed_texts(texts).numpy(), 15, seed=7)
    idx = vector_index(tmp_path / "idx", model, vectors, [texts[f] for f in family])
    out, png = tmp_path / "out", tmp_path / "map.png"
    result = run("map", "--index", idx, "--out", out, "--png", png)
    assert result.exit_code == 0, result.output
    line = (
        "clusters agree with the instructions: purity 1.00 (per cluster in the table); an instruction's edits in "
        "one cluster: 1.00; 0 of 3 clusters mixed; over 45 edits with instructions"
    )
    assert line in result.stdout.splitlines()
    header, _, *rows = result.stdout.splitlines()[2:]
    assert header.split() == ["cluster", "size", "purity", "named", "by", "label"] and len(rows) == 3
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert {tuple(c[2:]) for c in cells} == {("1.00", "instructions", text) for text in texts}
    summary = json.loads(run("map", "--index", idx, "--json").stdout)
    assert summary["agreement"] == {
        "instructed": 45,
        "clustered": 45 - summary["noise"],
        "purity": 1.0,
        "kept_together": 1.0,
        "clusters": 3,
        "mixed": 0,
    }
    assert {(c["source"], c["mixed"], c["purity"]) for c in summary["labels"]} == {("instructions", False, 1.0)}
    metadata = pq.read_table(out / "map.parquet").schema.metadata
    assert json.loads(metadata[b"editsearch.agreement"]) == {**summary["agreement"], "line": summary["agreement_line"]}
    assert sorted(c["label"] for c in json.loads(metadata[b"editsearch.clusters"])) == sorted(texts)
    with EditIndex.open(idx) as index:  # the picture's caption: the same line
        fig = figure(read_map(index))
    caption = next(t for t in fig.axes[0].texts if t.get_gid() == "agreement")
    assert caption.get_text().replace("\n", " ") == summary["agreement_line"] and png.stat().st_size > 10_000
