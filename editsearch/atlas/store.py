"""The edit atlas's tables in the index catalog: each mapped edit's point (map_points) and the fit's state (a
setting), kept through their own migration set.

The table is made by the ATLAS migration set when a writer first stores a map (under the writer lock); a catalog that
has none yet (never mapped, or opened read-only) reads as holding no point.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from editsearch.core.migrations import MigrationSet, apply, has_table, transaction
from editsearch.index.catalog import VECTOR_ID

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

MAP_STATE = "map:state"  # settings key: the edit atlas's fit (model file checksum, clusters and their labels)
TABLE = "map_points"
Point = tuple[int, int, float, float, int, int]  # (edit id, vector id, x, y, cluster, fitted)


def _create(conn: sqlite3.Connection) -> None:
    """The edit atlas: each mapped edit's 2-D position and cluster (derived data; `editsearch map` rebuilds it)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS map_points (
            edit_id INTEGER PRIMARY KEY REFERENCES edits(id) ON DELETE CASCADE,
            vector_id INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            cluster INTEGER NOT NULL,
            fitted INTEGER NOT NULL)"""
    )


ATLAS = MigrationSet("atlas", (_create,))


def map_state(index: EditIndex) -> str | None:
    """The stored fit's state (JSON), or None when no map is stored."""
    return index.catalog.get_setting(MAP_STATE)


def map_points(index: EditIndex) -> list[Point]:
    """(edit id, vector id, x, y, cluster, fitted) of each live edit mapped from its current vector, by edit id."""
    conn = index.catalog.conn
    if not has_table(conn, TABLE):
        return []
    return conn.execute(
        "SELECT m.edit_id, m.vector_id, m.x, m.y, m.cluster, m.fitted FROM map_points m "
        "JOIN edits e ON e.id = m.edit_id JOIN vectors v ON v.id = m.vector_id AND v.edit_id = m.edit_id "
        "WHERE e.deleted = 0 ORDER BY m.edit_id"
    ).fetchall()


def map_stamp(index: EditIndex) -> tuple[str | None, int, float]:
    """(the fit's state, number of stored points, sum of their vector ids): it moves whenever the map is written."""
    conn = index.catalog.conn
    if not has_table(conn, TABLE):
        return map_state(index), 0, 0.0
    count, total = conn.execute("SELECT count(*), total(vector_id) FROM map_points").fetchone()
    return map_state(index), int(count), float(total)


def save_map(index: EditIndex, points: Sequence[Point], state: str | None, *, replace: bool) -> None:
    """Store (edit id, vector id, x, y, cluster, fitted) points (all when `replace`) and the fit's state JSON (the
    writer lock held)."""
    index.require_writable()
    catalog = index.catalog
    apply(catalog.conn, ATLAS)
    with transaction(catalog.conn):
        if replace:
            catalog.conn.execute("DELETE FROM map_points")
        catalog.conn.executemany(
            "INSERT OR REPLACE INTO map_points (edit_id, vector_id, x, y, cluster, fitted) VALUES (?, ?, ?, ?, ?, ?)",
            points,
        )
        catalog.conn.execute(  # removed edits, and edits embedded anew, leave the map
            "DELETE FROM map_points WHERE edit_id IN (SELECT id FROM edits WHERE deleted = 1) "
            "OR vector_id NOT IN (SELECT id FROM vectors)"
        )
        if state is None:
            catalog.delete_setting(MAP_STATE)
        else:
            catalog.set_setting(MAP_STATE, state)


def live_vector_ids_by_edit(index: EditIndex) -> dict[int, int]:
    """edit id -> vector id of every live edit with a vector of the index's model."""
    return dict(index.catalog.live_edit_rows(("id", VECTOR_ID)))
