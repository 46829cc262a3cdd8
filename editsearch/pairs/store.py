"""The pair signatures' table in the index catalog (pair_signatures), kept through its own migration set.

A build writes each pair's signature beside its edit (editsearch.index.build); the audit reads those whose before and
after hashes still match the edit's files. The table is made by the PAIRS migration set before the first write; a
catalog that has none yet (never written, or opened read-only) reads as holding no signature.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from editsearch.core.migrations import MigrationSet, apply, has_table, transaction

TABLE = "pair_signatures"
CHUNK = 5000  # edit ids per IN (...) query, well under SQLite's variable limit


def _create(conn: sqlite3.Connection) -> None:
    """Pair signatures: small image fingerprints of each pair (see editsearch.pairs.signatures), by edit."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS pair_signatures (
            edit_id INTEGER PRIMARY KEY REFERENCES edits(id) ON DELETE CASCADE,
            before_hash TEXT NOT NULL,
            after_hash TEXT NOT NULL,
            signature BLOB NOT NULL,
            created_at TEXT NOT NULL)"""
    )


PAIRS = MigrationSet("pairs", (_create,))


def save_signatures(conn: sqlite3.Connection, rows: Iterable[tuple[int, tuple[str, str], bytes]]) -> None:
    """Store (edit id, (before hash, after hash) it was computed from, signature blob), replacing older ones.

    `conn` is a writable catalog connection (the build's, under the writer lock)."""
    apply(conn, PAIRS)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO pair_signatures (edit_id, before_hash, after_hash, signature, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(i, bh, ah, blob, stamp) for i, (bh, ah), blob in rows],
        )


def signatures(conn: sqlite3.Connection, edit_ids: Sequence[int]) -> dict[int, bytes]:
    """edit id -> signature blob, for those of these edits whose signature matches their current files."""
    out: dict[int, bytes] = {}
    if not has_table(conn, TABLE):
        return out
    ids = list(edit_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        cur = conn.execute(
            f"SELECT s.edit_id, s.signature FROM pair_signatures s JOIN edits e ON e.id = s.edit_id "
            f"WHERE s.before_hash = e.before_hash AND s.after_hash = e.after_hash AND s.edit_id IN ({marks})",
            chunk,
        )
        out.update(cur.fetchall())
    return out
