"""Learned VISII instructions kept in the index catalog beside their edits (visii_instructions), through their own
migration set.

The table is made by the TRANSFER migration set when a writer first stores one (under the writer lock); a catalog
that has none yet reads as holding no instruction.
"""

from __future__ import annotations

import math
import sqlite3
from array import array
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import DataError
from editsearch.core.migrations import MigrationSet, apply, has_table, transaction
from editsearch.index.catalog import now
from editsearch.index.catalog.rows import dicts, row_id

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

TABLE = "visii_instructions"


def _create(conn: sqlite3.Connection) -> None:
    """Learned VISII instructions: `<ins>` token embeddings per edit, pipeline and inversion settings."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS visii_instructions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            edit_id INTEGER NOT NULL REFERENCES edits(id) ON DELETE CASCADE,
            pipeline TEXT NOT NULL,
            settings TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            width INTEGER NOT NULL,
            embeddings BLOB NOT NULL,
            loss REAL,
            seconds REAL,
            created_at TEXT NOT NULL,
            UNIQUE (edit_id, pipeline, settings))"""
    )


TRANSFER = MigrationSet("transfer", (_create,))


def visii_instruction(index: EditIndex, edit_id: int, pipeline: str, settings: str) -> dict[str, Any] | None:
    """The stored `<ins>` of an edit for a pipeline and settings key (tokens, width, embeddings, ...), or None."""
    conn = index.catalog.conn
    if not has_table(conn, TABLE):
        return None
    cur = conn.execute(
        "SELECT tokens, width, embeddings, loss, seconds, created_at FROM visii_instructions "
        "WHERE edit_id = ? AND pipeline = ? AND settings = ?",
        [row_id(edit_id), pipeline, settings],
    )
    rows = list(dicts(cur))
    return rows[0] if rows else None


def save_visii_instruction(
    index: EditIndex,
    edit_id: int,
    pipeline: str,
    settings: str,
    shape: tuple[int, int],
    embeddings: bytes,
    **stats: Any,
) -> None:
    """Keep a learned `<ins>` (float32 bytes of `shape`) beside its edit, replacing one with the same key (writer lock).

    The key (`settings`) says what it was learned from: the settings, the exemplar's pixels, the pipeline's
    weights. Values or a loss that are not finite are refused (DataError): such an instruction is never kept.
    """
    index.require_writable()
    conn = index.catalog.conn
    apply(conn, TRANSFER)
    values = array("f", embeddings[: len(embeddings) - len(embeddings) % 4])
    loss = stats.get("loss")
    sized = len(values) * 4 == len(embeddings) == 4 * shape[0] * shape[1]
    if not sized or not all(map(math.isfinite, values)) or (loss is not None and not math.isfinite(loss)):
        raise DataError(f"refusing to keep a VISII instruction for edit {edit_id}: not finite, or not of {shape}")
    with transaction(conn):
        conn.execute(
            "INSERT INTO visii_instructions "
            "(edit_id, pipeline, settings, tokens, width, embeddings, loss, seconds, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(edit_id, pipeline, settings) DO UPDATE SET "
            "tokens = excluded.tokens, width = excluded.width, embeddings = excluded.embeddings, "
            "loss = excluded.loss, seconds = excluded.seconds, created_at = excluded.created_at",
            [row_id(edit_id), pipeline, settings, *shape, embeddings, stats.get("loss"), stats.get("seconds"), now()],
        )
