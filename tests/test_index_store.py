"""EditIndex: incremental sync, model binding, locking, removal per index type, rebuild, FAISS repair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from index_fixtures import CountingModel, make_collection, write_image

from editsearch.index.errors import IndexLockedError, IndexNotFoundError, ModelMismatchError
from editsearch.index.store import EditIndex
from editsearch.index.vectors import FAISS_FILE, META_FILE


@pytest.fixture
def collection(tmp_path):
    return make_collection(tmp_path / "data", 12)


@pytest.fixture
def model(tiny_model):
    return CountingModel(tiny_model)


def build(index_dir, sources, model, **kw):
    with EditIndex.open(index_dir, create=True) as index:
        return index.sync(sources, model, batch_size=4, workers=0, **kw)


def test_open_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="build-index"):
        EditIndex.open(tmp_path / "nope")


def test_incremental_sync(tmp_path, collection, model):
    idx = tmp_path / "idx"
    first = build(idx, [collection], model)
    assert (first.added, first.embedded, first.failed) == (12, 12, 0) and model.embedded == 12

    again = build(idx, [collection], model)
    assert (again.added, again.skipped, again.embedded) == (0, 12, 0) and model.embedded == 12

    images = collection.parent / "images"
    touched = images / "p0_3_before.png"
    os.utime(touched, (time.time() + 5, time.time() + 5))  # same bytes, new mtime: rehash, reuse the vector
    touch = build(idx, [collection], model)
    assert (touch.updated, touch.embedded, touch.reused, touch.skipped) == (1, 0, 1, 11)

    write_image(images / "p0_5_after.png", seed=999)  # new content: exactly one re-embed
    changed = build(idx, [collection], model)
    assert (changed.updated, changed.embedded, changed.skipped) == (1, 1, 11) and model.embedded == 13

    (images / "p0_7_before.png").unlink()  # the manifest line now fails; its edit is tombstoned
    gone = build(idx, [collection], model)
    assert (gone.removed, gone.failed, gone.embedded) == (1, 1, 0)
    assert gone.exit_code == 3 and "not found" in gone.errors[0][2]
    with EditIndex.open(idx) as index:
        s = index.stats()
        assert (s["edits"], s["vectors"], s["deleted"], s["errors"]) == (11, 11, 1, 1)
        assert index.verify().ok


def test_vanished_lines_are_tombstoned_and_come_back_by_hash(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    lines = collection.read_text().splitlines()
    collection.write_text("\n".join(lines[:10]) + "\n")
    report = build(idx, [collection], model)
    assert (report.removed, report.skipped, report.exit_code) == (2, 10, 0)
    collection.write_text("\n".join(lines) + "\n")
    back = build(idx, [collection], model)
    assert (back.added, back.embedded, back.reused) == (2, 0, 2)


def test_instruction_changes_update_without_embedding(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    lines = [json.loads(line) for line in collection.read_text().splitlines()]
    lines[0]["instruction"] = "make it snowy"
    collection.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = build(idx, [collection], model)
    assert report.embedded == 0
    with EditIndex.open(idx) as index:
        assert index.catalog.get_edit(1)["instruction"] == "make it snowy"


def test_other_model_is_refused(tmp_path, collection, model):
    from conftest import tiny_config

    from editsearch.encoder.registry import random_model

    build(tmp_path / "idx", [collection], model)
    other = random_model(tiny_config(name="other"), seed=1)
    with pytest.raises(ModelMismatchError, match="built with model 'tiny-test'"):
        build(tmp_path / "idx", [collection], other)
    with EditIndex.open(tmp_path / "idx") as index:
        with pytest.raises(ModelMismatchError):
            index.check_model(other.fingerprint, other.name)


def test_second_writer_waits_then_errors(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    holder = EditIndex.open(idx, writable=True)
    start = time.monotonic()
    with pytest.raises(IndexLockedError, match="another process .*writing"):
        EditIndex.open(idx, writable=True, lock_timeout=0.3)
    assert 0.25 < time.monotonic() - start < 3
    with EditIndex.open(idx) as reader:  # readers never wait
        assert reader.stats()["edits"] == 12
    threading.Timer(0.3, holder.close).start()
    with EditIndex.open(idx, writable=True, lock_timeout=5) as waited:  # waits until the holder is done
        assert waited.lock.held


_FORKING_WRITER = """
import os, sys, time
from editsearch.index.lock import WriterLock
lock = WriterLock(sys.argv[1])
lock.acquire()
child = os.fork()  # as a DataLoader worker is forked
if child == 0:
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
time.sleep(60)
"""


def test_a_killed_writers_lock_is_free_at_once_though_its_forked_worker_lives(tmp_path):
    from editsearch.index.lock import WriterLock

    writer = subprocess.Popen([sys.executable, "-c", _FORKING_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    child = int(writer.stdout.readline())
    try:
        assert WriterLock(tmp_path).held_elsewhere() is not None
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        os.kill(child, 0)  # the forked child is still alive
        assert WriterLock(tmp_path).held_elsewhere() is None
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "pq"])
def test_remove_and_rebuild_per_index_type(tmp_path, model, kind, monkeypatch):
    from editsearch.index import vectors

    monkeypatch.setattr(vectors, "PQ_MIN_TRAIN", 40)  # train a PQ on this small collection
    data = make_collection(tmp_path / "data", 60)
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        index.set_index_type(kind)
        index.sync([data], model, batch_size=16, workers=0)
        assert index.vectors.kind == kind
        query = index.stored_vector(5)
        assert index.search(query, 1)[0][0].edit["id"] == 5
        assert index.remove([5, 6]) == 2
        tombstones = [f"2 {kind.upper()} tombstones (filtered at search time)"] if kind in ("hnsw", "pq") else []
        assert index.verify().notes == tombstones
        hits = index.search(query, 60)[0]
        assert {5, 6}.isdisjoint(h.edit["id"] for h in hits) and len(hits) == 58
        before = [(h.edit["id"], h.score) for h in index.search(query, 10)[0]]
        index.rebuild()
        after = [(h.edit["id"], h.score) for h in index.search(query, 10)[0]]
        assert [i for i, _ in before] == [i for i, _ in after]
        np.testing.assert_allclose([s for _, s in before], [s for _, s in after], atol=1e-5)
        assert index.verify().ok
    with EditIndex.open(idx) as reopened:  # removal survives reopening (a tombstone, for HNSW and PQ)
        assert 5 not in {h.edit["id"] for h in reopened.search(query, 60)[0]}


def test_removed_edits_stay_removed(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    with EditIndex.open(idx, writable=True) as index:
        index.remove([3])
    report = build(idx, [collection], model)
    assert (report.added, report.skipped, report.embedded) == (0, 12, 0)
    with EditIndex.open(idx) as index:
        assert index.stats()["edits"] == 11


def test_faiss_cache_is_repaired_from_the_catalog(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    with EditIndex.open(idx) as index:
        expected = [h.edit["id"] for h in index.search(index.stored_vector(2), 5)[0]]
    (idx / FAISS_FILE).write_bytes(b"garbage")
    with EditIndex.open(idx) as index:
        assert not index.verify().ok
        assert [h.edit["id"] for h in index.search(index.stored_vector(2), 5)[0]] == expected
    with EditIndex.open(idx) as index:
        assert not index.verify().ok  # the reader repaired it in memory only
    with EditIndex.open(idx, writable=True) as index:
        assert [h.edit["id"] for h in index.search(index.stored_vector(2), 5)[0]] == expected
    with EditIndex.open(idx) as index:
        assert index.verify().ok  # the writer saved its repair
    meta = json.loads((idx / META_FILE).read_text())
    (idx / META_FILE).write_text(json.dumps({**meta, "generation": 0}))  # a stale cache: ids compared
    with EditIndex.open(idx, writable=True) as index:
        index.catalog.tombstone([1], "removed")
        assert 1 not in [h.edit["id"] for h in index.search(index.stored_vector(2), 12)[0]]


def test_add_api_and_auto_index_type_the_default_of_a_new_index(tmp_path, model):
    from editsearch.data.sources import iter_source

    data = make_collection(tmp_path / "data", 5)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        assert index.index_type == "auto"  # asked of a new index without being told
        report = index.add(list(iter_source(data)), model, workers=0)
        assert (report.added, index.vectors.kind) == (5, "flat")  # auto is exact below 100k
        assert index.stats()["origins"] == ["api"]
        index.catalog.delete_setting("index_type")  # an index made before auto was the default ...
    with EditIndex.open(tmp_path / "idx", writable=True) as index:
        assert index.index_type == "flat"  # ... keeps exact search


def _snapshot(directory) -> dict[str, bytes]:
    """Every file of the index but SQLite's own -wal/-shm, which a read-only connection may create empty."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if not p.name.endswith(("-wal", "-shm"))}


@pytest.mark.parametrize("damage", ["stale", "missing"])
def test_reader_repairs_a_stale_cache_in_memory_and_writes_nothing(tmp_path, collection, model, damage):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    with EditIndex.open(idx) as index:
        query = index.stored_vector(2)
        full = [h.edit["id"] for h in index.search(query, 12)[0]]
    with EditIndex.open(idx, writable=True) as index:  # the catalog moves on; the saved cache is now stale
        index.catalog.tombstone([full[0], full[3]], "removed")
    if damage == "missing":
        (idx / FAISS_FILE).unlink()
    before = _snapshot(idx)
    with EditIndex.open(idx) as reader:
        hits = [h.edit["id"] for h in reader.search(query, 12)[0]]
        assert not reader.lock.held
    assert hits == [i for i in full if i not in (full[0], full[3])]
    assert _snapshot(idx) == before  # byte for byte: no repaired vectors.faiss, no lock file written


def test_long_lived_reader_sees_later_writes(tmp_path, collection, model):
    idx = tmp_path / "idx"
    build(idx, [collection], model)
    with EditIndex.open(idx) as reader:
        query = reader.stored_vector(4)
        assert reader.search(query, 1)[0][0].edit["id"] == 4
        with EditIndex.open(idx, writable=True) as writer:
            writer.remove([4])
        assert 4 not in [h.edit["id"] for h in reader.search(query, 12)[0]]


def test_index_embedder_loads_the_model_only_when_needed(tmp_path, collection, model, monkeypatch):
    import editsearch.encoder

    idx = tmp_path / "idx"
    build(idx, [collection], model)
    monkeypatch.setattr(editsearch.encoder, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with EditIndex.open(idx, writable=True) as index:
        report = index.sync([collection], index.embedder(), workers=0)
    assert report.skipped == 12
    write_image(collection.parent / "images" / "p0_1_after.png", seed=555)
    monkeypatch.setattr(editsearch.encoder, "load_model", lambda *a, **k: model)
    with EditIndex.open(idx, writable=True) as index:
        assert index.sync([collection], index.embedder(), workers=0).embedded == 1


def test_build_decodes_large_jpegs_at_reduced_scale_with_near_identical_vectors(tmp_path, tiny_model, monkeypatch):
    from PIL import Image

    from editsearch.data.records import ImageRef

    rng = np.random.default_rng(0)
    images = tmp_path / "data"
    images.mkdir()
    lines = []
    for i in range(3):  # smooth 512-px photos-like JPEGs: 4x larger than the model's input
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        for half, img in (("b", Image.fromarray(small)), ("a", Image.fromarray(255 - small))):
            img.resize((512, 512), Image.BICUBIC).save(images / f"{i}{half}.jpg", quality=92)
        lines.append(json.dumps({"before": f"{i}b.jpg", "after": f"{i}a.jpg"}))
    (images / "m.jsonl").write_text("\n".join(lines) + "\n")

    sizes = []
    load = ImageRef.load
    monkeypatch.setattr(
        ImageRef, "load", lambda self, min_size=None: sizes.append(load(self, min_size).size) or load(self, min_size)
    )
    report = build(tmp_path / "idx", [images / "m.jsonl"], tiny_model)
    assert report.added == 3 and report.failed == 0
    side = tiny_model.config.image_size
    assert len(sizes) == 6 and all(side <= min(s) <= 512 // 4 for s in sizes), sizes  # DCT-scaled, not 512

    from editsearch.media.images import load_image

    with EditIndex.open(tmp_path / "idx") as index:
        stored = np.stack(
            [np.frombuffer(index.catalog.vector_of_edit(i, tiny_model.fingerprint), np.float32) for i in (1, 2, 3)]
        )
    full = tiny_model.embed_pairs(
        [load_image(images / f"{i}b.jpg") for i in range(3)],  # decoded at 512 px
        [load_image(images / f"{i}a.jpg") for i in range(3)],
    ).numpy()
    assert np.allclose(stored, full, atol=0.05)
    assert (stored * full).sum(axis=1).min() > 0.99


def stored_vectors(index_dir, model, ids) -> np.ndarray:
    """The catalog's vectors of these edit ids."""
    with EditIndex.open(index_dir) as index:
        return np.stack([np.frombuffer(index.catalog.vector_of_edit(i, model.fingerprint), np.float32) for i in ids])


def test_built_vectors_equal_the_query_path_in_mixed_reuse_and_embed_batches(tmp_path, collection, tiny_model):
    """Workers ship uint8 pixels, normalised per batch; a batch mixing reused and fresh vectors maps each back."""
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:  # two workers, so batches really cross processes
        assert index.sync([collection], tiny_model, batch_size=4, workers=2).added == 12
    pairs = [json.loads(line) for line in collection.read_text().splitlines()]
    root = collection.parent

    def direct(ns):
        return tiny_model.embed_pairs([root / pairs[n]["before"] for n in ns], [root / pairs[n]["after"] for n in ns])

    assert np.allclose(stored_vectors(idx, tiny_model, range(1, 13)), direct(range(12)).numpy(), atol=1e-5)

    images = root / "images"
    os.utime(images / "p0_2_before.png", (time.time() + 5, time.time() + 5))  # rehash, reuse its vector
    write_image(images / "p0_3_after.png", seed=777)  # new content: embed
    os.utime(images / "p0_4_after.png", (time.time() + 5, time.time() + 5))  # reuse
    write_image(images / "p0_6_before.png", seed=778)  # embed
    counting = CountingModel(tiny_model)
    report = build(idx, [collection], counting)  # one batch of 4: reused, fresh, reused, fresh
    assert (report.updated, report.reused, report.embedded, counting.embedded) == (4, 2, 2, 2)
    assert np.allclose(stored_vectors(idx, tiny_model, [3, 4, 5, 7]), direct([2, 3, 4, 6]).numpy(), atol=1e-5)


def test_the_collector_skips_preexisting_objects_only_during_a_build(tmp_path, collection, tiny_model):
    import gc

    frozen = []

    class Spy(CountingModel):
        def embed_pair_tensors(self, x):
            frozen.append(gc.get_freeze_count())
            return super().embed_pair_tensors(x)

    assert gc.get_freeze_count() == 0
    build(tmp_path / "idx", [collection], Spy(tiny_model))
    assert frozen and min(frozen) > 1000  # the model, torch, ... are out of the collector's way
    assert gc.get_freeze_count() == 0  # and handed back afterwards

    mine = ["a caller's object"]
    gc.freeze()  # a caller that froze its own objects (say, before forking) keeps them frozen
    try:
        build(tmp_path / "idx2", [collection], Spy(tiny_model))
        # frozen objects may be freed meanwhile (a cache evicting), so the count can drop; this one stays frozen
        assert not any(obj is mine for obj in gc.get_objects()) and gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
    assert any(obj is mine for obj in gc.get_objects())


@pytest.mark.parametrize(("cores", "cpu", "cuda"), [(1, 1, 1), (2, 1, 1), (8, 4, 7), (32, 4, 8)])
def test_default_workers_leave_a_cpu_forward_its_cores(monkeypatch, cores, cpu, cuda):
    from editsearch.pairs import loading

    monkeypatch.setattr(loading.os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert (loading.default_workers("cpu"), loading.default_workers("cuda")) == (cpu, cuda)


def test_pq_starts_exact_until_it_has_enough_vectors_to_train(tmp_path, model, monkeypatch):
    from editsearch.index import vectors

    monkeypatch.setattr(vectors, "PQ_MIN_TRAIN", 40)
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        index.set_index_type("pq")
        index.sync([make_collection(tmp_path / "a", 30)], model, batch_size=16, workers=0)
        assert index.vectors.kind == "flat"  # 30 < 40: nothing to train codebooks on yet
        index.sync(
            [make_collection(tmp_path / "a", 30), make_collection(tmp_path / "b", 30, seed=1)],
            model,
            batch_size=16,
            workers=0,
        )
        assert index.vectors.kind == "pq" and index.vectors.trained_on == 60 and index.verify().ok
