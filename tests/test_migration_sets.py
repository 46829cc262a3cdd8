"""Stage tables through named migration sets: made on a writer's first store, read as empty before, never by readers;
and the catalog's live-edit columns named as a tuple, checked against the edits table."""

from __future__ import annotations

import numpy as np
import pytest

from editsearch.atlas import store as atlas_store
from editsearch.core.errors import SchemaVersionError, UsageError
from editsearch.core.migrations import MigrationSet, applied_version, apply, has_table
from editsearch.index.catalog import VECTOR_ID
from editsearch.index.errors import EditIndexError
from editsearch.index.store import EditIndex
from editsearch.pairs import store as pairs_store
from editsearch.transfer import store as transfer_store


def edit_row(key: str) -> dict:
    return {
        "key": key, "origin": "/src", "source": "manifest", "before": f"{key}/b.png", "after": f"{key}/a.png",
        "before_hash": f"hb{key}", "after_hash": f"ha{key}", "instruction": f"edit {key}", "metadata": {"n": key},
    }  # fmt: skip


@pytest.fixture
def idx(tmp_path):
    """An index of two edits with 4-d vectors, and no stage table yet."""
    directory = tmp_path / "idx"
    with EditIndex.open(directory, create=True) as index:
        index.catalog.bind_model("m", "fp", 4, False, {})
        vectors = [np.eye(4, dtype=np.float32)[i].tobytes() for i in range(2)]
        index.catalog.save_edits([edit_row("a"), edit_row("b")], vectors, "fp")
    return directory


def test_stage_tables_are_absent_until_written_and_read_as_empty(idx):
    with EditIndex.open(idx) as index:
        conn = index.catalog.conn
        assert not any(has_table(conn, t) for t in ("map_points", "visii_instructions", "pair_signatures"))
        assert atlas_store.map_points(index) == [] and atlas_store.map_stamp(index) == (None, 0, 0.0)
        assert transfer_store.visii_instruction(index, 1, "p", "k") is None
        assert pairs_store.signatures(conn, [1, 2]) == {}
        with pytest.raises(EditIndexError, match="read-only"):
            atlas_store.save_map(index, [], None, replace=True)
        assert not has_table(conn, "map_points")  # a reader writes nothing
        assert conn.execute("SELECT count(*) FROM migrations").fetchone()[0] == 0  # made by core migration 11


def test_a_stores_first_write_applies_its_set_once(idx):
    with EditIndex.open(idx, writable=True) as index:
        vids = atlas_store.live_vector_ids_by_edit(index)
        atlas_store.save_map(index, [(1, vids[1], 0.5, 0.25, 0, 1)], '{"fit": 1}', replace=True)
        atlas_store.save_map(index, [(2, vids[2], 1.0, 1.0, 0, 0)], '{"fit": 2}', replace=False)
        transfer_store.save_visii_instruction(index, 1, "p", "k", (1, 2), np.ones(2, np.float32).tobytes(), loss=0.5)
        pairs_store.save_signatures(index.catalog.conn, [(2, ("hbb", "hab"), b"sig")])
        rows = index.catalog.conn.execute("SELECT name, version FROM migrations ORDER BY name").fetchall()
    assert rows == [("atlas", 1), ("pairs", 1), ("transfer", 1)]
    with EditIndex.open(idx) as index:
        assert [p[:2] for p in atlas_store.map_points(index)] == [(1, vids[1]), (2, vids[2])]
        assert atlas_store.map_state(index) == '{"fit": 2}' and atlas_store.map_stamp(index)[1] == 2
        assert transfer_store.visii_instruction(index, 1, "p", "k")["loss"] == 0.5
        assert pairs_store.signatures(index.catalog.conn, [1, 2]) == {2: b"sig"}


def test_a_table_an_older_catalog_made_keeps_its_rows(idx):
    with EditIndex.open(idx, writable=True) as index:
        conn = index.catalog.conn
        atlas_store.ATLAS.steps[0](conn)  # as core migration 7 made it, with no record in `migrations`
        conn.execute("INSERT INTO map_points VALUES (1, 1, 0.0, 0.0, 3, 1)")
        assert applied_version(conn, "atlas") == 0
        atlas_store.save_map(index, [], "{}", replace=False)
        assert applied_version(conn, "atlas") == 1 and [p[4] for p in atlas_store.map_points(index)] == [3]


def test_a_set_of_a_newer_editsearch_is_refused(idx):
    with EditIndex.open(idx, writable=True) as index:
        conn = index.catalog.conn
        newer = MigrationSet("atlas", (*atlas_store.ATLAS.steps, lambda c: c.execute("CREATE TABLE atlas_extra (x)")))
        apply(conn, newer)
        assert applied_version(conn, "atlas") == 2 and has_table(conn, "atlas_extra")
        with pytest.raises(SchemaVersionError, match="'atlas' tables .* version 2"):
            atlas_store.save_map(index, [], None, replace=True)


def test_a_failed_step_records_nothing(idx):
    def broken(conn):
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("disk gone")

    with EditIndex.open(idx, writable=True) as index:
        conn = index.catalog.conn
        with pytest.raises(RuntimeError):
            apply(conn, MigrationSet("broken", (broken,)))
        assert applied_version(conn, "broken") == 0 and not has_table(conn, "half")


def test_live_edit_rows_take_known_column_names_only(idx):
    with EditIndex.open(idx) as index:
        catalog = index.catalog
        assert catalog.live_edit_rows(("id", "instruction")) == [(1, "edit a"), (2, "edit b")]
        vids = dict(catalog.live_edit_rows(("id", VECTOR_ID)))
        assert sorted(vids) == [1, 2] and sorted(vids.values()) == catalog.live_vector_ids("fp")
        for bad in [("e.id",), ("id, instruction",), ("json_extract(metadata, '$.n')",), ("nope",), ()]:
            with pytest.raises(UsageError):
                catalog.live_edit_rows(bad)
    with EditIndex.open(idx.parent / "empty", create=True) as empty:
        assert empty.catalog.live_edit_rows(("id",)) == []
