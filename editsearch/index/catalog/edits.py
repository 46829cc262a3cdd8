"""The catalog's `edits` table (one row per pair, tombstoned rather than deleted) and its `errors` table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict

from editsearch.core.errors import UsageError
from editsearch.index.catalog.rows import chunks, dicts, now, row_id
from editsearch.index.catalog.settings import TEXT_GENERATION
from editsearch.index.catalog.vectors import LIVE_VECTORS, VectorTables
from editsearch.index.errors import UnknownEditError

# The live edits with no vector of a model (the one parameter), for `rebuild --model`.
LACKING = (
    "FROM edits e WHERE e.deleted = 0 AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.edit_id = e.id AND v.model = ?)"
)
VECTOR_ID = "vector_id"  # the one column `live_edit_rows` reads beside the edits table's: the edit's vector id


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


class EditTables(VectorTables):
    """Writes and reads of the edits (with their vectors), the build's errors, and the counts `stats` reports."""

    def rows_by_keys(self, keys: Sequence[str], model: str) -> dict[str, dict[str, Any]]:
        """Existing rows for these pair keys (metadata decoded), each with `vector_id` (None: no `model` vector)."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT e.*, v.id AS vector_id FROM edits e "
                f"LEFT JOIN vectors v ON v.edit_id = e.id AND v.model = ? WHERE e.key IN ({marks})",
                [model, *chunk],
            )
            for row in dicts(cur):
                out[row["key"]] = decode(row)
        return out

    def save_edits(self, rows: Sequence[dict[str, Any]], vectors: Sequence[bytes], model: str) -> list[int]:
        """Insert or update edits by key, live again, each with a fresh vector row; one transaction.

        Another model's vector of a saved edit goes too: it may be of other pixels (`rebuild --model` makes it anew).
        """
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
                self.put_vector(edit_id, model, vector, stamp, every_model=True)
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
            for chunk in chunks(list(ids)):
                marks = ",".join("?" * len(chunk))
                changed += self.conn.execute(
                    f"UPDATE edits SET deleted = 1, deleted_reason = ?, deleted_at = ?, updated_at = ? "
                    f"WHERE deleted = 0 AND id IN ({marks})",
                    [reason, stamp, stamp, *chunk],
                ).rowcount
            if changed:
                self.bump_generation()
        return changed

    def live_edits_lacking(self, model: str, after: int = 0, limit: int = -1) -> list[EditRow]:
        """The live edits with no `model` vector and an id past `after`, by id, at most `limit` (-1: all; metadata
        decoded)."""
        cur = self.conn.execute(
            f"SELECT e.* {LACKING} AND e.id > ? ORDER BY e.id LIMIT ?",
            [model, after, limit],
        )
        return [decode(row) for row in dicts(cur)]

    def live_edits_lacking_count(self, model: str) -> int:
        """How many live edits have no `model` vector."""
        return int(self.conn.execute(f"SELECT count(*) {LACKING}", [model]).fetchone()[0])

    def switch_model(self, fingerprint: str, unreadable: Sequence[int], errors: Sequence[tuple[str, str, str]]) -> None:
        """Bind the index to the registered model `fingerprint`, in one transaction: tombstone the `unreadable` edits it
        has no vector of, record their (origin, item, reason) errors, move the generation, and drop every other
        model's pair and instruction vectors."""
        with self.db.atomic():
            self.tombstone(unreadable, "unreadable")
            self.add_errors(errors)
            self.set_setting("model", fingerprint)
            self.bump_generation()
            self.conn.execute("DELETE FROM vectors WHERE model != ?", [fingerprint])
            self.conn.execute("DELETE FROM instruction_vectors WHERE model != ?", [fingerprint])

    def live_ids_for_origin(self, origin: str) -> dict[str, int]:
        """key -> id of the live edits that came from this source."""
        cur = self.conn.execute("SELECT key, id FROM edits WHERE origin = ? AND deleted = 0", [origin])
        return dict(cur.fetchall())

    def get_edit(self, edit_id: int) -> EditRow:
        """One edit by id (live or deleted); raises UnknownEditError."""
        cur = self.conn.execute("SELECT * FROM edits WHERE id = ?", [row_id(edit_id)])
        rows = list(dicts(cur))
        if not rows:
            raise UnknownEditError(f"no edit with id {edit_id} in this index")
        return decode(rows[0])

    def existing_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of these edit ids exist and are live."""
        found: set[int] = set()
        for chunk in chunks([i for i in ids if row_id(i) == i]):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(f"SELECT id FROM edits WHERE deleted = 0 AND id IN ({marks})", chunk)
            found.update(r[0] for r in cur)
        return found

    def rows_for_vectors(self, vector_ids: Sequence[int]) -> dict[int, EditRow]:
        """vector id -> live edit row, for those of these vector ids that belong to live edits."""
        out: dict[int, EditRow] = {}
        for chunk in chunks(list(vector_ids)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(  # SQLite would read each vectors row by rowid: the index spares the vectors
                f"SELECT v.id AS vector_id, e.* FROM vectors v INDEXED BY idx_vectors_edit "
                f"JOIN edits e ON e.id = v.edit_id WHERE e.deleted = 0 AND v.id IN ({marks})",
                chunk,
            )
            for row in dicts(cur):
                out[row.pop("vector_id")] = decode(row)
        return out

    def edit_columns(self) -> list[str]:
        """The columns of the edits table, which a `where` filter may use."""
        return [row[1] for row in self.conn.execute("PRAGMA table_info(edits)")]

    def live_edit_rows(self, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """These columns of every live edit with a vector of the bound model, by edit id: names of the edits table's
        columns, or VECTOR_ID (the vector's id); UsageError for any other name."""
        unknown = [c for c in columns if c != VECTOR_ID and c not in self.edit_columns()]
        if unknown or not columns:
            raise UsageError(f"not columns of the edits table: {unknown or 'none named'}")
        model = self.get_setting("model")
        if model is None:
            return []
        named = ", ".join("v.id" if c == VECTOR_ID else f'e."{c}"' for c in columns)
        return self.conn.execute(
            f"SELECT {named} FROM edits e JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
            "WHERE e.deleted = 0 ORDER BY e.id",
            [model],
        ).fetchall()

    def pair_files(self, edit_ids: Sequence[int]) -> dict[int, tuple[str, str, str | None]]:
        """edit id -> (before, after, instruction) for these edits."""
        out: dict[int, tuple[str, str, str | None]] = {}
        for chunk in chunks(list(edit_ids)):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(f"SELECT id, before, after, instruction FROM edits WHERE id IN ({marks})", chunk)
            out.update((r[0], (r[1], r[2], r[3])) for r in cur)
        return out

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

    def live_edit_count(self) -> int:
        """How many edits are live (a pass over the edits table's index: it reads every page of that index)."""
        return self.conn.execute("SELECT count(*) FROM edits WHERE deleted = 0").fetchone()[0]

    def identity(self) -> tuple[str | None, tuple[Any, ...] | None]:
        """(when the catalog was created, the first edit's id, key and creation time, None while it has none)."""
        created = self.conn.execute("SELECT applied_at FROM schema_version WHERE version = 1").fetchone()
        first = self.conn.execute("SELECT id, key, created_at FROM edits ORDER BY id LIMIT 1").fetchone()
        return (None if created is None else str(created[0])), (None if first is None else tuple(first))

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
            live_vectors = one(f"SELECT count(*) {LIVE_VECTORS}", [model or ""]).fetchone()[0]
        return {
            "edits": sum(by_source.values()),
            "vectors": live_vectors,
            "deleted": sum(n for deleted, *_, n in groups if deleted),
            "errors": one("SELECT count(*) FROM errors").fetchone()[0],
            "sources": by_source,
            "origins": sorted({origin for deleted, _, origin, _ in groups if not deleted}),
        }


def decode(row: dict[str, Any]) -> EditRow:
    """An edits row with its metadata JSON decoded."""
    row["metadata"] = json.loads(row.get("metadata") or "{}")
    return row  # type: ignore[return-value]
