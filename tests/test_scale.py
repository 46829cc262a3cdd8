"""Scaling out: embed into shards (local and Ray engines), fill an index from them, resume, split, refuse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.index.errors import ModelMismatchError
from editsearch.index.store import EditIndex
from editsearch.index.vectors import VectorIndex, permute_rows, sample_positions, training_size
from editsearch.pairs.shards import iter_shard, read_meta, shard_files, temp_path
from editsearch.scale.embed import embed_sources
from editsearch.scale.jobs import plan_jobs

PAIRS_PER_SHARD = 75
CORRUPT = 2  # unreadable after-images in the last shard


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    """The tiny model loaded by path, as a Ray worker loads it."""
    from editsearch.encoder import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> list[Path]:
    """300 synthetic pairs in 4 manifests; the last one has CORRUPT unreadable images."""
    root = tmp_path_factory.mktemp("shards")
    out = [make_collection(root / f"s{i}", PAIRS_PER_SHARD, seed=i) for i in range(4)]
    for i in range(CORRUPT):
        (root / "s3" / "images" / f"p3_{i}_after.png").write_bytes(b"not an image at all")
    return out


@pytest.fixture(scope="module")
def local_emb(manifests, model, tmp_path_factory) -> Path:
    """The manifests embedded by the local engine."""
    out = tmp_path_factory.mktemp("emb-local")
    report = embed_sources(manifests, out, model, batch_size=16)
    assert report.embedded_shards == 4 and report.exit_code == 3
    return out


@pytest.fixture(scope="module")
def direct_index(manifests, model, tmp_path_factory) -> Path:
    """The same manifests indexed by build-index (EditIndex.sync)."""
    directory = tmp_path_factory.mktemp("direct")
    with EditIndex.open(directory, create=True) as index:
        report = index.sync(manifests, model, batch_size=16, workers=0)
    assert report.failed == CORRUPT
    return directory


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs, started once for this module's Ray tests."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def load_shard_model(directory: Path):
    """The model that made the shards of a directory, loaded by the name they record."""
    from editsearch.encoder import load_model

    return load_model(read_meta(shard_files(directory)[0]).model, device="cpu")


def shard_vectors(directory: Path) -> dict[str, np.ndarray]:
    """key -> vector over every shard of an embeddings directory."""
    out = {}
    for path in shard_files(directory):
        for rows, vectors in iter_shard(path):
            out.update({r["key"]: v for r, v in zip(rows, vectors, strict=True)})
    return out


def catalog_vectors(directory: Path) -> dict[str, np.ndarray]:
    """key -> stored vector of every live edit of an index."""
    with EditIndex.open(directory) as index:
        cur = index.catalog.db.execute(
            "SELECT e.key, v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id WHERE e.deleted = 0"
        )
        return {key: np.frombuffer(blob, np.float32) for key, blob in cur}


def assert_same_vectors(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys() and len(a) == 4 * PAIRS_PER_SHARD - CORRUPT
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-5


def test_ray_and_local_engines_and_build_index_give_the_same_vectors(
    local_ray, manifests, model, local_emb, direct_index, tmp_path
):
    report = embed_sources(manifests, tmp_path / "emb-ray", model, engine="ray", batch_size=16)
    assert (report.embedded_shards, report.pairs, report.failed, report.exit_code) == (4, 298, CORRUPT, 3)
    assert {Path(o).parent.name for o, _, _ in report.errors} == {"s3"}  # reported with their source
    assert all("p3_0_after.png" in i or "p3_1_after.png" in i for _, i, _ in report.errors)
    ray_vectors = shard_vectors(tmp_path / "emb-ray")
    assert_same_vectors(ray_vectors, shard_vectors(local_emb))
    assert_same_vectors(ray_vectors, catalog_vectors(direct_index))
    for a, b in zip(shard_files(local_emb), shard_files(tmp_path / "emb-ray"), strict=True):
        assert a.name == b.name and next(iter_shard(a))[0] == next(iter_shard(b))[0]  # same rows, same order


def test_corrupt_images_are_reported_and_the_shard_completes(local_emb, manifests):
    meta = {Path(read_meta(p).input).parent.name: read_meta(p) for p in shard_files(local_emb)}
    assert meta["s3"].pairs == PAIRS_PER_SHARD - CORRUPT and len(meta["s3"].errors) == CORRUPT
    assert all(m.pairs == PAIRS_PER_SHARD and not m.errors for name, m in meta.items() if name != "s3")


def test_from_embeddings_searches_like_a_direct_build(local_emb, direct_index, tmp_path):
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        report = index.sync_embeddings(local_emb)
        assert (report.added, report.failed, report.embedded) == (4 * PAIRS_PER_SHARD - CORRUPT, CORRUPT, 0)
        queries = np.random.default_rng(0).standard_normal((5, index.model_info["dim"])).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        from_shards = [[(h.edit["key"], round(h.score, 5)) for h in hits] for hits in index.search(queries, k=10)]
        assert index.verify().ok and index.stats()["errors"] == CORRUPT
    with EditIndex.open(direct_index) as index:
        direct = [[(h.edit["key"], round(h.score, 5)) for h in hits] for hits in index.search(queries, k=10)]
    assert from_shards == direct


def test_from_embeddings_is_incremental(local_emb, manifests, model, tmp_path):
    emb = tmp_path / "emb"
    emb.mkdir()
    for path in shard_files(local_emb):
        (emb / path.name).write_bytes(path.read_bytes())
    runner = CliRunner()
    args = ["build-index", "--from-embeddings", str(emb), "--index", str(tmp_path / "idx"), "-q", "--json"]
    first = json.loads(runner.invoke(cli, args).stdout)
    assert first["added"] == 4 * PAIRS_PER_SHARD - CORRUPT
    again = runner.invoke(cli, args)
    assert again.exit_code == 3  # the corrupt items are still reported, as build-index reports them
    assert (json.loads(again.stdout)["added"], json.loads(again.stdout)["skipped"]) == (
        0,
        4 * PAIRS_PER_SHARD - CORRUPT,
    )
    gone = next(p for p in shard_files(emb) if read_meta(p).input == str(manifests[0]))
    gone.unlink()
    removed = json.loads(runner.invoke(cli, args).stdout)
    assert removed["removed"] == PAIRS_PER_SHARD and removed["index"]["edits"] == 3 * PAIRS_PER_SHARD - CORRUPT
    manifests[1].touch()  # a changed input is embedded again: a new shard, whose unchanged pairs keep their vectors
    assert embed_sources(manifests[1:2], emb, model).embedded_shards == 1
    redone = json.loads(runner.invoke(cli, args).stdout)
    assert (redone["added"], redone["updated"], redone["skipped"]) == (0, 0, 3 * PAIRS_PER_SHARD - CORRUPT)


def test_shards_of_another_model_are_refused(local_emb, manifests, tmp_path):
    from conftest import tiny_config

    from editsearch.encoder.registry import random_model

    other = random_model(tiny_config(name="other-tiny"), seed=1)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.bind_model(other)
        with pytest.raises(ModelMismatchError, match="not comparable"):
            index.sync_embeddings(local_emb)
        assert index.stats()["edits"] == 0
    result = CliRunner().invoke(
        cli, ["build-index", "--from-embeddings", str(local_emb), "--index", str(tmp_path / "idx")]
    )
    assert result.exit_code == 1 and "was made with model" in result.output and "other-tiny" in result.output
    mixed = tmp_path / "mixed"
    embed_sources(manifests[:1], mixed, other)
    embed_sources(manifests[1:2], mixed, load_shard_model(local_emb))
    with EditIndex.open(tmp_path / "fresh", create=True) as index, pytest.raises(ModelMismatchError):
        index.sync_embeddings(mixed)


def test_the_shard_split_covers_every_shard_once(manifests, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "parquet"
    folder.mkdir()
    for i in range(5):
        pq.write_table(pa.table({"x": [i]}), folder / f"part-{i}.parquet")
    sources = [folder, *manifests]
    everything = [job.input for job in plan_jobs(sources, tmp_path)]
    assert len(everything) == 9 and len(set(everything)) == 9  # a parquet folder is one shard per file
    parts = [[job.input for job in plan_jobs(sources, tmp_path, i, 4)] for i in range(4)]
    assert sorted(sum(parts, [])) == sorted(everything) and all(parts)
    result = CliRunner().invoke(cli, ["embed", str(folder), "--out", str(tmp_path / "o"), "--shard-index", "4"])
    assert result.exit_code == 2 and "--shard-index" in result.output


def test_a_killed_run_resumes_and_loses_nothing(manifests, model, tiny_model_dir, local_emb, tmp_path):
    out = tmp_path / "emb"
    script = (
        "import sys, time\n"
        "sys.modules['ray'] = None\n"  # the local engine needs no Ray
        "import editsearch.scale.embed as e\n"
        "from editsearch.encoder import load_model\n"
        "write = e.write_shard\n"
        "def slow(*a, **k):\n"
        "    write(*a, **k)\n"
        "    time.sleep(120)\n"  # the first shard is finished: kill -9 comes here
        "e.write_shard = slow\n"
        f"model = load_model({str(tiny_model_dir)!r}, device='cpu')\n"
        f"e.embed_sources(sys.argv[1:], {str(out)!r}, model, batch_size=16)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, manifests)],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    deadline = time.monotonic() + 120
    while not shard_files(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = shard_files(out)
    assert len(finished) == 1
    first_id = read_meta(finished[0]).shard_id
    killed = temp_path(finished[0]).name.replace(f".{os.getpid()}.tmp", f".{proc.pid}.tmp")
    (out / killed).write_bytes(b"half a shard")  # what a kill mid-write leaves
    report = embed_sources(manifests, out, model, batch_size=16)
    assert (report.skipped_shards, report.embedded_shards) == (1, 3)
    assert read_meta(finished[0]).shard_id == first_id and not list(out.glob(".*.tmp"))
    assert_same_vectors(shard_vectors(out), shard_vectors(local_emb))


def test_ivfpq_sq8_index_recalls_what_flat_finds_and_verifies(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((30, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 30, 3000)] + 0.3 * rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [
        {"key": f"k{i}", "origin": "o", "source": "files", "before": f"b{i}", "after": f"a{i}", "metadata": {}}
        for i in range(3000)
    ]
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.catalog.bind_model("m", "fp", 32, True, {})
        index.catalog.save_edits(rows, [v.tobytes() for v in vectors], "fp")
        queries = vectors[:20] + 0.1 * rng.standard_normal((20, 32)).astype(np.float32)
        exact = [{h.edit["id"] for h in hits} for hits in index.search(queries, k=10)]
        compact = index.rebuild("ivfpq-sq8")
        assert compact is not None and compact.kind == "ivfpq-sq8" and compact.lossy and compact.nlist > 1
        assert lists_are_runs(compact)  # the build laid the re-rank store out list by list
        found = index.search(queries, k=10)
        recall = np.mean([len(e & {h.edit["id"] for h in hits}) / 10 for e, hits in zip(exact, found, strict=True)])
        assert recall >= 0.9
        assert all(
            abs(h.score - float(vectors[h.edit["id"] - 1] @ q)) < 0.02
            for q, hits in zip(queries, found, strict=True)
            for h in hits
        )
        assert index.verify().ok and index.stats()["faiss_type"] == "ivfpq-sq8"


def lists_are_runs(vi: VectorIndex) -> bool:
    """Whether each IVF list of an `ivfpq-sq8` index holds one run of adjacent store positions, in list order."""
    import faiss

    lists = faiss.downcast_index(vi._inner().base_index).invlists
    runs = [faiss.rev_swig_ptr(lists.get_ids(no), lists.list_size(no)).copy() for no in range(lists.nlist)]
    flat = np.concatenate(runs)
    return bool(np.array_equal(flat, np.arange(vi.ntotal)))


def test_an_ivfpq_sq8_store_in_list_order_searches_as_in_insertion_order():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 6000)] + 0.3 * rng.standard_normal((6000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(6000, dtype=np.int64) * 3 + 7  # ids unlike FAISS's positions
    sample = vectors[sample_positions(6000, training_size("ivfpq-sq8", 6000))]
    plain = VectorIndex.empty("ivfpq-sq8", 32, 6000, sample)
    plain.add(ids, vectors)
    ordered = VectorIndex.build("ivfpq-sq8", 32, ids, vectors)
    assert not lists_are_runs(plain) and lists_are_runs(ordered)
    queries = vectors[rng.integers(0, 6000, 200)] + 0.1 * rng.standard_normal((200, 32)).astype(np.float32)
    (s1, i1), (s2, i2) = plain.search(queries, 10), ordered.search(queries, 10)
    assert np.array_equal(i1, i2) and np.array_equal(s1, s2)
    assert all(np.array_equal(plain.reconstruct(i), ordered.reconstruct(i)) for i in ids[::97])
    assert np.array_equal(ordered.ids(), ids)


def test_rows_are_permuted_in_place_as_a_gather_would_copy_them():
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 256, (500, 12), dtype=np.uint8)
    order = rng.permutation(500)
    order[:50] = np.arange(50)  # some rows stay where they are
    order[50:] = 50 + rng.permutation(450)
    expected = rows[order]
    permute_rows(rows, order)  # returns nothing: rows itself changes
    assert np.array_equal(rows, expected)
