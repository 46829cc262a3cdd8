"""The SQLite catalog: the source of truth for edits, their vectors, models and errors.

Plain tables with readable column names and JSON stored as text, so `datasette catalog.db` browses it.
Vectors are float32 BLOBs; a vector row never changes once written (a new embedding is a new row with a
new id), which is what lets the FAISS cache be repaired by comparing id sets alone.

`Catalog` is composed of one layer per job, each building on the one before: the connection (connection.py),
settings and models (settings.py), vectors (vectors.py), edits and errors (edits.py), the `where` sandbox and facets
(filters.py); the core tables' numbered migrations are in migrations.py. What tests and benchmarks tune (MIGRATIONS,
SCHEMA_VERSION, QUICK_CHECK_MAX_BYTES, DEFAULT_FILTER_BUDGET_S) is read from this module when a catalog opens. Other
stages keep their own tables (editsearch.atlas.store, editsearch.transfer.store, editsearch.pairs.store) through
named migration sets (editsearch.core.migrations).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from editsearch.index.catalog.connection import corruption_as_error, damaged, file_size, hold, release
from editsearch.index.catalog.edits import VECTOR_ID, EditRow
from editsearch.index.catalog.filters import PROGRESS_STEPS, FilterQueries
from editsearch.index.catalog.migrations import MIGRATIONS, too_new
from editsearch.index.catalog.rows import chunks, now, vector_crc
from editsearch.index.catalog.settings import TEXT_GENERATION
from editsearch.index.errors import CatalogCorruptError

__all__ = [
    "CATALOG_FILE", "DEFAULT_FILTER_BUDGET_S", "MIGRATIONS", "PROGRESS_STEPS", "QUICK_CHECK_MAX_BYTES",
    "SCHEMA_VERSION", "TEXT_GENERATION", "VECTOR_ID", "Catalog", "EditRow", "chunks", "corruption_as_error", "damaged",
    "now", "vector_crc",
]  # fmt: skip

CATALOG_FILE = "catalog.db"
QUICK_CHECK_MAX_BYTES = 32 << 20  # catalogs up to this size get PRAGMA quick_check on open (~20 ms; 0.12 s at 230 MB)
SCHEMA_VERSION = len(MIGRATIONS)
DEFAULT_FILTER_BUDGET_S = 10.0  # a `where` filter running longer is stopped (FilterError); the server sets its own


class Catalog(FilterQueries):
    """The catalog database of one index directory."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None):
        super().__init__(conn, path)
        self.filter_budget_s = DEFAULT_FILTER_BUDGET_S

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Catalog:
        """Open (creating and migrating as needed) the catalog at `path`, in WAL mode.

        `readonly` opens it with SQLite's `mode=ro` (and `immutable=1` when its folder is not writable),
        migrating nothing: such a connection cannot write, whatever runs on it. A damaged file raises
        CatalogCorruptError: its header is checked always, its pages by `PRAGMA quick_check` when the file
        is at most QUICK_CHECK_MAX_BYTES (`verify` runs the full integrity check).
        """
        path = Path(path)
        key = hold(path)
        if readonly:
            flags = "mode=ro" + ("" if os.access(path.parent, os.W_OK) else "&immutable=1")
            target, uri = f"file:{quote(str(path.resolve()))}?{flags}", True
        else:
            target, uri = str(path), False
        try:
            conn = sqlite3.connect(target, timeout=30.0, isolation_level=None, check_same_thread=False, uri=uri)
        except BaseException:
            release(key)
            raise
        conn.create_function("crc32", 1, vector_crc, deterministic=True)
        catalog = cls(conn, path)
        catalog._key = key
        catalog.readonly = readonly
        try:
            with corruption_as_error(path):
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA recursive_triggers = ON")  # a REPLACE fires the full-text delete triggers
                if not readonly:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        catalog.db.enable_wal()
                    conn.execute("PRAGMA synchronous = NORMAL")
                if 0 < file_size(path) <= QUICK_CHECK_MAX_BYTES:
                    found = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                    if found != "ok":
                        raise CatalogCorruptError(damaged(path, found))
                if not readonly:
                    catalog.migrate()
        except BaseException:
            catalog.close()
            raise
        return catalog

    @property
    def schema_version(self) -> int:
        """The schema version this catalog is at (0 for an empty file)."""
        tables = self.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if not tables.fetchone()[0]:
            return 0
        return self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

    def migrate(self) -> None:
        """Apply pending migrations one step at a time; refuse a catalog newer than this code."""
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise too_new(current, SCHEMA_VERSION, self.path)
        for version in range(current, SCHEMA_VERSION):
            with self.db.atomic():
                if version == 0:
                    self.conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                    )
                MIGRATIONS[version](self.db)
                self.conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version + 1, now()])
