"""A damaged or read-only index: corrupt FAISS cache and catalog, read-only copies, filters, locators, ids."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat

import numpy as np
import pytest
from click.testing import CliRunner
from index_fixtures import make_collection

import editsearch.index.catalog as cat
from editsearch.cli.main import cli
from editsearch.data.records import ImageRef
from editsearch.index.catalog import CATALOG_FILE, Catalog
from editsearch.index.errors import CatalogCorruptError, UnknownEditError
from editsearch.index.store import EditIndex
from editsearch.index.vectors import FAISS_FILE, META_FILE
from editsearch.search.api import EditSearch

N = 12


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_model):
    """A built 12-edit index (never modified: tests work on copies) and each edit's top-5 neighbours."""
    root = tmp_path_factory.mktemp("faults-index")
    manifest = make_collection(root / "data", N)
    idx = root / "idx"
    with EditIndex.open(idx, create=True) as index:
        index.sync([manifest], tiny_model, batch_size=4, workers=0)
    return idx, neighbours(idx)


def neighbours(idx) -> dict[int, list[int]]:
    with EditSearch(EditIndex.open(idx)) as searcher:
        live = sorted(searcher.index.catalog.existing_ids(range(1, N + 1)))
        return {i: [r.id for r in searcher.search_edit(i, k=5)] for i in live}


@pytest.fixture
def idx(pristine, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(pristine[0], copy)
    return copy


def snapshot(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def one_error_line(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# -- the FAISS cache ------------------------------------------------------------------------------------


def overwrite(path, offset: int, n: int, seed: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())


def test_a_corrupted_faiss_file_is_rebuilt_from_the_catalog_never_searched(pristine, idx, caplog, tiny_model_dir):
    size = (idx / FAISS_FILE).stat().st_size
    overwrite(idx / FAISS_FILE, size // 2, min(5000, size // 2 - 1))
    assert (idx / FAISS_FILE).stat().st_size == size  # same size: only the checksum can tell
    before = snapshot(idx)
    with caplog.at_level(logging.WARNING, logger="editsearch.index.cache"):
        with EditSearch(EditIndex.open(idx)) as searcher:
            results = {i: searcher.search_edit(i, k=5) for i in range(1, N + 1)}
    assert {i: [r.id for r in rs] for i, rs in results.items()} == pristine[1]
    assert max(r.score for rs in results.values() for r in rs) <= 1.0001
    notices = [r.getMessage() for r in caplog.records if "FAISS cache" in r.getMessage()]
    assert len(notices) == 1 and "checksum" in notices[0] and "editsearch rebuild" in notices[0]
    assert snapshot(idx) == before  # a reader repairs in memory only

    verified = run("verify", "--index", idx)
    assert verified.exit_code == 4 and "checksum" in verified.output and "editsearch rebuild" in verified.output
    assert run("stats", "--index", idx, "--json").exit_code == 0
    assert json.loads(run("stats", "--index", idx, "--json").stdout)["faiss_in_sync"] is False

    manifest = pristine[0].parent / "data" / "manifest.jsonl"
    rebuilt = run("build-index", manifest, "--index", idx, "--model", tiny_model_dir, "-q")
    assert rebuilt.exit_code == 0, rebuilt.output  # everything skipped, and the writer saved a good cache
    assert run("verify", "--index", idx).exit_code == 0
    assert json.loads(run("stats", "--index", idx, "--json").stdout)["faiss_in_sync"] is True


@pytest.mark.parametrize("damage", ["truncate", "empty-list", "not-json", "delete"])
def test_a_truncated_faiss_file_or_a_bad_sidecar_is_never_in_sync(pristine, idx, damage):
    if damage == "truncate":
        with open(idx / FAISS_FILE, "r+b") as f:
            f.truncate((idx / FAISS_FILE).stat().st_size // 2)
    elif damage == "delete":
        (idx / FAISS_FILE).unlink()
    else:
        (idx / META_FILE).write_text("[]" if damage == "empty-list" else "{not json")
    stats = run("stats", "--index", idx, "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["faiss_in_sync"] is False
    assert neighbours(idx) == pristine[1]
    verified = run("verify", "--index", idx)
    assert verified.exit_code == 4 and "editsearch rebuild" in verified.output and "Traceback" not in verified.output
    assert run("rebuild", "--index", idx).exit_code == 0 and run("verify", "--index", idx).exit_code == 0


def test_verify_says_a_build_is_running_while_another_process_holds_the_lock(idx):
    with open(idx / FAISS_FILE, "r+b") as f:
        f.truncate(100)  # what a reader could see mid-build
    with EditIndex.open(idx, writable=True):
        result = run("verify", "--index", idx)
        assert result.exit_code == 0 and "a build is running" in result.output
        assert "inconsistent" not in result.output and "PROBLEM" not in result.output
    assert run("verify", "--index", idx).exit_code == 4  # once the writer is gone, the damage is reported


def test_a_failed_save_leaves_no_temp_file_and_the_previous_cache(idx, monkeypatch):
    import faiss

    def full_disk(index, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("Error in faiss::FileIOWriter: write failed (No space left on device)")

    before = snapshot(idx)
    monkeypatch.setattr(faiss, "write_index", full_disk)
    with EditIndex.open(idx, writable=True) as index, pytest.raises(OSError, match="No space left"):
        index.rebuild()
    assert not [p for p in idx.iterdir() if p.name.endswith(".tmp")]
    assert (idx / FAISS_FILE).read_bytes() == before[FAISS_FILE] and (idx / META_FILE).read_bytes() == before[META_FILE]


# -- the catalog ----------------------------------------------------------------------------------------


def edits_root_offset(idx) -> int:
    db = sqlite3.connect(idx / CATALOG_FILE)
    page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    return (page - 1) * size


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not-sqlite"])
def test_a_corrupt_catalog_is_one_clear_line_and_verify_says_what_to_do(idx, tiny_model_dir, damage):
    path = idx / CATALOG_FILE
    if damage == "truncate":
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
    elif damage == "garbage":
        overwrite(path, edits_root_offset(idx), 2000)
    else:
        overwrite(path, 0, 100)
    manifest = idx.parent / "manifest.jsonl"
    make_collection(idx.parent, 2)
    for args in (
        ["stats"],
        ["show", "1"],
        ["query", "--edit-id", "1"],
        ["rebuild"],
        ["remove", "1"],
        ["build-index", manifest, "--model", tiny_model_dir, "-q"],
    ):
        line = one_error_line(run(*args, "--index", idx))
        assert "damaged" in line or "cannot be read" in line, (args, line)
    verified = run("verify", "--index", idx)
    assert verified.exit_code == 4 and "Traceback" not in verified.output
    assert "restore it from a backup" in verified.output and "build-index" in verified.output
    with pytest.raises(CatalogCorruptError) as refused:
        EditIndex.open(idx)
    assert "\n" not in str(refused.value) and "damaged" in str(refused.value)


def test_verify_names_the_edits_whose_stored_vector_changed(idx):
    with sqlite3.connect(idx / CATALOG_FILE) as db:  # a changed blob that SQLite itself finds well formed
        db.execute("UPDATE vectors SET vector = zeroblob(length(vector)) WHERE edit_id = 3")
    verified = run("verify", "--index", idx, "--json")
    report = json.loads(verified.stdout)
    assert verified.exit_code == 4 and any("checksum: edits 3" in p for p in report["problems"])


# -- read-only indexes ----------------------------------------------------------------------------------


def test_a_read_only_copy_answers_like_the_writable_index_and_nothing_in_it_changes(pristine, idx, monkeypatch):
    with EditIndex.open(idx, writable=True) as index:  # a stale cache: the catalog moved on, the file did not
        index.catalog.tombstone([5], "removed")
    expected = neighbours(idx)
    (idx / "write.lock").unlink(missing_ok=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode, **kw))
    for path in [idx, *idx.iterdir()]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = snapshot(idx)
        assert neighbours(idx) == expected and 5 not in {i for ids in expected.values() for i in ids}
        assert run("stats", "--index", idx).exit_code == 0
        assert run("query", "--index", idx, "--edit-id", "1", "--json").exit_code == 0
        assert run("show", "2", "--index", idx).exit_code == 0
        assert run("verify", "--index", idx).exit_code == 4  # the stale cache is reported, not a crash
        with EditIndex.open(idx) as index:
            assert index.catalog.readonly and not index.lock.held
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                index.catalog.db.execute("DELETE FROM edits")
        assert snapshot(idx) == before  # byte for byte, and no new file (no lock, no -wal/-shm, no cache)
    finally:
        for path in [idx, *idx.iterdir()]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_reader_on_a_writable_folder_never_changes_the_catalog_or_cache(idx):
    watched = (CATALOG_FILE, FAISS_FILE, META_FILE)
    before = {name: (idx / name).read_bytes() for name in watched}
    with EditIndex.open(idx) as index:
        assert index.catalog.readonly
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            index.catalog.db.execute("UPDATE settings SET value = 'x'")
    assert neighbours(idx) and {name: (idx / name).read_bytes() for name in watched} == before


# -- filters ------------------------------------------------------------------------------------------------

RECURSIVE = "id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)"
SLOW = "id IN (SELECT a.id FROM edits a, edits b, edits c, edits d, edits e, edits f, edits g WHERE a.id + g.id < 0)"


@pytest.mark.parametrize("where", [RECURSIVE, "id IN (SELECT rowid FROM settings)", "id = (", "1; DROP TABLE edits"])
def test_a_bad_where_on_the_command_line_is_a_usage_error(idx, where):
    result = run("query", "--index", idx, "--edit-id", "1", "--where", where)
    assert result.exit_code == 2 and "bad filter" in result.output and "Traceback" not in result.output


def test_filters_have_a_default_time_budget_and_fail_per_line_in_a_batch(idx, tmp_path, monkeypatch):
    monkeypatch.setattr(cat, "DEFAULT_FILTER_BUDGET_S", 0.3)
    queries = tmp_path / "q.jsonl"
    lines = [{"edit_id": 1, "where": SLOW}, {"edit_id": 2, "where": RECURSIVE}, {"edit_id": 3}]
    queries.write_text("".join(json.dumps(q) + "\n" for q in lines))
    result = run("query", "--index", idx, "--queries", queries, "--json")
    outs = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 3 and len(outs) == 3
    assert "longer than 0.3 s" in outs[0]["error"] and "bad filter" in outs[1]["error"]
    assert "error" not in outs[2] and outs[2]["results"]


# -- locators and ids ------------------------------------------------------------------------------------


def test_a_hash_in_a_file_name_is_a_file_everywhere(tmp_path, tiny_model):
    manifest = make_collection(tmp_path / "data", 3)
    images = tmp_path / "data" / "images"
    for png in images.glob("*.png"):
        png.rename(images / png.name.replace("p0_", "p#0:x_"))
    manifest.write_text(manifest.read_text().replace("p0_", "p#0:x_"))
    idx = tmp_path / "idx"
    with EditIndex.open(idx, create=True) as index:
        assert index.sync([manifest], tiny_model, batch_size=4, workers=0).added == 3
        row = index.catalog.get_edit(1)
    assert "#0:x_" in row["before"] and ImageRef.from_locator(row["before"]) == ImageRef(row["before"])

    from editsearch.data.gallery import write_gallery
    from editsearch.transfer.exemplar import exemplar_from_index

    assert exemplar_from_index(idx, 1).before.size == (40, 32)  # what `apply --edit-id` loads
    with EditSearch(EditIndex.open(idx)) as searcher:
        page = write_gallery(tmp_path / "g.html", [("q", searcher.search_edit(1, k=2))]).read_text()
    assert page.count("<img") == 4 and "class='missing'" not in page


def test_schema_1_catalogs_get_the_cell_scheme_and_vector_checksums(tmp_path, monkeypatch):
    idx = tmp_path / "idx"
    idx.mkdir()
    monkeypatch.setattr(cat, "MIGRATIONS", cat.MIGRATIONS[:1])
    monkeypatch.setattr(cat, "SCHEMA_VERSION", 1)
    old = Catalog.open(idx / CATALOG_FILE)
    old.bind_model("m", "fp", 2, False, {})
    cell, weird = "/d/train-0.parquet#7:original_image", "/d/photo#7:original.png"
    rows = [
        {"key": f"{cell}|{cell[:-14]}edited_image", "origin": "o", "source": "ip2p", "before": cell},
        {"key": f"{weird}|{weird}", "origin": "o", "source": "files", "before": weird},
    ]
    for row in rows:
        row["after"] = row["key"].split("|")[1]
    old.db.conn.executemany(  # a schema-1 catalog has no crc column
        "INSERT INTO edits (key, origin, source, before, after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '', '')",
        [(r["key"], r["origin"], r["source"], r["before"], r["after"]) for r in rows],
    )
    old.db.execute("INSERT INTO vectors (edit_id, model, vector, created_at) VALUES (1, 'fp', x'0000803f00000000', '')")
    old.close()
    monkeypatch.undo()
    with EditIndex.open(idx) as index:  # a reader upgrades it once, under the writer lock
        assert index.catalog.schema_version == cat.SCHEMA_VERSION and index.catalog.readonly
        first, second = index.catalog.get_edit(1), index.catalog.get_edit(2)
        assert index.catalog.damaged_vectors() == []
    assert first["before"] == "parquet-cell:7:original_image:/d/train-0.parquet"
    assert first["after"] == "parquet-cell:7:edited_image:/d/train-0.parquet"
    assert first["key"] == f"{first['before']}|{first['after']}"
    assert ImageRef.from_locator(first["before"]) == ImageRef("/d/train-0.parquet", 7, "original_image")
    assert (second["before"], second["key"]) == (weird, f"{weird}|{weird}")  # a file stays a file


def test_huge_ids_are_unknown_edits_in_the_library(idx):
    huge = 10**30
    with EditIndex.open(idx) as index:
        for call in (lambda: index.catalog.get_edit(huge), lambda: index.stored_vector(huge)):
            with pytest.raises(UnknownEditError):
                call()
        assert index.catalog.existing_ids([huge, -1, 1, 2**63]) == {1}
    with EditSearch(EditIndex.open(idx)) as searcher, pytest.raises(UnknownEditError):
        searcher.search_edit(huge)
