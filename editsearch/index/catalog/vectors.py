"""The catalog's `vectors` table: one float32 blob (and its CRC-32) per edit and model, never changed once written."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from editsearch.index.catalog.rows import chunks, keyset_pages, now, row_id, vector_crc
from editsearch.index.catalog.settings import SettingsTables
from editsearch.index.errors import UnknownEditError

# A stored vector that FAISS can hold: as many float32 values as its model's dimension. A blob of another size
# (written by hand, or by an old version from a bad shard) is left out of the cache, and `verify` names it.
WELL_SIZED = "length(v.vector) = 4 * (SELECT m.dim FROM models m WHERE m.fingerprint = v.model)"
LIVE_VECTORS = "FROM vectors v JOIN edits e ON e.id = v.edit_id WHERE e.deleted = 0 AND v.model = ?"


class VectorTables(SettingsTables):
    """Reads of the stored pair vectors, and the checksums of pair and instruction vectors."""

    def live_vector_ids(self, model: str, any_size: bool = False) -> list[int]:
        """Ids of the vectors of live edits for `model`, ascending: those of the model's size unless `any_size`."""
        cur = self.conn.execute(
            f"SELECT v.id {LIVE_VECTORS}{'' if any_size else ' AND ' + WELL_SIZED} ORDER BY v.id", [model]
        )
        return [r[0] for r in cur]

    def live_vector_count(self, model: str) -> int:
        """How many of `model`'s vectors of its size belong to live edits (len(live_vector_ids), with no list)."""
        return int(self.conn.execute(f"SELECT count(*) {LIVE_VECTORS} AND {WELL_SIZED}", [model]).fetchone()[0])

    def vector_blobs(self, vector_ids: Sequence[int]) -> list[tuple[int, bytes]]:
        """(vector id, float32 blob) for these vector ids, ascending by id."""
        out: list[tuple[int, bytes]] = []
        for chunk in chunks(list(vector_ids)):
            marks = ",".join("?" * len(chunk))
            out.extend(self.conn.execute(f"SELECT id, vector FROM vectors WHERE id IN ({marks})", chunk).fetchall())
        out.sort()
        return out

    def iter_live_vectors(
        self, model: str, chunk: int = 20000, any_size: bool = False
    ) -> Iterator[list[tuple[int, bytes]]]:
        """Chunks of (vector id, blob) of the live vectors of `model` by id: of its size unless `any_size`."""
        sized = "1" if any_size else WELL_SIZED
        yield from keyset_pages(
            self.conn,
            "SELECT v.id, v.vector FROM vectors v JOIN edits e ON e.id = v.edit_id "
            f"WHERE e.deleted = 0 AND v.model = ? AND {sized} AND v.id > ? ORDER BY v.id LIMIT ?",
            [model],
            chunk,
        )

    def vector_of_edit(self, edit_id: int, model: str) -> bytes:
        """The stored vector of one live edit; raises UnknownEditError."""
        row = self.conn.execute(
            "SELECT v.vector FROM vectors v JOIN edits e ON e.id = v.edit_id "
            "WHERE e.id = ? AND e.deleted = 0 AND v.model = ?",
            [row_id(edit_id), model],
        ).fetchone()
        if row is None:
            raise UnknownEditError(f"no live edit with id {edit_id} (and a vector) in this index")
        return row[0]

    def iter_map_vectors(self, model: str, chunk: int = 20000) -> Iterator[list[tuple[int, int, bytes]]]:
        """Chunks of (edit id, vector id, blob) over all live edits with a `model` vector, ascending by edit id."""
        yield from keyset_pages(
            self.conn,
            "SELECT e.id, v.id, v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id "
            "WHERE e.deleted = 0 AND v.model = ? AND e.id > ? ORDER BY e.id LIMIT ?",
            [model],
            chunk,
        )

    def vectors_of_edits(self, edit_ids: Sequence[int], model: str) -> list[tuple[int, int, bytes]]:
        """(edit id, vector id, blob) of these live edits' `model` vectors, ascending by edit id."""
        out: list[tuple[int, int, bytes]] = []
        for chunk in chunks(list(edit_ids)):
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

    def save_vectors(self, vectors: Sequence[tuple[int, bytes]], model: str) -> None:
        """Store (edit id, blob) as each edit's fresh `model` vector row, in one transaction.

        For a model the index is not bound to (yet): the live vectors do not change, so the generation stays.
        """
        stamp = now()
        with self.db.atomic():
            for edit_id, vector in vectors:
                self.put_vector(edit_id, model, vector, stamp, every_model=False)

    def put_vector(self, edit_id: int, model: str, vector: bytes, stamp: str, every_model: bool) -> None:
        """Make `vector` the edit's one `model` vector row (in the caller's transaction), dropping its older row of
        that model, or of every model with `every_model` (a re-saved edit may be of other pixels)."""
        if every_model:
            self.conn.execute("DELETE FROM vectors WHERE edit_id = ?", [edit_id])
        else:
            self.conn.execute("DELETE FROM vectors WHERE edit_id = ? AND model = ?", [edit_id, model])
        self.conn.execute(
            "INSERT INTO vectors (edit_id, model, vector, crc, created_at) VALUES (?, ?, ?, ?, ?)",
            [edit_id, model, vector, vector_crc(vector), stamp],
        )

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
