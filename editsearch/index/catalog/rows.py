"""Small helpers for reading and writing catalog rows: timestamps, id chunks, row ids, dict rows, vector CRCs."""

from __future__ import annotations

import operator
import sqlite3
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

CHUNK = 5000  # ids per IN (...) query, well under SQLite's variable limit
MAX_ID = 2**63 - 1  # SQLite's integer range: an id outside it names no row


def now() -> str:
    """The current UTC time as an ISO-8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def keyset_pages(
    conn: sqlite3.Connection, sql: str, params: list[Any], chunk: int, after: int = -1
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `sql` a page at a time, keyed by their first column: `sql` takes `params`, then the last key
    seen (first `after`), then the page size, and orders by that key (keyset paging: each page one index seek)."""
    while rows := conn.execute(sql, [*params, after, chunk]).fetchall():
        yield rows
        after = rows[-1][0]


def dicts(cur: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """Rows of a cursor as dicts keyed by column name."""
    cols = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(cols, row, strict=True))


def row_id(value: Any) -> int:
    """`value` as an SQLite row id, or 0 (an id no row has) when it is not an integer in SQLite's range."""
    if isinstance(value, bool):
        return 0
    try:
        value = operator.index(value)
    except TypeError:
        return 0
    return value if 0 < value <= MAX_ID else 0


def vector_crc(blob: bytes | None) -> int | None:
    """CRC-32 of a vector blob (as the `crc` column keeps it)."""
    return None if blob is None else zlib.crc32(blob)
