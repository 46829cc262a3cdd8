"""The catalog's own numbered migrations: MIGRATIONS[i] takes the core tables from schema version i to i + 1.

Versions 5 to 7 made tables that belong to other stages (pair signatures, learned VISII instructions, the atlas's
points); those stages' stores now make them through their own named migration sets (editsearch.core.migrations),
so these three steps do nothing, and a catalog that passed them keeps the tables it has. Version 11 makes the
`migrations` table where those sets record their versions: an older editsearch, which would expect the three tables
in any catalog of version 10, refuses a catalog made since (SchemaVersionError) instead of failing on a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from editsearch.core.errors import SchemaVersionError
from editsearch.core.migrations import MIGRATIONS_TABLE
from editsearch.media.locators import legacy_cell

if TYPE_CHECKING:
    import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    """Initial schema: models, edits (+ FTS5 over instruction), vectors, errors, settings."""
    db.execute(
        """CREATE TABLE models (
            fingerprint TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            dim INTEGER NOT NULL,
            trained INTEGER NOT NULL DEFAULT 0,
            config TEXT,
            created_at TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE edits (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            origin TEXT NOT NULL,
            source TEXT NOT NULL,
            before TEXT NOT NULL,
            before_size INTEGER,
            before_mtime REAL,
            before_hash TEXT,
            after TEXT NOT NULL,
            after_size INTEGER,
            after_mtime REAL,
            after_hash TEXT,
            instruction TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            deleted_reason TEXT,
            deleted_at TEXT)"""
    )
    db.execute("CREATE INDEX idx_edits_hashes ON edits (before_hash, after_hash)")
    db.execute("CREATE INDEX idx_edits_origin ON edits (origin, deleted)")
    db.execute(
        """CREATE TABLE vectors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            edit_id INTEGER NOT NULL REFERENCES edits(id) ON DELETE CASCADE,
            model TEXT NOT NULL REFERENCES models(fingerprint),
            vector BLOB NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (edit_id, model))"""
    )
    db.execute(
        """CREATE TABLE errors (
            id INTEGER PRIMARY KEY,
            origin TEXT,
            item TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL)"""
    )
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")
    db["edits"].enable_fts(["instruction"], fts_version="FTS5", create_triggers=True)


def _v2(db: sqlite_utils.Database) -> None:
    """Parquet cells get their own locator scheme: 'PATH#ROW:COLUMN' -> 'parquet-cell:ROW:COLUMN:PATH'."""
    rows = db.execute("SELECT id, key, before, after FROM edits WHERE before LIKE '%#%' OR after LIKE '%#%'").fetchall()
    for edit_id, key, before, after in rows:
        new_before, new_after = legacy_cell(before) or before, legacy_cell(after) or after
        if (new_before, new_after) != (before, after):
            new_key = f"{new_before}|{new_after}" if key == f"{before}|{after}" else key
            db.execute(
                "UPDATE edits SET before = ?, after = ?, key = ? WHERE id = ?",
                [new_before, new_after, new_key, edit_id],
            )


def _v3(db: sqlite_utils.Database) -> None:
    """Each vector row keeps the CRC-32 of its blob, so `verify` can name the rows whose bytes changed."""
    db.execute("ALTER TABLE vectors ADD COLUMN crc INTEGER")
    db.execute("UPDATE vectors SET crc = crc32(vector)")


def _v4(db: sqlite_utils.Database) -> None:
    """Instruction vectors: the text tower's embedding of each distinct instruction, per model."""
    db.execute(
        """CREATE TABLE instruction_vectors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model TEXT NOT NULL REFERENCES models(fingerprint),
            instruction TEXT NOT NULL,
            vector BLOB NOT NULL,
            crc INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (model, instruction))"""
    )


def _stage_table(db: sqlite_utils.Database) -> None:
    """Versions 5-7 made the pair signatures, VISII instructions and atlas points: now their stages' sets do."""


def _v8(db: sqlite_utils.Database) -> None:
    """Hybrid ranking looks up the live edits of its nearest instructions: an index on the instruction text."""
    db.execute("CREATE INDEX idx_edits_instruction ON edits (instruction)")


def _v9(db: sqlite_utils.Database) -> None:
    """`stats` counts the edits by source, origin and state from an index instead of reading every edit row.

    `deleted` comes last: led by it, the index would be the planner's pick for every `deleted = 0` filter, and a
    lookup of a few vectors' edits would walk all the live edits.
    """
    db.execute("CREATE INDEX idx_edits_source ON edits (source, origin, deleted)")


def _v10(db: sqlite_utils.Database) -> None:
    """A search finds its candidates' edit ids in a small index instead of each candidate's vectors row.

    A vectors row holds the vector (3 KB at d = 768), so a row fills most of a page: at millions of edits the
    rows do not stay in the page cache, and reading each candidate's for its edit id cost one random read.
    """
    db.execute("CREATE INDEX idx_vectors_edit ON vectors (id, edit_id)")


def _v11(db: sqlite_utils.Database) -> None:
    """The record of the stages' migration sets: (name, version, applied_at)."""
    db.execute(MIGRATIONS_TABLE)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1, _v2, _v3, _v4, _stage_table, _stage_table, _stage_table, _v8, _v9, _v10, _v11,
]  # fmt: skip


def too_new(version: int, supported: int, path: Path | None) -> SchemaVersionError:
    """The error for a catalog written by a newer editsearch."""
    return SchemaVersionError(
        f"this catalog has schema version {version}, but this editsearch supports up to "
        f"{supported}; please upgrade editsearch to open it ({path})"
    )
