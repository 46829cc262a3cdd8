"""A reader maps the re-rank store of a `pq` or `ivfpq-sq8` cache that matches the catalog, and never adds to it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from index_fixtures import synthetic, traced, write_shard

from editsearch.index.errors import EditIndexError
from editsearch.index.prefetch import ListPrefetch
from editsearch.index.store import EditIndex

N, D = 1200, 16  # enough vectors to train the PQ codebooks


@pytest.fixture
def pq_index(tmp_path):
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.set_index_type("pq")
        index.sync_embeddings(write_shard(tmp_path / "emb", synthetic(N, D)).parent)
        assert index.vectors.kind == "pq" and not index.vectors.mapped  # a writer never maps
    return tmp_path


def ids_of(index: EditIndex, query: np.ndarray) -> list[int]:
    return [h.edit["id"] for h in index.search(query, 10)[0]]


def test_a_reader_maps_a_current_cache_finds_the_same_and_refuses_to_add(pq_index):
    query = synthetic(N, D)[7]
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        expected = ids_of(writer, query)
    with EditIndex.open(pq_index / "idx") as reader:
        assert ids_of(reader, query) == expected and expected[0] == 8
        vi = reader.vectors
        assert vi.mapped
        with pytest.raises(EditIndexError, match="read-only"):  # FAISS itself would abort the process
            vi.add(np.array([10**6]), query[None])


def test_a_mapped_reader_loads_the_writers_new_cache_after_a_write(pq_index):
    extra = synthetic(5, D, seed=9)
    with EditIndex.open(pq_index / "idx") as reader:
        assert reader.vectors.mapped
        with EditIndex.open(pq_index / "idx", writable=True) as writer:
            writer.sync_embeddings(write_shard(pq_index / "emb", extra, shard=1, first=N).parent)
        assert ids_of(reader, extra[2])[0] == N + 3  # the new edit is found ...
        assert reader.vectors.mapped  # ... through the cache the writer saved, mapped again


def write_past_the_cache(pq_index, extra: np.ndarray) -> None:
    """New edits written into the catalog alone: the catalog moves on, the saved cache does not."""
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        rows = [
            {"key": f"new{i}", "origin": "api", "source": "api", "before": "b.png", "after": "a.png",
             "instruction": None, "metadata": {}}
            for i in range(len(extra))
        ]  # fmt: skip
        writer.catalog.save_edits(rows, [v.tobytes() for v in extra], writer.model_info["fingerprint"])


def test_a_reader_repairs_a_stale_cache_in_memory_instead_of_mapping_it(pq_index):
    extra = synthetic(3, D, seed=5)
    write_past_the_cache(pq_index, extra)
    with EditIndex.open(pq_index / "idx") as reader:
        assert ids_of(reader, extra[1])[0] == N + 2
        assert not reader.vectors.mapped


def test_the_sidecar_keeps_the_live_count_so_a_reader_does_not_count_the_catalog(pq_index, monkeypatch):
    import json

    from editsearch.index.catalog import Catalog

    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        assert writer.remove(list(range(1, 101))) == 100  # tombstones: pq keeps their codes
    sidecar = pq_index / "idx" / "vectors.json"
    assert json.loads(sidecar.read_text())["live"] == N - 100
    counted = []
    monkeypatch.setattr(Catalog, "live_vector_count", lambda self, model: counted.append(model) or N - 100)
    with EditIndex.open(pq_index / "idx") as reader:
        assert reader.stats()["tombstones"] == 100 and reader.vectors.mapped
        assert reader.caches.live_count == N - 100 and not counted
    sidecar.write_text(json.dumps({k: v for k, v in json.loads(sidecar.read_text()).items() if k != "live"}))
    with EditIndex.open(pq_index / "idx") as reader:  # a sidecar from before it kept the count
        assert reader.vectors is not None and reader.caches.live_count == N - 100 and len(counted) == 1
    assert "live" not in json.loads(sidecar.read_text())  # a reader writes nothing ...
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        assert writer.vectors is not None and len(counted) == 2
    assert json.loads(sidecar.read_text())["live"] == N - 100  # ... a writer records the count
    with EditIndex.open(pq_index / "idx") as reader:
        assert reader.vectors.mapped and len(counted) == 2 and reader.verify().ok


def test_a_removal_takes_the_new_generation_in_the_sidecar_alone(pq_index):
    import json

    saved, sidecar = pq_index / "idx" / "vectors.faiss", pq_index / "idx" / "vectors.json"
    before = saved.stat()
    query = synthetic(N, D)[7]  # edit 8's vector
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        assert ids_of(writer, query)[0] == 8 and writer.remove([8]) == 1
        assert 8 not in ids_of(writer, query)
        generation = writer.catalog.generation
    assert (saved.stat().st_size, saved.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)  # not rewritten
    meta = json.loads(sidecar.read_text())
    assert (meta["generation"], meta["live"], meta["ntotal"]) == (generation, N - 1, N)
    with EditIndex.open(pq_index / "idx") as reader:  # it matches the catalog: mapped, edit 8 skipped as a tombstone
        assert reader.vectors.mapped and 8 not in ids_of(reader, query) and reader.verify().ok
    with EditIndex.open(pq_index / "idx", writable=True) as writer:  # past the rebuild share of tombstones
        assert writer.remove(list(range(100, 100 + N // 4))) == N // 4
    assert json.loads(sidecar.read_text())["ntotal"] == N - 1 - N // 4  # rebuilt without its tombstones
    assert saved.stat().st_mtime_ns != before.st_mtime_ns
    with EditIndex.open(pq_index / "idx") as reader:
        assert reader.verify().ok and 8 not in ids_of(reader, query)


def stats_and_joins(index: EditIndex) -> tuple[dict, list[str]]:
    """The index's stats and the statements that joined the vectors to the edits to get them."""
    stats, statements = traced(index.catalog.db.conn, index.stats)
    return stats, [s for s in statements if "JOIN edits" in s]


def test_stats_take_the_live_count_from_a_current_sidecar_and_count_only_past_a_stale_one(pq_index):
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        assert writer.remove(list(range(1, 11))) == 10
    with EditIndex.open(pq_index / "idx") as reader:
        stats, joins = stats_and_joins(reader)
    assert stats["faiss_in_sync"] and not joins  # at 10M, that count was a join of every vector to its edit
    assert (stats["edits"], stats["vectors"], stats["deleted"], stats["tombstones"]) == (N - 10, N - 10, 10, 10)
    write_past_the_cache(pq_index, synthetic(3, D, seed=5))
    with EditIndex.open(pq_index / "idx") as reader:
        stats, joins = stats_and_joins(reader)
    assert not stats["faiss_in_sync"] and joins
    assert (stats["edits"], stats["vectors"], stats["sources"]) == (N - 7, N - 7, {"files": N - 10, "api": 3})


def test_a_mapped_ivfpq_sq8_reader_asks_for_the_rows_of_a_querys_lists_at_once_and_finds_the_same(
    tmp_path, monkeypatch
):
    import faiss

    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.set_index_type("ivfpq-sq8")
        index.sync_embeddings(write_shard(tmp_path / "emb", synthetic(N, D)).parent)
    query, asked = synthetic(N, D)[7], []
    with EditIndex.open(tmp_path / "idx") as reader:
        vi = reader.vectors
        assert vi.mapped and vi.prefetch is not None
        monkeypatch.setattr(
            os, "posix_fadvise", lambda fd, start, length, advice: asked.append((start, length, advice))
        )
        found = ids_of(reader, query)
        prefetch, vi.prefetch = vi.prefetch, None
        assert ids_of(reader, query) == found and found[0] == 8  # the same hits without it
    store = faiss.downcast_index(faiss.downcast_index(vi.index.index).refine_index)
    rows = faiss.rev_swig_ptr(store.codes.data(), store.codes.size()).reshape(vi.ntotal, store.code_size)
    _, probed = prefetch.ivf.quantizer.search(query[None], prefetch.ivf.nprobe)
    lists, expected = prefetch.ivf.invlists, []
    for no in np.unique(probed):
        ids = faiss.rev_swig_ptr(lists.get_ids(int(no)), lists.list_size(int(no)))
        expected.append((prefetch.offset + int(ids.min()) * store.code_size, len(ids) * store.code_size))
    assert sorted((start, length) for start, length, _ in asked) == sorted(expected)
    assert {advice for *_, advice in asked} == {os.POSIX_FADV_WILLNEED}
    saved = (tmp_path / "idx" / "vectors.faiss").read_bytes()
    for start, length in expected:  # the bytes asked for are exactly those lists' rows
        first = (start - prefetch.offset) // store.code_size
        assert saved[start : start + length] == rows[first : first + length // store.code_size].tobytes()
    moved = tmp_path / "moved.faiss"
    moved.write_bytes(saved + b"\0")  # rows no longer where the layout puts them: no prefetch, not a wrong one
    assert ListPrefetch.of(moved, vi.index) is None


def test_a_cold_reader_takes_a_current_instruction_cache_without_scanning_and_follows_a_writer(pq_index, monkeypatch):
    import editsearch.index.instruction_index as instruction_module
    from editsearch.index.instructions import save_instruction_vectors

    texts, vectors = [f"instruction {i}" for i in range(N)], synthetic(N, D, seed=3)
    with EditIndex.open(pq_index / "idx", writable=True) as writer:
        fingerprint = writer.model_info["fingerprint"]
        save_instruction_vectors(writer.catalog, fingerprint, texts, vectors)
        assert len(writer.instruction_matrix()) == N  # the writer saves the cache (pq, as the pair cache)
    scans = []
    real_state = instruction_module.instruction_state
    monkeypatch.setattr(instruction_module, "instruction_state", lambda *a: scans.append(1) or real_state(*a))
    with EditIndex.open(pq_index / "idx") as reader:
        matrix = reader.instruction_matrix()
        assert len(matrix) == N and matrix.top_texts(vectors[42], 1) == ["instruction 42"]
        assert reader.caches.instructions.vectors.mapped and not scans  # taken as saved: no count of the table
        with EditIndex.open(pq_index / "idx", writable=True) as writer:
            save_instruction_vectors(writer.catalog, fingerprint, ["one more"], synthetic(1, D, seed=4))
        more = reader.instruction_matrix()  # the table moved on: counted, and the mapped cache reloaded, not added to
        assert len(more) == N + 1 and scans and more.top_texts(synthetic(1, D, seed=4)[0], 1) == ["one more"]
