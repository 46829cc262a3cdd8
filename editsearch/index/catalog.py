"""The SQLite catalog: the source of truth for edits, their vectors, models and errors.

Plain tables with readable column names and JSON stored as text, so `datasette catalog.db` browses it.
Vectors are float32 BLOBs; a vector row never changes once written (a new embedding is a new row with a
new id), which is what lets the FAISS cache be repaired by comparing id sets alone.
"""

from __future__ import annotations

import json
import math
import operator
import os
import sqlite3
import threading
import time
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote

from editsearch.core.errors import DataError
from editsearch.index.errors import CatalogCorruptError, FilterError, SchemaVersionError, UnknownEditError
from editsearch.index.facets import facet_sql
from editsearch.media.locators import legacy_cell

if TYPE_CHECKING:
    import sqlite_utils

CATALOG_FILE = "catalog.db"
_CHUNK = 5000  # ids per IN (...) query, well under SQLite's variable limit

# What a `where` filter may do: read the edits and vectors tables and call functions, nothing else. No
# other table (settings, models, errors, edits_fts: `contains` is the full-text filter), no PRAGMA, no
# recursive CTE; no function that makes large blobs or loads code; no value over FILTER_MAX_LENGTH bytes.
# Checked by an SQLite authorizer when the filter compiles.
FILTER_TABLES = frozenset({"edits", "vectors"})
FILTER_DENIED_FUNCTIONS = frozenset({"load_extension", "randomblob", "zeroblob", "fts3_tokenizer"})
# The time budget is checked between SQLite VM instructions, so it holds only if no one instruction runs
# long: one function call's cost grows with the strings it is given (printf('%.*c', N, 'x') builds N bytes,
# LIKE and GLOB cost about string x pattern), so a filter's values are capped at FILTER_MAX_LENGTH bytes
# (a longer printf() is NULL, other functions fail) and its LIKE/GLOB patterns at FILTER_MAX_PATTERN bytes:
# the dearest single call then takes milliseconds. What checking every 10 instructions costs a filtered scan
# is measured by benchmarks/filter_budget.py (benchmarks/RESULTS.md, "Filter time budget").
FILTER_MAX_LENGTH = 1_000_000
FILTER_MAX_PATTERN = 200
_PROGRESS_STEPS = 10  # SQLite VM instructions between two checks of a filter's time budget
FACET_KEYS, FACET_VALUES = 50, 20  # metadata keys a facets query returns, and values per key
FACETS_SQL = """
WITH pairs AS (
    SELECT j.key AS key, j.value AS value, count(*) AS n
    FROM edits e, json_each(e.metadata) j
    WHERE e.deleted = 0 AND json_valid(e.metadata) AND j.type IN ('text', 'integer', 'real', 'true', 'false')
    GROUP BY j.key, j.value),
keys AS (SELECT key, sum(n) AS total FROM pairs GROUP BY key ORDER BY total DESC, key LIMIT ?),
ranked AS (
    SELECT p.key, p.value, p.n, row_number() OVER (PARTITION BY p.key ORDER BY p.n DESC, p.value) AS r
    FROM pairs p JOIN keys k ON k.key = p.key)
SELECT key, value, n FROM ranked WHERE r <= ? ORDER BY key, r
"""
DEFAULT_FILTER_BUDGET_S = 10.0  # a `where` filter running longer is stopped (FilterError); the server sets its own
# Catalog files this process holds connections to, with how many. POSIX drops every lock a process holds
# on a file when it closes ANY descriptor of that file, so reading the header with a plain open() while a
# connection is open would drop that connection's WAL locks: a writer in another process then thinks it is
# alone, checkpoints and deletes the WAL, and the connection goes on reading a stale snapshot. The raw
# header is therefore read only before this process's first connection to a file.
_OPEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()
QUICK_CHECK_MAX_BYTES = 32 << 20  # catalogs up to this size get PRAGMA quick_check on open (~20 ms; 0.12 s at 230 MB)
TEXT_GENERATION = "text_generation"  # settings key: bumped when instructions of unchanged pairs are re-worded
MAP_STATE = "map:state"  # settings key: the edit atlas's fit (model file checksum, clusters and their labels)
MAX_ID = 2**63 - 1  # SQLite's integer range: an id outside it names no row
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class EditRow(TypedDict, total=False):
    """One row of the `edits` table (metadata decoded to a dict)."""

    id: int
    key: str
    origin: str
    source: str
    before: str
    before_size: int
    before_mtime: float
    before_hash: str
    after: str
    after_size: int
    after_mtime: float
    after_hash: str
    instruction: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    deleted: int
    deleted_reason: str | None
    deleted_at: str | None


# A stored vector that FAISS can hold: as many float32 values as its model's dimension. A blob of another size
# (written by hand, or by an old version from a bad shard) is left out of the cache, and `verify` names it.
WELL_SIZED = "length(v.vector) = 4 * (SELECT m.dim FROM models m WHERE m.fingerprint = v.model)"
_LIVE_VECTORS = "FROM vectors v JOIN edits e ON e.id = v.edit_id WHERE e.deleted = 0 AND v.model = ?"


class ModelRow(TypedDict):
    """One row of the `models` table."""

    name: str
    fingerprint: str
    dim: int
    trained: int
    config: str
    created_at: str


def now() -> str:
    """The current UTC time as an ISO-8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


def _v5(db: sqlite_utils.Database) -> None:
    """Pair signatures: small image fingerprints of each pair (see editsearch.pairs.signatures), by edit."""
    db.execute(
        """CREATE TABLE pair_signatures (
            edit_id INTEGER PRIMARY KEY REFERENCES edits(id) ON DELETE CASCADE,
            before_hash TEXT NOT NULL,
            after_hash TEXT NOT NULL,
            signature BLOB NOT NULL,
            created_at TEXT NOT NULL)"""
    )


def _v6(db: sqlite_utils.Database) -> None:
    """Learned VISII instructions: `<ins>` token embeddings per edit, pipeline and inversion settings."""
    db.execute(
        """CREATE TABLE visii_instructions (
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


def _v7(db: sqlite_utils.Database) -> None:
    """The edit atlas: each mapped edit's 2-D position and cluster (derived data; `editsearch map` rebuilds it)."""
    db.execute(
        """CREATE TABLE map_points (
            edit_id INTEGER PRIMARY KEY REFERENCES edits(id) ON DELETE CASCADE,
            vector_id INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            cluster INTEGER NOT NULL,
            fitted INTEGER NOT NULL)"""
    )


def _v8(db: sqlite_utils.Database) -> None:
    """Hybrid ranking looks up the live edits of its nearest instructions: an index on the instruction text."""
    db.execute("CREATE INDEX idx_edits_instruction ON edits (instruction)")


# Stepwise migrations: MIGRATIONS[i] takes a catalog from schema version i to i + 1.
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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10]
SCHEMA_VERSION = len(MIGRATIONS)


class Catalog:
    """The catalog database of one index directory."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None):
        self.conn = conn
        self.path = path
        self.filter_budget_s: float | None = DEFAULT_FILTER_BUDGET_S  # a filter running longer is stopped
        self.readonly = False
        self._key: str | None = None  # the file's key in _OPEN while this connection is open
        self._memo: dict[str, Any] = {}  # settings and the model row as last read, valid while _stamp holds
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Catalog:
        """Open (creating and migrating as needed) the catalog at `path`, in WAL mode.

        `readonly` opens it with SQLite's `mode=ro` (and `immutable=1` when its folder is not writable),
        migrating nothing: such a connection cannot write, whatever runs on it. A damaged file raises
        CatalogCorruptError: its header is checked always, its pages by `PRAGMA quick_check` when the file
        is at most QUICK_CHECK_MAX_BYTES (`verify` runs the full integrity check).
        """
        path = Path(path)
        key = _hold(path)
        if readonly:
            flags = "mode=ro" + ("" if os.access(path.parent, os.W_OK) else "&immutable=1")
            target, uri = f"file:{quote(str(path.resolve()))}?{flags}", True
        else:
            target, uri = str(path), False
        try:
            conn = sqlite3.connect(target, timeout=30.0, isolation_level=None, check_same_thread=False, uri=uri)
        except BaseException:
            _release(key)
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
                if 0 < _size(path) <= QUICK_CHECK_MAX_BYTES:
                    found = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                    if found != "ok":
                        raise CatalogCorruptError(damaged(path, found))
                if not readonly:
                    catalog.migrate()
        except BaseException:
            catalog.close()
            raise
        return catalog

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection as sqlite-utils sees it, for transactions and migrations; reads use `conn`.

        Built on first use: importing sqlite-utils imports pandas where it is installed (a third of a second).
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
        if self._key is not None:
            _release(self._key)
            self._key = None

    # -- schema ---------------------------------------------------------------------------------------

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
            raise too_new(current, self.path)
        for version in range(current, SCHEMA_VERSION):
            with self.db.atomic():
                if version == 0:
                    self.conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                    )
                MIGRATIONS[version](self.db)
                self.conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version + 1, now()])

    # -- settings and models --------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        """A value of the `settings` table."""
        value = self._remembered(
            f"setting:{key}", lambda: self.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        )
        return default if value is None else value[0]

    def _remembered(self, key: str, read: Callable[[], Any]) -> Any:
        """`read()`, or its value as read before while the file is unchanged (queries read settings often).

        Outside a transaction only: a commit of any other connection moves `PRAGMA data_version`, a
        write of this one `total_changes`, and either forgets every value.
        """
        conn = self.conn
        if conn.in_transaction:
            return read()
        stamp = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        if stamp != self._stamp:
            self._memo, self._stamp = {}, stamp
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def set_setting(self, key: str, value: str) -> None:
        """Set a value of the `settings` table (inside the caller's transaction, if any)."""
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def settings(self, prefix: str) -> list[tuple[str, str]]:
        """(key, value) of the settings whose key starts with `prefix`, sorted by key."""
        cur = self.conn.execute(
            "SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key", [len(prefix), prefix]
        )
        return cur.fetchall()

    def delete_setting(self, key: str) -> None:
        """Remove a value of the `settings` table."""
        self.conn.execute("DELETE FROM settings WHERE key = ?", [key])

    @property
    def generation(self) -> int:
        """A counter bumped by every transaction that changes the set of live vectors."""
        return int(self.get_setting("generation", "0") or 0)

    def bump_generation(self) -> int:
        """Increment the generation (call inside the writing transaction)."""
        value = self.generation + 1
        self.set_setting("generation", str(value))
        return value

    def model(self) -> ModelRow | None:
        """The model this index is bound to, or None for a fresh index."""
        fingerprint = self.get_setting("model")
        if fingerprint is None:
            return None
        row = self._remembered(
            f"model:{fingerprint}",
            lambda: self.conn.execute("SELECT * FROM models WHERE fingerprint = ?", [fingerprint]).fetchone(),
        )
        cols = ["fingerprint", "name", "dim", "trained", "config", "created_at"]
        return None if row is None else ModelRow(**dict(zip(cols, row, strict=True)))  # type: ignore[typeddict-item]

    def bind_model(self, name: str, fingerprint: str, dim: int, trained: bool, config: dict[str, Any]) -> None:
        """Record `fingerprint` as this index's model (registering it in `models`)."""
        with self.db.atomic():
            self.conn.execute(
                "INSERT OR IGNORE INTO models (fingerprint, name, dim, trained, config, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [fingerprint, name, dim, int(trained), json.dumps(config, sort_keys=True), now()],
            )
            self.set_setting("model", fingerprint)

    # -- edits ----------------------------------------------------------------------------------------

    def rows_by_keys(self, keys: Sequence[str], model: str) -> dict[str, dict[str, Any]]:
        """Existing rows for these pair keys (metadata decoded), each with `vector_id` (None: no `model` vector)."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT e.*, v.id AS vector_id FROM edits e "
                f"LEFT JOIN vectors v ON v.edit_id = e.id AND v.model = ? WHERE e.key IN ({marks})",
                [model, *chunk],
            )
            for row in _dicts(cur):
                out[row["key"]] = _decode(row)
        return out

    def vectors_by_hashes(self, hashes: Iterable[tuple[str, str]], model: str) -> dict[tuple[str, str], bytes]:
        """Stored vectors (any edit, live or not) whose before/after content hashes match."""
        out: dict[tuple[str, str], bytes] = {}
        for before_hash, after_hash in set(hashes):
            row = self.conn.execute(
                "SELECT v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
                "WHERE e.before_hash = ? AND e.after_hash = ? LIMIT 1",
                [model, before_hash, after_hash],
            ).fetchone()
            if row is not None:
                out[(before_hash, after_hash)] = row[0]
        return out

    def save_edits(self, rows: Sequence[dict[str, Any]], vectors: Sequence[bytes], model: str) -> list[int]:
        """Insert or update edits by key, live again, each with a fresh vector row; one transaction."""
        ids = []
        stamp = now()
        with self.db.atomic():
            for row, vector in zip(rows, vectors, strict=True):
                row = {**row, "metadata": json.dumps(row.get("metadata") or {}, ensure_ascii=False)}
                cols = [c for c in row if c != "id"]
                edit_id = self.conn.execute(
                    f"INSERT INTO edits ({', '.join(cols)}, created_at, updated_at, deleted) "
                    f"VALUES ({', '.join('?' * len(cols))}, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in cols)
                    + ", updated_at = excluded.updated_at, deleted = 0, deleted_reason = NULL, deleted_at = NULL "
                    "RETURNING id",
                    [*(row[c] for c in cols), stamp, stamp],
                ).fetchone()[0]
                self.conn.execute("DELETE FROM vectors WHERE edit_id = ? AND model = ?", [edit_id, model])
                self.conn.execute(
                    "INSERT INTO vectors (edit_id, model, vector, crc, created_at) VALUES (?, ?, ?, ?, ?)",
                    [edit_id, model, vector, vector_crc(vector), stamp],
                )
                ids.append(edit_id)
            if rows:
                self.bump_generation()
        return ids

    def update_texts(self, updates: Sequence[tuple[int, str | None, dict[str, Any], str]]) -> None:
        """Refresh (id, instruction, metadata, origin) of unchanged pairs whose manifest text changed."""
        if not updates:
            return
        with self.db.atomic():
            self.conn.executemany(
                "UPDATE edits SET instruction = ?, metadata = ?, origin = ?, updated_at = ? WHERE id = ?",
                [(ins, json.dumps(meta, ensure_ascii=False), origin, now(), i) for i, ins, meta, origin in updates],
            )
            self.set_setting(TEXT_GENERATION, str(int(self.get_setting(TEXT_GENERATION, "0") or 0) + 1))

    def tombstone(self, ids: Sequence[int], reason: str) -> int:
        """Mark live edits deleted with a reason ('vanished', 'removed', 'unreadable'); returns how many."""
        changed = 0
        stamp = now()
        with self.db.atomic():
            for chunk in _chunks(list(ids)):
                marks = ",".join("?" * len(chunk))
                changed += self.conn.execute(
                    f"UPDATE edits SET deleted = 1, deleted_reason = ?, deleted_at = ?, updated_at = ? "
                    f"WHERE deleted = 0 AND id IN ({marks})",
                    [reason, stamp, stamp, *chunk],
                ).rowcount
            if changed:
                self.bump_generation()
        return changed

    def live_ids_for_origin(self, origin: str) -> dict[str, int]:
        """key -> id of the live edits that came from this source."""
        cur = self.conn.execute("SELECT key, id FROM edits WHERE origin = ? AND deleted = 0", [origin])
        return dict(cur.fetchall())

    def get_edit(self, edit_id: int) -> EditRow:
        """One edit by id (live or deleted); raises UnknownEditError."""
        cur = self.conn.execute("SELECT * FROM edits WHERE id = ?", [_id(edit_id)])
        rows = list(_dicts(cur))
        if not rows:
            raise UnknownEditError(f"no edit with id {edit_id} in this index")
        return _decode(rows[0])

    def existing_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of these edit ids exist and are live."""
        found: set[int] = set()
        for chunk in _chunks([i for i in ids if _id(i) == i]):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(f"SELECT id FROM edits WHERE deleted = 0 AND id IN ({marks})", chunk)
            found.update(r[0] for r in cur)
        return found

    # -- learned VISII instructions -------------------------------------------------------------------

    def visii_instruction(self, edit_id: int, pipeline: str, settings: str) -> dict[str, Any] | None:
        """The stored `<ins>` of an edit for a pipeline and settings key (tokens, width, embeddings, ...), or None."""
        cur = self.conn.execute(
            "SELECT tokens, width, embeddings, loss, seconds, created_at FROM visii_instructions "
            "WHERE edit_id = ? AND pipeline = ? AND settings = ?",
            [_id(edit_id), pipeline, settings],
        )
        rows = list(_dicts(cur))
        return rows[0] if rows else None

    def save_visii_instruction(
        self, edit_id: int, pipeline: str, settings: str, shape: tuple[int, int], embeddings: bytes, **stats: Any
    ) -> None:
        """Keep a learned `<ins>` (float32 bytes of `shape`) beside its edit, replacing one with the same key.

        The key (`settings`) says what it was learned from: the settings, the exemplar's pixels, the pipeline's
        weights. Values or a loss that are not finite are refused (DataError): such an instruction is never kept.
        """
        values = array("f", embeddings[: len(embeddings) - len(embeddings) % 4])
        loss = stats.get("loss")
        sized = len(values) * 4 == len(embeddings) == 4 * shape[0] * shape[1]
        if not sized or not all(map(math.isfinite, values)) or (loss is not None and not math.isfinite(loss)):
            raise DataError(f"refusing to keep a VISII instruction for edit {edit_id}: not finite, or not of {shape}")
        with self.db.atomic():
            self.conn.execute(
                "INSERT INTO visii_instructions "
                "(edit_id, pipeline, settings, tokens, width, embeddings, loss, seconds, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(edit_id, pipeline, settings) DO UPDATE SET "
                "tokens = excluded.tokens, width = excluded.width, embeddings = excluded.embeddings, "
                "loss = excluded.loss, seconds = excluded.seconds, created_at = excluded.created_at",
                [_id(edit_id), pipeline, settings, *shape, embeddings, stats.get("loss"), stats.get("seconds"), now()],
            )

    # -- vectors --------------------------------------------------------------------------------------

    def live_vector_ids(self, model: str, any_size: bool = False) -> list[int]:
        """Ids of the vectors of live edits for `model`, ascending: those of the model's size unless `any_size`."""
        cur = self.conn.execute(
            f"SELECT v.id {_LIVE_VECTORS}{'' if any_size else ' AND ' + WELL_SIZED} ORDER BY v.id", [model]
        )
        return [r[0] for r in cur]

    def live_vector_count(self, model: str) -> int:
        """How many of `model`'s vectors of its size belong to live edits (len(live_vector_ids), with no list)."""
        return int(self.conn.execute(f"SELECT count(*) {_LIVE_VECTORS} AND {WELL_SIZED}", [model]).fetchone()[0])

    def vector_blobs(self, vector_ids: Sequence[int]) -> list[tuple[int, bytes]]:
        """(vector id, float32 blob) for these vector ids, ascending by id."""
        out: list[tuple[int, bytes]] = []
        for chunk in _chunks(list(vector_ids)):
            marks = ",".join("?" * len(chunk))
            out.extend(self.conn.execute(f"SELECT id, vector FROM vectors WHERE id IN ({marks})", chunk).fetchall())
        out.sort()
        return out

    def iter_live_vectors(
        self, model: str, chunk: int = 20000, any_size: bool = False
    ) -> Iterator[list[tuple[int, bytes]]]:
        """Chunks of (vector id, blob) of the live vectors of `model` by id: of its size unless `any_size`."""
        sized = "1" if any_size else WELL_SIZED
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT v.id, v.vector FROM vectors v JOIN edits e ON e.id = v.edit_id "
                f"WHERE e.deleted = 0 AND v.model = ? AND {sized} AND v.id > ? ORDER BY v.id LIMIT ?",
                [model, last, chunk],
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def vector_of_edit(self, edit_id: int, model: str) -> bytes:
        """The stored vector of one live edit; raises UnknownEditError."""
        row = self.conn.execute(
            "SELECT v.vector FROM vectors v JOIN edits e ON e.id = v.edit_id "
            "WHERE e.id = ? AND e.deleted = 0 AND v.model = ?",
            [_id(edit_id), model],
        ).fetchone()
        if row is None:
            raise UnknownEditError(f"no live edit with id {edit_id} (and a vector) in this index")
        return row[0]

    def iter_map_vectors(self, model: str, chunk: int = 20000) -> Iterator[list[tuple[int, int, bytes]]]:
        """Chunks of (edit id, vector id, blob) over all live edits with a `model` vector, ascending by edit id."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT e.id, v.id, v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id "
                "WHERE e.deleted = 0 AND v.model = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                [model, last, chunk],
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def vectors_of_edits(self, edit_ids: Sequence[int], model: str) -> list[tuple[int, int, bytes]]:
        """(edit id, vector id, blob) of these live edits' `model` vectors, ascending by edit id."""
        out: list[tuple[int, int, bytes]] = []
        for chunk in _chunks(list(edit_ids)):
            marks = ",".join("?" * len(chunk))
            out.extend(
                self.conn.execute(
                    f"SELECT e.id, v.id, v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id "
                    f"WHERE e.deleted = 0 AND v.model = ? AND e.id IN ({marks})",
                    [model, *chunk],
                ).fetchall()
            )
        out.sort()
        return out

    # -- the edit atlas (derived: editsearch.atlas) ---------------------------------------------------

    def map_points(self) -> list[tuple[int, int, float, float, int, int]]:
        """(edit id, vector id, x, y, cluster, fitted) of each live edit mapped from its current vector, by edit id."""
        return self.conn.execute(
            "SELECT m.edit_id, m.vector_id, m.x, m.y, m.cluster, m.fitted FROM map_points m "
            "JOIN edits e ON e.id = m.edit_id JOIN vectors v ON v.id = m.vector_id AND v.edit_id = m.edit_id "
            "WHERE e.deleted = 0 ORDER BY m.edit_id"
        ).fetchall()

    def map_stamp(self) -> tuple[str | None, int, float]:
        """(the fit's state, number of stored points, sum of their vector ids): it moves whenever the map is written."""
        count, total = self.conn.execute("SELECT count(*), total(vector_id) FROM map_points").fetchone()
        return self.get_setting(MAP_STATE), int(count), float(total)

    def map_rows(self, edit_ids: Sequence[int]) -> dict[int, tuple[str, str, str | None]]:
        """edit id -> (before, after, instruction) for these edits."""
        out: dict[int, tuple[str, str, str | None]] = {}
        for chunk in _chunks(list(edit_ids)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(f"SELECT id, before, after, instruction FROM edits WHERE id IN ({marks})", chunk)
            out.update((r[0], (r[1], r[2], r[3])) for r in cur)
        return out

    def save_map(
        self, points: Sequence[tuple[int, int, float, float, int, int]], state: str | None, *, replace: bool
    ) -> None:
        """Store (edit id, vector id, x, y, cluster, fitted) points (all when `replace`) and the fit's state JSON."""
        with self.db.atomic():
            if replace:
                self.conn.execute("DELETE FROM map_points")
            self.conn.executemany(
                "INSERT OR REPLACE INTO map_points (edit_id, vector_id, x, y, cluster, fitted) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                points,
            )
            self.conn.execute(  # removed edits, and edits embedded anew, leave the map
                "DELETE FROM map_points WHERE edit_id IN (SELECT id FROM edits WHERE deleted = 1) "
                "OR vector_id NOT IN (SELECT id FROM vectors)"
            )
            if state is None:
                self.delete_setting(MAP_STATE)
            else:
                self.set_setting(MAP_STATE, state)

    # -- search support -------------------------------------------------------------------------------

    def filtered_vector_ids(
        self, model: str, where: str | None, contains: str | None, meta: Mapping[str, str] | None = None
    ) -> list[int]:
        """Vector ids of live edits matching a SQL `where` over edits' columns, an FTS `contains` and `meta` facets.

        `where` runs as its own statement under the filter authorizer (see FILTER_TABLES), the length
        limit and `filter_budget_s`; `contains` is a bound parameter, matched in a second statement; each
        `meta` KEY=VALUE (a facet: the metadata value equals VALUE, as text or as a number) is bound too.
        """
        live = "SELECT v.id FROM vectors v JOIN ({}) e ON e.id = v.edit_id WHERE v.model = ?"
        found: set[int] | None = None
        try:
            if where:
                with self._restricted() as timed_out:
                    sql = live.format(f"SELECT id FROM edits WHERE deleted = 0 AND ({where})")
                    found = {r[0] for r in self.conn.execute(sql, [model])}
            if contains:
                fts = "SELECT rowid AS id FROM edits_fts WHERE edits_fts MATCH ?"
                cur = self.conn.execute(live.format(fts), [self.db.quote_fts(contains), model])
                matched = {r[0] for r in cur}
                found = matched if found is None else found & matched
            if meta:
                sql, params = facet_sql(meta)
                matched = {r[0] for r in self.conn.execute(live.format(sql), [*params, model])}
                found = matched if found is None else found & matched
        except sqlite3.Error as e:
            reason = f"it ran longer than {self.filter_budget_s:g} s" if where and timed_out() else self._explain(e)
            raise FilterError(f"bad filter (where={where!r}, contains={contains!r}): {reason}") from None
        if found is None:
            return self.live_vector_ids(model)
        return sorted(found)

    def check_filter(self, where: str | None, contains: str | None, meta: Mapping[str, str] | None = None) -> None:
        """Compile a `where` filter under the filter authorizer without running it, check `meta`'s keys; FilterError."""
        if meta:
            facet_sql(meta)
        if not where:
            return
        try:
            with self._restricted():
                self.conn.execute(f"EXPLAIN SELECT id FROM edits WHERE deleted = 0 AND ({where})")
        except sqlite3.Error as e:
            raise FilterError(f"bad filter (where={where!r}, contains={contains!r}): {self._explain(e)}") from None

    def _explain(self, error: sqlite3.Error) -> str:
        """A filter's SQLite error; for an unknown column, with the columns and metadata keys there are."""
        if "no such column" not in str(error):
            return str(error)
        keys = ", ".join(self.metadata_keys()) or "none"
        return (
            f"{error}; columns: {', '.join(self.edit_columns())}; "
            f"metadata keys (use json_extract(metadata, '$.KEY')): {keys}"
        )

    def edit_columns(self) -> list[str]:
        """The columns of the edits table, which a `where` filter may use."""
        return [row[1] for row in self.conn.execute("PRAGMA table_info(edits)")]

    def metadata_keys(self, sample: int = 10_000, limit: int = FACET_KEYS) -> list[str]:
        """The metadata keys of the first `sample` live edits, sorted (at most `limit`)."""
        cur = self.conn.execute(
            "SELECT DISTINCT j.key FROM (SELECT metadata FROM edits WHERE deleted = 0 AND json_valid(metadata) "
            "LIMIT ?) e, json_each(e.metadata) j WHERE j.key IS NOT NULL ORDER BY 1 LIMIT ?",
            [sample, limit],
        )
        return [row[0] for row in cur]

    def facets(self, keys: int = FACET_KEYS, values: int = FACET_VALUES) -> dict[str, list[dict[str, Any]]]:
        """The most common scalar values of each metadata key of the live edits: {key: [{"value", "count"}]}.

        At most `keys` keys (the most used first) and `values` values each (the most common first), in one
        scan of the catalog.
        """
        cur = self.conn.execute(FACETS_SQL, [keys, values])
        out: dict[str, list[dict[str, Any]]] = {}
        for key, value, count in cur:
            out.setdefault(key, []).append({"value": value, "count": count})
        return out

    def damaged_vectors(self) -> list[tuple[int, int]]:
        """(vector id, edit id) of the vector rows whose blob no longer matches its CRC-32."""
        return self.conn.execute(
            "SELECT id, edit_id FROM vectors WHERE crc IS NOT NULL AND crc != crc32(vector) ORDER BY id"
        ).fetchall()

    def damaged_instruction_vectors(self) -> list[tuple[int, str]]:
        """(id, instruction) of the instruction-vector rows whose blob no longer matches its CRC-32."""
        return self.conn.execute(
            "SELECT id, instruction FROM instruction_vectors WHERE crc IS NOT NULL AND crc != crc32(vector) ORDER BY id"
        ).fetchall()

    @contextmanager
    def _restricted(self) -> Iterator[Callable[[], bool]]:
        """Run a filter under the filter authorizer, the length limit and the time budget; yields 'timed out?'."""
        conn = self.conn
        deadline = None if self.filter_budget_s is None else time.monotonic() + self.filter_budget_s
        expired = False

        def over_budget() -> int:
            nonlocal expired
            expired = deadline is not None and time.monotonic() > deadline
            return int(expired)

        length = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, FILTER_MAX_LENGTH)
        pattern = conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, FILTER_MAX_PATTERN)
        conn.set_authorizer(_filter_authorizer)
        conn.set_progress_handler(over_budget, _PROGRESS_STEPS)
        try:
            yield lambda: expired
        finally:
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, pattern)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length)

    def rows_for_vectors(self, vector_ids: Sequence[int]) -> dict[int, EditRow]:
        """vector id -> live edit row, for those of these vector ids that belong to live edits."""
        out: dict[int, EditRow] = {}
        for chunk in _chunks(list(vector_ids)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(  # SQLite would read each vectors row by rowid: the index spares the vectors
                f"SELECT v.id AS vector_id, e.* FROM vectors v INDEXED BY idx_vectors_edit "
                f"JOIN edits e ON e.id = v.edit_id WHERE e.deleted = 0 AND v.id IN ({marks})",
                chunk,
            )
            for row in _dicts(cur):
                out[row.pop("vector_id")] = _decode(row)
        return out

    # -- pair signatures ------------------------------------------------------------------------------

    def save_signatures(self, rows: Iterable[tuple[int, tuple[str, str], bytes]]) -> None:
        """Store (edit id, (before hash, after hash) it was computed from, signature blob), replacing older ones."""
        stamp = now()
        with self.db.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO pair_signatures (edit_id, before_hash, after_hash, signature, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(i, bh, ah, blob, stamp) for i, (bh, ah), blob in rows],
            )

    def signatures(self, edit_ids: Sequence[int]) -> dict[int, bytes]:
        """edit id -> signature blob, for those of these edits whose signature matches their current files."""
        out: dict[int, bytes] = {}
        for chunk in _chunks(list(edit_ids)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT s.edit_id, s.signature FROM pair_signatures s JOIN edits e ON e.id = s.edit_id "
                f"WHERE s.before_hash = e.before_hash AND s.after_hash = e.after_hash AND s.edit_id IN ({marks})",
                chunk,
            )
            out.update(cur.fetchall())
        return out

    # -- errors and counts ----------------------------------------------------------------------------

    def replace_errors(self, errors: Sequence[tuple[str, str, str]]) -> None:
        """Forget the previous build's errors and record (origin, item, reason) for this one."""
        with self.db.atomic():
            self.conn.execute("DELETE FROM errors")
            self.add_errors(errors)

    def add_errors(self, errors: Sequence[tuple[str, str, str]]) -> None:
        """Append (origin, item, reason) rows to `errors`."""
        stamp = now()
        self.conn.executemany(
            "INSERT INTO errors (origin, item, reason, created_at) VALUES (?, ?, ?, ?)",
            [(o, i, r, stamp) for o, i, r in errors],
        )

    def counts(self, model: str | None, live_vectors: int | None = None) -> dict[str, Any]:
        """Live edits, live vectors for `model` (counted unless given), deleted edits, errors, live edits per source
        kind and the origins of live edits; the edits are counted in one pass over an index."""
        one = self.conn.execute
        groups = one("SELECT deleted, source, origin, count(*) FROM edits GROUP BY source, origin, deleted").fetchall()
        by_source: dict[str, int] = {}
        for deleted, source, _, n in groups:
            if not deleted:
                by_source[source] = by_source.get(source, 0) + n
        if live_vectors is None:
            live_vectors = one(f"SELECT count(*) {_LIVE_VECTORS}", [model or ""]).fetchone()[0]
        return {
            "edits": sum(by_source.values()),
            "vectors": live_vectors,
            "deleted": sum(n for deleted, *_, n in groups if deleted),
            "errors": one("SELECT count(*) FROM errors").fetchone()[0],
            "sources": by_source,
            "origins": sorted({origin for deleted, _, origin, _ in groups if not deleted}),
        }


def _filter_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """SQLite authorizer of filters: SELECT, reads of the search tables, and the functions not denied."""
    if action == sqlite3.SQLITE_SELECT:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ and arg1 in FILTER_TABLES:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in FILTER_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def too_new(version: int, path: Path | None) -> SchemaVersionError:
    """The error for a catalog written by a newer editsearch."""
    return SchemaVersionError(
        f"this catalog has schema version {version}, but this editsearch supports up to "
        f"{SCHEMA_VERSION}; please upgrade editsearch to open it ({path})"
    )


def vector_crc(blob: bytes | None) -> int | None:
    """CRC-32 of a vector blob (as the `crc` column keeps it)."""
    return None if blob is None else zlib.crc32(blob)


def _hold(path: Path) -> str:
    """Count one more connection to the catalog file at `path`, checking its header if it is the first."""
    key = str(path.resolve())
    with _OPEN_LOCK:
        if not _OPEN.get(key):
            check_header(path)
        _OPEN[key] = _OPEN.get(key, 0) + 1
    return key


def _release(key: str) -> None:
    """One connection fewer to the catalog file `key`."""
    with _OPEN_LOCK:
        _OPEN[key] -= 1
        if not _OPEN[key]:
            del _OPEN[key]


def check_header(path: Path) -> None:
    """Refuse (CatalogCorruptError) a file that is not an SQLite database or is shorter than its header says."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return  # a new catalog
    if not header:
        return  # an empty file: SQLite makes a new database of it
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise CatalogCorruptError(damaged(path, "not an SQLite database (bad header)"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]  # the page count is valid only when these agree
    if header_valid and pages and _size(path) < pages * page_size:
        raise CatalogCorruptError(damaged(path, f"truncated: {_size(path)} bytes, its header says {pages * page_size}"))


def damaged(path: Path | None, what: str) -> str:
    """The one-line message of a damaged catalog: what is wrong and what to do."""
    what = " ".join(what.replace("*** in database main ***", "").split())  # SQLite's reports span lines
    return (
        f"the index catalog {path} is damaged ({what}); restore it from a backup, or rebuild the index from "
        "its sources (`editsearch build-index SOURCE... --index NEW_DIR`); `editsearch verify` says more"
    )


@contextmanager
def corruption_as_error(path: Path | None) -> Iterator[None]:
    """SQLite's corruption errors ('database disk image is malformed', ...) raised as CatalogCorruptError."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF in _CORRUPT_CODES or "malformed" in str(e):
            raise CatalogCorruptError(damaged(path, str(e))) from None
        raise


def _id(value: Any) -> int:
    """`value` as an SQLite row id, or 0 (an id no row has) when it is not an integer in SQLite's range."""
    if isinstance(value, bool):
        return 0
    try:
        value = operator.index(value)
    except TypeError:
        return 0
    return value if 0 < value <= MAX_ID else 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dicts(cur: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """Rows of a cursor as dicts keyed by column name."""
    cols = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(cols, row, strict=True))


def _decode(row: dict[str, Any]) -> EditRow:
    """An edits row with its metadata JSON decoded."""
    row["metadata"] = json.loads(row.get("metadata") or "{}")
    return row  # type: ignore[return-value]
