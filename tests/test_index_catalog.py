"""The catalog: schema and migrations, WAL, foreign keys, FTS, plain browsable tables; FAISS wrapper."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from index_fixtures import traced

from editsearch.index import catalog as cat
from editsearch.index.catalog import Catalog
from editsearch.index.errors import SchemaVersionError
from editsearch.index.types import INDEX_TYPES
from editsearch.index.vectors import VectorIndex, ivf_nlist, pq_m, resolve_kind


def edit_row(key: str, instruction: str = "make it watercolor") -> dict:
    return {
        "key": key, "origin": "/src", "source": "manifest", "before": f"{key}/b.png", "before_size": 1,
        "before_mtime": 1.0, "before_hash": f"hb{key}", "after": f"{key}/a.png", "after_size": 1,
        "after_mtime": 1.0, "after_hash": f"ha{key}", "instruction": instruction, "metadata": {"n": 1},
    }  # fmt: skip


@pytest.fixture
def catalog(tmp_path):
    c = Catalog.open(tmp_path / "catalog.db")
    c.bind_model("m", "fp", 4, False, {"embed_dim": 4})
    yield c
    c.close()


def test_fresh_catalog_schema(catalog):
    db = catalog.db
    assert catalog.schema_version == cat.SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"edits", "vectors", "models", "errors", "schema_version", "settings", "edits_fts"} <= set(db.table_names())
    assert catalog.model()["name"] == "m"


def test_rows_are_plain_and_readable(catalog):
    catalog.save_edits([edit_row("a")], [np.ones(4, np.float32).tobytes()], "fp")
    raw = sqlite3.connect(catalog.path).execute("SELECT metadata, instruction FROM edits").fetchone()
    assert raw == ('{"n": 1}', "make it watercolor")  # JSON as text, as Datasette shows it
    assert catalog.get_edit(1)["metadata"] == {"n": 1}
    ids = catalog.filtered_vector_ids("fp", None, "watercolor")
    assert len(ids) == 1 and catalog.filtered_vector_ids("fp", None, "snow") == []


def test_every_edit_row_has_its_metadata_as_a_dict(catalog):
    catalog.save_edits([edit_row("a")], [np.ones(4, np.float32).tobytes()], "fp")
    (vector_id,) = catalog.live_vector_ids("fp")
    rows = [
        catalog.get_edit(1),
        catalog.rows_for_vectors([vector_id])[vector_id],
        catalog.rows_by_keys(["a"], "fp")["a"],
    ]
    assert [row["metadata"] for row in rows] == [{"n": 1}] * 3


def test_vector_rows_are_immutable_new_ids(catalog):
    catalog.save_edits([edit_row("a")], [np.ones(4, np.float32).tobytes()], "fp")
    first = catalog.live_vector_ids("fp")
    catalog.save_edits([edit_row("a")], [np.zeros(4, np.float32).tobytes()], "fp")
    second = catalog.live_vector_ids("fp")
    assert len(second) == 1 and second != first
    generation = catalog.generation
    assert catalog.tombstone([1], "removed") == 1 and catalog.generation == generation + 1
    assert catalog.live_vector_ids("fp") == [] and catalog.live_vector_count("fp") == 0


def test_the_live_vector_count_is_the_length_of_the_live_ids(catalog):
    rows = [edit_row(key) for key in "abcde"]
    blobs = [np.ones(4, np.float32).tobytes()] * 4 + [np.ones(3, np.float32).tobytes()]  # e: the wrong size
    catalog.save_edits(rows, blobs, "fp")
    catalog.tombstone([2], "removed")
    assert catalog.live_vector_count("fp") == len(catalog.live_vector_ids("fp")) == 3
    assert len(catalog.live_vector_ids("fp", any_size=True)) == 4 and catalog.live_vector_count("other") == 0


def test_the_counts_read_the_edits_by_state_and_source_from_an_index_not_the_rows(catalog):
    rows = [edit_row(key) for key in "abcd"] + [{**edit_row("e"), "source": "folder"}]
    catalog.save_edits(rows, [np.ones(4, np.float32).tobytes()] * 5, "fp")
    catalog.tombstone([1], "removed")
    counts, statements = traced(catalog.db.conn, lambda: catalog.counts("fp"))
    assert (counts["edits"], counts["deleted"], counts["vectors"]) == (4, 1, 4)
    assert counts["sources"] == {"manifest": 3, "folder": 1} and counts["origins"] == ["/src"]
    assert catalog.counts("fp", live_vectors=7)["vectors"] == 7  # a count the caller already has is not taken again
    (by_source,) = [s for s in statements if "GROUP BY" in s]
    plan = catalog.db.execute(f"EXPLAIN QUERY PLAN {by_source}").fetchall()
    assert any("COVERING INDEX idx_edits_source" in row[-1] for row in plan)  # millions of edits: no row is read


def test_the_edits_of_a_few_vectors_are_looked_up_by_id_never_by_reading_vectors_or_walking_the_live_edits(catalog):
    catalog.save_edits([edit_row(f"k{i}") for i in range(40)], [np.ones(4, np.float32).tobytes()] * 40, "fp")
    catalog.tombstone([3], "removed")
    rows, statements = traced(catalog.db.conn, lambda: catalog.rows_for_vectors(list(range(1, 41, 2))))
    assert len(rows) == 19 and 3 not in rows and rows[5]["id"] == 5  # a search's candidates, live ones only
    vectors, edits = [row[-1] for row in catalog.db.execute(f"EXPLAIN QUERY PLAN {statements[-1]}")]
    assert vectors.startswith("SEARCH v USING COVERING INDEX idx_vectors_edit"), vectors  # no vector is read
    assert edits == "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)", edits


def test_settings_and_the_model_are_read_once_until_this_or_another_connection_writes(tmp_path, catalog):
    catalog.set_setting("generation", "1")
    catalog.model(), catalog.get_setting("generation")
    reads = lambda: [(catalog.model(), catalog.get_setting("generation")) for _ in range(3)]  # noqa: E731
    twice, statements = traced(catalog.db.conn, reads)
    assert twice[0] == (catalog.model(), "1")
    assert all(s == "PRAGMA data_version" for s in statements), statements  # nothing re-read from the tables
    other = Catalog.open(tmp_path / "catalog.db")
    try:
        other.set_setting("generation", "2")  # another connection commits: this one sees it at once
        assert catalog.get_setting("generation") == "2"
        catalog.set_setting("generation", "3")  # and its own writes
        assert catalog.get_setting("generation") == "3" and other.get_setting("generation") == "3"
        with catalog.db.atomic():  # inside a transaction, reads go to the tables (a rollback must not stay)
            catalog.set_setting("generation", "4")
            assert catalog.get_setting("generation") == "4"
        with pytest.raises(sqlite3.IntegrityError), catalog.db.atomic():
            catalog.set_setting("generation", "5")
            catalog.db.execute("INSERT INTO vectors (id) VALUES (NULL)")  # fails: the transaction rolls back
        assert catalog.get_setting("generation") == "4"
    finally:
        other.close()


def test_failed_transaction_rolls_back(catalog):
    with pytest.raises(sqlite3.IntegrityError):
        catalog.save_edits([edit_row("a"), edit_row("b")], [b"x" * 16], "missing-model")  # FK fails
    assert catalog.counts("fp")["edits"] == 0


def test_migrations_are_stepwise_and_newer_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "catalog.db"
    Catalog.open(path).close()
    applied = []
    current = cat.SCHEMA_VERSION
    monkeypatch.setattr(cat, "MIGRATIONS", [*cat.MIGRATIONS, lambda db: applied.append(current + 1)])
    monkeypatch.setattr(cat, "SCHEMA_VERSION", current + 1)
    c = Catalog.open(path)
    assert applied == [current + 1] and c.schema_version == current + 1
    c.close()
    monkeypatch.setattr(cat, "SCHEMA_VERSION", current)
    with pytest.raises(SchemaVersionError, match="upgrade editsearch"):
        Catalog.open(path)


def test_vector_index_types():
    assert resolve_kind("auto", 10) == "flat" and resolve_kind("auto", 10**6) == "pq"
    assert resolve_kind("auto", 2 * 10**6) == "ivfpq-sq8" and resolve_kind("ivfpq-sq8", 999) == "flat"
    assert resolve_kind("ivf", 0) == "flat" and set(INDEX_TYPES) == {"flat", "ivf", "hnsw", "pq", "ivfpq-sq8", "auto"}
    assert resolve_kind("pq", 999) == "flat" and resolve_kind("pq", 1000) == "pq"  # too few to train: exact
    assert ivf_nlist(1_000_000) == 1000 and ivf_nlist(50) == 1
    assert (pq_m(384), pq_m(768), pq_m(10), pq_m(7)) == (192, 384, 5, 1)  # 2 dims per sub-quantizer, dividing d
    with pytest.raises(ValueError):
        resolve_kind("lsh", 1)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "pq"])
def test_vector_index_save_load_remove(tmp_path, kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(100, 1300)
    vi = VectorIndex.build(kind, 8, ids, x)
    removed = vi.remove(np.array([105, 300]))
    assert removed == (0 if kind in ("hnsw", "pq") else 2)
    vi.save(tmp_path, generation=7, model="fp")
    assert not list(tmp_path.glob(".*tmp"))
    loaded, meta = VectorIndex.load(tmp_path)
    assert (meta.generation, meta.kind, meta.ntotal) == (7, kind, vi.ntotal)
    _, found = loaded.search(x[[6, 250]], 1)
    assert found[:, 0].tolist() == [106, 350]  # ids stay attached to the right vectors after removal
    np.testing.assert_allclose(loaded.reconstruct(106), x[6], atol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "pq"])
def test_searches_go_to_a_gpu_replica_when_faiss_sees_a_gpu(monkeypatch, kind):
    import faiss

    clones, gpu_searches = [], []

    class FakeGpuIndex:  # stands in for faiss-gpu: a CPU clone that records its searches
        def __init__(self, index):
            self.clone = faiss.clone_index(index)
            clones.append(self)

        def search(self, queries, k):
            gpu_searches.append(k)
            return self.clone.search(queries, k)

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", FakeGpuIndex, raising=False)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2100, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    vi = VectorIndex.build(kind, 8, np.arange(2100), x)
    _, found = vi.search(x[[3]], 1)
    vi.search(x[[4]], 1)
    assert found[0, 0] == 3
    assert len(clones) == len(gpu_searches) / 2 == (0 if kind in ("hnsw", "pq") else 1)  # no GPU form
    if kind in ("hnsw", "pq"):
        return
    vi.remove(np.array([3]))
    _, found = vi.search(x[[3]], 1)
    assert found[0, 0] != 3 and len(clones) == 2  # a change is never searched through a stale replica
    vi.add(np.array([1000]), x[[3]])
    _, found = vi.search(x[[3]], 1)
    assert found[0, 0] == 1000 and len(clones) == 3
    _, many = vi.search(x[[5]], 2049)
    assert many.shape[1] == 2049 and len(gpu_searches) == 4  # past the GPU's k limit it searches on the CPU


def test_a_reader_follows_other_processes_while_this_process_opens_more_connections(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "catalog.db"
    Catalog.open(path).close()
    reader = Catalog.open(path, readonly=True)
    write = (
        "import sys; from editsearch.index.catalog import Catalog; c = Catalog.open(sys.argv[1]); "
        "c.db.execute('INSERT INTO settings (key, value) VALUES (?, ?)', [sys.argv[2], 'x']); c.close()"
    )
    try:
        for name in ("first", "second"):
            Catalog.open(path, readonly=True).close()  # another connection of this process, opened and closed
            subprocess.run([sys.executable, "-c", write, str(path), name], check=True)
            keys = {r[0] for r in reader.db.execute("SELECT key FROM settings")}
            assert name in keys  # the reader's WAL locks held, so it saw the other process's write
    finally:
        reader.close()
