"""Every index command end to end through the CLI, on real image files (click's CliRunner)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import make_collection, write_image
from PIL import Image

from editsearch.cli.main import cli
from editsearch.index.store import EditIndex
from editsearch.pairs.shards import iter_shard, read_meta, write_shard


def run(*args: str, env: dict | None = None):
    return CliRunner(env=env).invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def data(tmp_path):
    return make_collection(tmp_path / "data", 10)


@pytest.fixture
def built(tmp_path, data, tiny_model_dir):
    idx = tmp_path / "idx"
    result = run("build-index", data, "--index", idx, "--model", tiny_model_dir, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    return idx


def test_build_index_reports_and_is_incremental(built, data):
    again = run("build-index", data, "--index", built, "-q", "--json")
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert (report["added"], report["skipped"], report["embedded"], report["failed"]) == (0, 10, 0, 0)
    assert report["index"]["edits"] == 10


def test_query_text_pair_and_edit_id(built, data):
    text = run("query", "--index", built, "--text", "invert the colors", "--k", "3", "--json")
    assert text.exit_code == 0, text.output
    out = json.loads(text.stdout)
    assert out["query"] == {"text": "invert the colors", "k": 3}
    assert [r["rank"] for r in out["results"]] == [1, 2, 3]
    assert set(out["results"][0]) == {"rank", "id", "score", "instruction", "before", "after", "metadata", "scores"}
    assert "UNTRAINED" in text.stderr

    images = data.parent / "images"
    pair = run("query", "--index", built, "--before", images / "p0_2_before.png", "--after",
               images / "p0_2_after.png", "--json")  # fmt: skip
    top = json.loads(pair.stdout)["results"][0]
    assert top["id"] == 3 and top["score"] == pytest.approx(1.0, abs=1e-4)

    like = run("query", "--index", built, "--edit-id", "3", "--k", "20", "--json")
    ids = [r["id"] for r in json.loads(like.stdout)["results"]]
    assert 3 not in ids and len(ids) == 9

    human = run("query", "--index", built, "--text", "mirror", "--contains", "mirror", "--where", "id > 0")
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    assert lines[0].startswith("EC2T query: text 'mirror'") and lines[1].split()[:3] == ["rank", "score", "id"]
    rows = [line for line in lines[3:] if line.strip() and not line.strip().startswith("weak match")]
    assert len(rows) == 2  # two 'mirror' edits among ten (a random model's match may be weak: a line of its own)


def test_query_meta_facets_filter_by_metadata_and_refuse_a_malformed_one(built, tmp_path):
    found = run("query", "--index", built, "--edit-id", "1", "--k", "20", "--meta", "n=3", "--json")
    assert found.exit_code == 0, found.output
    out = json.loads(found.stdout)
    assert [r["metadata"]["n"] for r in out["results"]] == [3] and out["query"]["meta"] == {"n": "3"}
    both = run("query", "--index", built, "--text", "x", "--k", "20", "--meta", "family=f1", "--meta", "n=6", "--json")
    assert [r["metadata"]["n"] for r in json.loads(both.stdout)["results"]] == [6]
    lines = tmp_path / "q.jsonl"
    lines.write_text(
        json.dumps({"edit_id": 1, "k": 20, "meta": {"n": "5"}}) + "\n" + json.dumps({"text": "x", "meta": 3})
    )
    batch = run("query", "--index", built, "--queries", lines, "--json")
    first, second = (json.loads(line) for line in batch.stdout.splitlines())
    assert batch.exit_code == 3 and [r["metadata"]["n"] for r in first["results"]] == [5]
    assert "meta must be an object" in second["error"]
    bad = run("query", "--index", built, "--text", "x", "--meta", "no-equals")
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output and "Traceback" not in bad.output


def test_query_batch_file_keeps_order_and_reports_bad_lines(built, data, tmp_path):
    images = data.parent / "images"
    queries = tmp_path / "queries.jsonl"
    lines = [
        {"text": "invert the colors"},
        {"before": str(images / "p0_1_before.png"), "after": str(images / "p0_1_after.png"), "k": 2},
        {"edit_id": 4},
        {"edit_id": 999},
        {"texts": "typo key"},
    ]
    queries.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    result = run("query", "--index", built, "--queries", queries, "--json", "--k", "4")
    assert result.exit_code == 3
    outs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outs) == 6
    assert outs[0]["query"]["text"] == "invert the colors" and len(outs[0]["results"]) == 4
    assert outs[1]["results"][0]["id"] == 2 and len(outs[1]["results"]) == 2
    assert 4 not in [r["id"] for r in outs[2]["results"]]
    assert "999" in outs[3]["error"] and "unknown query keys" in outs[4]["error"] and "JSON" in outs[5]["error"]


def test_html_gallery(built, tmp_path):
    page = tmp_path / "results.html"
    result = run("query", "--index", built, "--text", "mirror", "--k", "3", "--html", page)
    assert result.exit_code == 0
    html = page.read_text()
    assert html.count("data:image/jpeg;base64,") == 6 and html.count("class='card'") == 3
    assert "src='http" not in html and "mirror" in html


def test_stats_show_remove_rebuild_verify(built):
    stats = json.loads(run("stats", "--index", built, "--json").stdout)
    assert (stats["edits"], stats["vectors"], stats["model"] is not None) == (10, 10, True)
    assert run("stats", "--index", built).stdout.splitlines()[0].split() == ["edits", "10"]

    show = json.loads(run("show", "4", "--index", built, "--json").stdout)
    assert show["id"] == 4 and show["metadata"]["n"] == 3 and show["before"].endswith("p0_3_before.png")
    assert run("show", "4", "--index", built).exit_code == 0
    missing = run("show", "99", "--index", built)
    assert missing.exit_code == 1 and "no edit with id 99" in missing.stderr

    removed = run("remove", "4", "5", "77", "--index", built, "--json")
    assert removed.exit_code == 3 and json.loads(removed.stdout) == {"removed": [4, 5], "unknown": [77]}
    assert json.loads(run("stats", "--index", built, "--json").stdout)["edits"] == 8

    for kind in ("hnsw", "ivf", "flat"):
        rebuilt = run("rebuild", "--index", built, "--index-type", kind, "--json")
        assert rebuilt.exit_code == 0 and json.loads(rebuilt.stdout)["faiss_type"] == kind
        ok = run("verify", "--index", built, "--json")
        assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True


def test_verify_fails_on_an_inconsistent_cache(built):
    with EditIndex.open(built) as index:
        vi = index.vectors
        vi.remove(vi.ids()[:2])  # FAISS loses two live vectors but claims to be up to date
        vi.save(built, index.catalog.generation, index.model_info["fingerprint"])
    result = run("verify", "--index", built)
    assert result.exit_code == 4 and "FAISS lacks 2 live vectors" in result.stdout


def test_index_defaults_to_env_then_dot_editsearch(built, tmp_path, monkeypatch):
    by_env = run("stats", "--json", env={"EDITSEARCH_INDEX": str(built)})
    assert json.loads(by_env.stdout)["edits"] == 10
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EDITSEARCH_INDEX", raising=False)
    missing = run("stats")
    assert missing.exit_code == 1 and "no index at .editsearch" in missing.stderr
    built.rename(tmp_path / ".editsearch")
    assert json.loads(run("stats", "--json").stdout)["edits"] == 10


def test_usage_errors_and_refusals(built, data, tmp_path):
    assert run("query", "--index", built).exit_code == 2
    assert run("query", "--index", built, "--before", "x.png").exit_code == 2
    assert run("build-index", tmp_path / "nope.jsonl", "--index", built).exit_code == 2
    other = run("build-index", data, "--index", built, "--model", "editclip-untrained-tiny", "-q")
    assert other.exit_code == 1 and "built with model" in other.stderr and "Traceback" not in other.output
    with EditIndex.open(built, writable=True):
        locked = run("remove", "1", "--index", built, "--lock-timeout", "0.2")
    assert locked.exit_code == 1 and "another process" in locked.stderr


def _bomb_png(path: Path, side: int) -> None:
    """A PNG whose header claims side×side pixels (more than PIL's limit); the data is a stub."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


def test_bad_inputs_are_reported_and_the_rest_indexed(tmp_path, tiny_model_dir):
    root = tmp_path / "bad"
    root.mkdir()
    good = write_image(root / "good.png", 1)
    rgb = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(root / "sixteen.png")
    Image.fromarray(rgb).convert("RGBA").save(root / "rgba.png")
    frames = [Image.fromarray(np.roll(rgb, i, axis=1)) for i in range(3)]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    (root / "zero.png").write_bytes(b"")
    (root / "truncated.png").write_bytes(good.read_bytes()[:200])
    (root / "notimage.png").write_text("this is not an image")
    _bomb_png(root / "bomb.png", int((Image.MAX_IMAGE_PIXELS * 2) ** 0.5) + 10)
    names = ["cmyk.jpg", "sixteen.png", "rgba.png", "anim.gif", "zero.png", "truncated.png", "notimage.png",
             "missing.png", "bomb.png"]  # fmt: skip
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"before": "good.png", "after": n, "instruction": n}) + "\n" for n in names))

    result = run("build-index", manifest, "--index", tmp_path / "idx", "--model", tiny_model_dir, "-q", "--json")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (4, 5)
    failed = {Path(e["item"].split("|")[-1]).name: e["reason"] for e in report["errors"] if "|" in e["item"]}
    assert set(failed) == {"zero.png", "truncated.png", "notimage.png", "bomb.png"}
    assert "decompression bomb" in failed["bomb.png"] and "0 bytes" in failed["zero.png"]
    assert any("missing.png" in e["reason"] for e in report["errors"])
    assert all("\n" not in e["reason"] for e in report["errors"])
    for e in report["errors"]:
        assert f"failed: {e['item']}: {e['reason']}" in result.stderr
    stats = json.loads(run("stats", "--index", tmp_path / "idx", "--json").stdout)
    assert (stats["edits"], stats["errors"]) == (4, 5)
    assert Image.MAX_IMAGE_PIXELS is not None  # the bomb guard stays on


def test_build_index_makes_torch_threads_wait_passively_unless_told_otherwise(monkeypatch):
    import click

    monkeypatch.setenv("OMP_WAIT_POLICY", "unset")  # so that the test's own changes are undone
    monkeypatch.delenv("OMP_WAIT_POLICY")
    ctx = click.Context(cli)
    cli.get_command(ctx, "query")
    assert "OMP_WAIT_POLICY" not in os.environ  # pure compute keeps libgomp's default
    cli.get_command(ctx, "build-index")
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    cli.get_command(ctx, "build-index")
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # the user's choice wins


def test_library_errors_become_one_line_and_their_exit_code(built, monkeypatch, tmp_path):
    from editsearch.core.errors import UsageError
    from editsearch.search.api import EditSearch

    html = run("query", "--index", built, "--text", "mirror", "--html", tmp_path / "missing" / "out.html")
    assert html.exit_code == 1 and "Error: No such file or directory" in html.stderr and "Traceback" not in html.output

    def refuse(*args, **kwargs):
        raise UsageError("k must be at most 1000")

    monkeypatch.setattr(EditSearch, "open", refuse)
    refused = run("query", "--index", built, "--text", "mirror")
    assert refused.exit_code == 2 and refused.stderr.strip() == "Error: k must be at most 1000"


def test_a_pair_listed_twice_and_a_removed_pair_are_skipped_with_where_and_why(built, data, tmp_path):
    lines = data.read_text().splitlines()
    first = json.loads(lines[2])
    again = {**first, "instruction": "a second opinion"}
    same = dict(first)
    retagged = {**first, "family": "another"}
    data.write_text("\n".join([*lines, json.dumps(again), json.dumps(same), json.dumps(retagged)]) + "\n")
    removed = json.loads(run("show", "1", "--index", built, "--json").stdout)
    assert run("remove", "1", "--index", built).exit_code == 0

    result = run("build-index", data, "--index", built, "-q", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == 13 and report["added"] == report["failed"] == 0
    where = {s["item"]: s["reason"] for s in report["skips"]}
    assert all(s["origin"] == str(data.resolve()) for s in report["skips"])
    listed = f"{data}:3"  # the first listing of the pair, and the three rows after it that name its files again
    assert where == {
        f"{data}:11": f"same before/after as {listed}; its instruction 'a second opinion' differs and was not indexed",
        f"{data}:12": f"the same pair as {listed}: indexed once",
        f"{data}:13": f"same before/after and instruction as {listed}; its metadata differs and was not indexed",
        f"{data}:{removed['metadata']['n'] + 1}": "removed by the user (edit #1, `editsearch remove`): stays removed",
    }
    stderr = result.stderr.splitlines()
    assert f"skipped: {data}:11: {where[f'{data}:11']}" in stderr
    assert sum(line.startswith("skipped: ") for line in stderr) == 4
    shown = json.loads(run("show", "3", "--index", built, "--json").stdout)
    assert shown["instruction"] == first["instruction"]  # the pair as first listed

    plain = run("build-index", data, "--index", built, "-q")
    assert plain.exit_code == 0 and "skipped 13" in plain.stdout
    assert sum(line.startswith("skipped: ") for line in plain.stderr.splitlines()) == 4


def test_a_removed_pair_in_an_embeddings_shard_is_skipped_with_where_and_why(tmp_path, tiny_model_dir):
    data = make_collection(tmp_path / "data", 3)
    emb, idx = tmp_path / "emb", tmp_path / "idx"
    assert run("embed", data, "--out", emb, "--model", tiny_model_dir, "-q").exit_code == 0
    assert run("build-index", "--from-embeddings", emb, "--index", idx, "-q").exit_code == 0
    assert run("remove", "2", "--index", idx).exit_code == 0
    shard = next(emb.glob("*.parquet"))
    rows, vectors = next(iter_shard(shard))
    write_shard(shard, read_meta(shard), rows, vectors)  # written again (a new id): applied again, not skipped whole
    result = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")
    assert result.exit_code == 0, result.output
    skips = json.loads(result.stdout)["skips"]
    assert [s["reason"] for s in skips] == ["removed by the user (edit #2, `editsearch remove`): stays removed"]
    assert skips[0]["item"].startswith(f"{shard} row 1 (") and skips[0]["origin"] == str(data.resolve())
    assert f"skipped: {skips[0]['item']}: " in result.stderr
