"""Statistics of one state of the catalog, kept in its settings: computed once, then read back by every query.

A record is a JSON object under the settings key STATISTICS. Its `stamp` names the state it describes: the
catalog's generation (live vectors), its text generation (instructions of unchanged pairs re-worded) and the largest
instruction-vector id (a build embeds its new instructions after its pairs, with no generation of its own). A record
whose stamp is not the catalog's is stale and ignored. What else it holds is its callers' business (the legibility,
the weak-match references of editsearch.search.weak_match). The writer stores a record; a reader stores one only in a
writable folder that no writer holds at that moment (it never waits), and otherwise keeps it in memory.
"""

from __future__ import annotations

import json
import os
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any

from editsearch.index.catalog import CATALOG_FILE, TEXT_GENERATION, Catalog
from editsearch.index.errors import EditIndexError
from editsearch.index.lock import WriterLock

STATISTICS = "statistics"  # settings key of the record


def state_stamp(catalog: Catalog) -> list[int]:
    """The catalog's state as a record's `stamp` names it: [generation, text generation, largest instruction id]."""
    last = catalog.conn.execute("SELECT coalesce(max(id), 0) FROM instruction_vectors").fetchone()[0]
    return [catalog.generation, int(catalog.get_setting(TEXT_GENERATION, "0") or 0), int(last)]


def read_record(catalog: Catalog) -> dict[str, Any] | None:
    """The stored record, whatever its stamp (None: none, or not a JSON object). Shared: do not change it."""
    raw = catalog.get_setting(STATISTICS)
    return None if raw is None else _parse(raw)


@lru_cache(maxsize=8)
def _parse(raw: str) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def write_record(catalog: Catalog, record: dict[str, Any]) -> bool:
    """Store the record through a writable connection if its stamp is still the catalog's; True if stored."""
    if record.get("stamp") != state_stamp(catalog):
        return False  # the catalog moved on while it was computed
    catalog.set_setting(STATISTICS, json.dumps(record, sort_keys=True))
    return True


def publish_record(directory: Path, record: dict[str, Any]) -> bool:
    """A reader's store: only in a writable folder whose writer lock is free (taken for the write, never waited for)."""
    if not (os.access(directory, os.W_OK) and os.access(directory / CATALOG_FILE, os.W_OK)):
        return False
    lock = WriterLock(directory)
    try:
        lock.acquire(0)
    except (EditIndexError, OSError):
        return False
    try:
        catalog = Catalog.open(directory / CATALOG_FILE)
        try:
            return write_record(catalog, record)
        finally:
            catalog.close()
    except (EditIndexError, OSError, sqlite3.Error):
        return False
    finally:
        lock.release()
