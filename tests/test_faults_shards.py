"""Bad vectors never enter an index: a shard of another dimension, rows that are not finite unit vectors
(from shards or the model), and `verify` names such vectors already stored; workers sharing --out keep
each other's temporary shards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.index.catalog import CATALOG_FILE
from editsearch.index.store import EditIndex
from editsearch.pairs.shards import FOREIGN_TEMP_S, ShardMeta, remove_stale_temps, temp_path, write_shard

D = 384
PAIRS = 5


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write(emb: Path, name: str, vectors: np.ndarray) -> Path:
    """One shard of synthetic rows (no instructions: nothing for a text tower to embed)."""
    n, d = vectors.shape
    rows = [
        {
            "key": f"{name}/{i}.png|{name}/{i}-after.png",
            "origin": f"/synthetic/{name}",
            "source": "files",
            "before": f"{name}/{i}.png",
            "before_size": 1,
            "before_mtime": 0.0,
            "before_hash": f"b-{name}-{i}",
            "after": f"{name}/{i}-after.png",
            "after_size": 1,
            "after_mtime": 0.0,
            "after_hash": f"a-{name}-{i}",
            "instruction": None,
            "metadata": {},
        }
        for i in range(n)
    ]
    emb.mkdir(parents=True, exist_ok=True)
    meta = ShardMeta("synthetic", "fp", d, False, {}, f"/in/{name}", "0")
    return write_shard(emb / f"{name}.parquet", meta, rows, vectors)


def blob_sizes(idx: Path) -> set[int]:
    with sqlite3.connect(idx / CATALOG_FILE) as db:
        return {n for (n,) in db.execute("SELECT length(vector) FROM vectors")}


@pytest.mark.parametrize("bound", [False, True], ids=["new-index", "bound-index"])
def test_a_shard_of_another_dimension_is_refused_whole(tmp_path, bound):
    emb, idx = tmp_path / "emb", tmp_path / "idx"
    write(emb, "s0", unit(PAIRS, D, 0))
    write(emb, "s2", unit(PAIRS, D, 2))
    if bound:  # the index already holds the good shards when the bad one arrives
        assert run("build-index", "--from-embeddings", emb, "--index", idx, "-q").exit_code == 0
    bad = write(emb, "s1", unit(PAIRS, D - 1, 1))
    result = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert len(failures) == 1 and str(bad) in failures[0] and f"{D - 1} values" in failures[0]
    assert json.loads(result.stdout)["index"]["edits"] == 2 * PAIRS and blob_sizes(idx) == {4 * D}
    again = run("build-index", "--from-embeddings", emb, "--index", idx, "-q")
    assert again.exit_code == 3 and str(bad) in again.stderr  # still refused, still reported
    assert run("rebuild", "--index", idx).exit_code == 0 and run("verify", "--index", idx).exit_code == 0
    write(emb, "s1", unit(PAIRS, D, 1))  # embedded again, right: taken in
    fixed = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["added"] == PAIRS


def test_shard_rows_that_are_not_finite_unit_vectors_are_refused_one_by_one(tmp_path):
    emb, idx = tmp_path / "emb", tmp_path / "idx"
    write(emb, "s0", unit(PAIRS, D, 0))
    vectors = unit(PAIRS, D, 1)
    vectors[1] *= 1000  # would be every query's first hit
    vectors[3, 7] = np.nan  # could never be found
    bad = write(emb, "s1", vectors)
    result = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 3 and (report["added"], report["failed"]) == (2 * PAIRS - 2, 2)
    items = sorted(e["item"] for e in report["errors"])
    assert items[0].startswith(f"{bad} row 1 (s1/1.png") and items[1].startswith(f"{bad} row 3 (s1/3.png")
    assert any("norm is 1000" in e["reason"] for e in report["errors"])
    assert any("non-finite" in e["reason"] for e in report["errors"])
    with EditIndex.open(idx) as index:
        hits = index.search(vectors[1] / 1000, k=1)[0]
        assert hits[0].edit["key"] != "s1/1.png|s1/1-after.png" and abs(hits[0].score) <= 1.0 + 1e-5
        assert index.verify().ok
    again = run("build-index", "--from-embeddings", emb, "--index", idx, "-q", "--json")  # the shard is skipped
    assert again.exit_code == 3 and json.loads(again.stdout)["failed"] == 2


def test_verify_names_stored_vectors_that_are_not_finite_unit_vectors(tmp_path):
    emb, idx = tmp_path / "emb", tmp_path / "idx"
    write(emb, "s0", unit(2 * PAIRS, D, 0))
    assert run("build-index", "--from-embeddings", emb, "--index", idx, "-q").exit_code == 0
    with sqlite3.connect(idx / CATALOG_FILE) as db:  # written behind the library's back, checksums updated
        for edit_id, change in ((2, lambda v: v[:-1]), (4, lambda v: v * 1000), (5, lambda v: v * np.nan)):
            (blob,) = db.execute("SELECT vector FROM vectors WHERE edit_id = ?", [edit_id]).fetchone()
            new = change(np.frombuffer(blob, np.float32)).astype(np.float32).tobytes()
            db.execute("UPDATE vectors SET vector = ?, crc = ? WHERE edit_id = ?", [new, zlib.crc32(new), edit_id])
    verified = run("verify", "--index", idx, "--json")
    problems = json.loads(verified.stdout)["problems"]
    assert verified.exit_code == 4 and "Traceback" not in verified.output and len(problems) == 1
    assert "3 stored vectors cannot be searched" in problems[0] and "editsearch remove" in problems[0]
    for named in (
        "edit 2: 383 float32 values",
        "edit 4: the vector's norm is 1000",
        "edit 5: the vector has non-finite",
    ):
        assert named in problems[0]
    rebuilt = run("rebuild", "--index", idx, "--json")  # a blob of another size stays out of the cache, no traceback
    assert rebuilt.exit_code == 0 and json.loads(rebuilt.stdout)["vectors"] == 2 * PAIRS - 1
    assert run("query", "--index", idx, "--edit-id", "1", "--json").exit_code == 0
    assert run("remove", "2", "4", "5", "--index", idx).exit_code == 0  # what verify says to do works
    assert run("rebuild", "--index", idx).exit_code == 0 and run("verify", "--index", idx).exit_code == 0


def test_a_build_refuses_a_model_output_that_is_not_a_unit_vector(tmp_path, tiny_model, monkeypatch):
    manifest = make_collection(tmp_path / "data", 6)
    forward = tiny_model.embed_pair_tensors

    def first_row_nan(pixels):
        out = forward(pixels)
        out[0] = float("nan")
        return out

    monkeypatch.setattr(tiny_model, "embed_pair_tensors", first_row_nan)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        report = index.sync([manifest], tiny_model, batch_size=8, workers=0)
        assert (report.added, report.failed, report.exit_code) == (5, 1, 3)
        assert "the model's output: the vector has non-finite values" in report.errors[0][2]
        assert index.stats()["vectors"] == 5 and index.verify().ok


def test_a_live_workers_temporary_shard_survives_another_workers_start(tmp_path):
    out = tmp_path / "emb"
    out.mkdir()
    worker = subprocess.Popen(  # another embed worker, in the middle of writing a shard
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom editsearch.pairs.shards import temp_path\n"
            f"temp_path(Path({str(out / 'a.parquet')!r})).write_bytes(b'half a shard')\nprint('writing', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == b"writing\n"
        live = next(out.glob(".a.parquet.*.tmp"))
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
        host = live.name.split(".")[-3]  # a temp's name: .SHARD.HOST.PID.tmp
        stale = out / f".b.parquet.{host}.{int(dead.stdout)}.tmp"
        stale.write_bytes(b"a killed worker's half shard")
        foreign_fresh = out / ".c.parquet.elsewhere.1.tmp"
        foreign_old = out / ".d.parquet.elsewhere.1.tmp"
        for path in (foreign_fresh, foreign_old):
            path.write_bytes(b"a worker on another host")
        old = time.time() - FOREIGN_TEMP_S - 60
        os.utime(foreign_old, (old, old))
        mine = temp_path(out / "e.parquet")  # this process's own: alive
        mine.write_bytes(b"mine")
        assert sorted(remove_stale_temps(out)) == sorted([stale, foreign_old])
        assert live.exists() and foreign_fresh.exists() and mine.exists()
    finally:
        worker.kill()
        worker.wait()
    assert remove_stale_temps(out) == [live]  # once its writer is gone, its temp is stale
