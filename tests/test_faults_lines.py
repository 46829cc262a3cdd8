"""One bad line is that line's error: manifests, score, query batches; --root; oversized files and texts."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time

import pytest
from click.testing import CliRunner
from index_fixtures import make_collection, write_image

from editsearch.cli.main import cli
from editsearch.core.errors import ImageLoadError, UsageError
from editsearch.core.limits import MAX_TEXT_CHARS
from editsearch.data.manifest import iter_manifest
from editsearch.data.records import EditPair, ImageRef, ItemError
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch
from editsearch.search.specs import read_queries

N = 60
BAD = {
    10: '{"before": "images/p0_9_before\\u0000.png", "after": "images/p0_9_after.png"}',
    20: '{"before": "loop/x.png", "after": "images/p0_19_after.png"}',
    30: '{"before": 7, "after": "images/p0_29_after.png"}',
    40: "[" * 100_000 + "]" * 100_000,
    45: '{"before": ' + "9" * 5000 + "}",
    50: '{"before": "images/p0_49_before.png", "after": "images/p0_49_after.png", "instruction": ["x"]}',
}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def hostile(tmp_path):
    """A 60-line manifest whose lines 10, 20, 30, 40, 45 and 50 are hostile (a symlink loop at loop/x.png)."""
    manifest = make_collection(tmp_path, N)
    (tmp_path / "loop").mkdir()
    os.symlink(tmp_path / "loop" / "x.png", tmp_path / "loop" / "x.png")
    lines = manifest.read_text().splitlines()
    for lineno, text in BAD.items():
        lines[lineno - 1] = text
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_no_manifest_line_stops_the_lines_after_it(hostile):
    items = list(iter_manifest(hostile))
    assert len(items) == N
    errors = {item.item: item.reason for item in items if isinstance(item, ItemError)}
    assert set(errors) == {f"{hostile}:{n}" for n in BAD}
    assert "NUL" in errors[f"{hostile}:10"] and "invalid JSON" in errors[f"{hostile}:40"]
    assert sum(isinstance(i, EditPair) for i in items) == N - len(BAD)


def test_build_index_and_score_report_each_bad_line_and_process_the_rest(hostile, tmp_path, tiny_model_dir):
    built = run("build-index", hostile, "--index", tmp_path / "idx", "--model", tiny_model_dir, "-q", "--json")
    report = json.loads(built.stdout)
    assert built.exit_code == 3 and "Traceback" not in built.output
    assert (report["added"], report["failed"]) == (N - len(BAD), len(BAD))
    assert {e["item"] for e in report["errors"]} == {f"{hostile}:{n}" for n in BAD}

    out = tmp_path / "scores.csv"
    scored = run("score", "--manifest", hostile, "--model", tiny_model_dir, "--out", out)
    rows = list(csv.DictReader(out.open()))
    assert scored.exit_code == 3 and len(rows) == N and "Traceback" not in scored.output
    assert sum(bool(r["error"]) for r in rows) == len(BAD) and all(r["ec2t"] for r in rows if not r["error"])


def test_score_keeps_valid_rows_when_a_reference_is_not_a_string(tmp_path, tiny_model_dir):
    manifest = make_collection(tmp_path, 4)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[1].update(ref_before=5, ref_after="images/p0_0_after.png")
    rows[2].update(ref_before="images/p0_0_before.png", ref_after="images/p0_0_after.png")
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("score", "--manifest", manifest, "--model", tiny_model_dir, "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 3 and (out["scored"], out["failed"]) == (3, 1)
    assert "must both be non-empty strings" in out["rows"][1]["error"] and out["rows"][2]["ec2ec"] is not None


def test_a_bad_csv_row_does_not_end_the_file(tmp_path):
    make_collection(tmp_path, 3)
    manifest = tmp_path / "m.csv"
    good = [f"images/p0_{i}_before.png,images/p0_{i}_after.png,x" for i in range(3)]
    csv.field_size_limit(1000)
    try:
        manifest.write_text("before,after,instruction\n" + "\n".join([good[0], "a,b," + "y" * 5000, *good[1:]]) + "\n")
        items = list(iter_manifest(manifest))
    finally:
        csv.field_size_limit(131072)
    assert [type(i).__name__ for i in items] == ["EditPair", "ItemError", "EditPair", "EditPair"]


def test_root_refuses_paths_outside_it_per_line(tmp_path, tiny_model_dir):
    inside = tmp_path / "inside"
    manifest = make_collection(inside, 3)
    write_image(tmp_path / "outside.png", 5)
    os.symlink(tmp_path / "outside.png", inside / "images" / "sneaky.png")
    with manifest.open("a") as f:
        f.write(json.dumps({"before": "../outside.png", "after": "images/p0_0_after.png"}) + "\n")
        f.write(json.dumps({"before": "images/sneaky.png", "after": "images/p0_0_after.png"}) + "\n")
    assert sum(isinstance(i, EditPair) for i in iter_manifest(manifest)) == 5  # no --root: as before
    fenced = list(iter_manifest(manifest, root=inside))
    assert [i.reason.startswith("before image is outside --root") for i in fenced if isinstance(i, ItemError)] == [
        True,
        True,
    ]
    args = ["--model", tiny_model_dir, "--root", inside]
    built = run("build-index", manifest, "--index", tmp_path / "idx", "-q", "--json", *args)
    assert built.exit_code == 3 and (json.loads(built.stdout)["added"], json.loads(built.stdout)["failed"]) == (3, 2)
    scored = run("score", "--manifest", manifest, "--json", *args)
    assert scored.exit_code == 3 and json.loads(scored.stdout)["failed"] == 2


def test_a_huge_or_headerless_file_is_refused_before_it_is_hashed(tmp_path, monkeypatch):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(4 << 30)  # 4 GB, sparse
    junk = tmp_path / "junk.png"
    junk.write_bytes(os.urandom(1 << 20))
    monkeypatch.setattr(hashlib, "sha256", lambda *a: pytest.fail("hashed"))
    start = time.monotonic()
    with pytest.raises(ImageLoadError, match="too large"):
        ImageRef(str(huge)).content_hash()
    with pytest.raises(ImageLoadError, match="not a recognised image"):
        ImageRef(str(junk)).content_hash()
    assert time.monotonic() - start < 2


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("lines")
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([make_collection(root / "data", 6)], tiny_model, batch_size=8, workers=0)
    return root / "idx"


def test_a_12_mb_text_query_is_refused_at_once(index_dir, tiny_model, tmp_path):
    text = "blur " * (12_000_000 // 5)
    start = time.monotonic()
    with EditSearch(EditIndex.open(index_dir), tiny_model) as searcher:
        with pytest.raises(UsageError, match=f"at most {MAX_TEXT_CHARS:,}"):
            searcher.search_text(text)
        queries = tmp_path / "q.jsonl"
        queries.write_text(json.dumps({"text": text}) + "\n" + json.dumps({"text": "blur"}) + "\n")
        outcomes = searcher.run_batch(read_queries(queries))
    assert "at most" in outcomes[0].error and outcomes[1].error is None and outcomes[1].results
    assert time.monotonic() - start < 10
    result = run("query", "--index", index_dir, "--text", text[:50_000])
    assert result.exit_code == 2 and "at most" in result.output


def test_a_query_batch_survives_every_kind_of_bad_line(index_dir, tmp_path):
    queries = tmp_path / "q.jsonl"
    raw = io.BytesIO()
    for line in [b'{"edit_id": 1}', b"\xff\xfe", b"[" * 50_000, b"3", b'{"edit_id": 1e400}', b'{"edit_id": 2}']:
        raw.write(line + b"\n")
    queries.write_bytes(raw.getvalue())
    result = run("query", "--index", index_dir, "--queries", queries, "--json")
    outs = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 3 and [("error" in o) for o in outs] == [False, True, True, True, True, False]
    assert outs[0]["results"] and outs[5]["results"]


def test_writing_into_a_missing_folder_is_one_error_line(index_dir, tmp_path, tiny_model_dir):
    missing = tmp_path / "no" / "such"
    gallery = run("query", "--index", index_dir, "--edit-id", "1", "--html", missing / "g.html")
    manifest = make_collection(tmp_path / "data", 2)
    scored = run("score", "--manifest", manifest, "--model", tiny_model_dir, "--out", missing / "s.csv")
    for result in (gallery, scored):
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
            f"Error: No such file or directory: {missing / ('g.html' if result is gallery else 's.csv')}"
        ]
