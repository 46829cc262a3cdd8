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

from editsearch.core.errors import SchemaVersionError
from editsearch.index.catalog import CATALOG_FILE, TEXT_GENERATION, Catalog
from editsearch.index.errors import EditIndexError
from editsearch.index.legibility import sample_legibility
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
    except (EditIndexError, SchemaVersionError, OSError, sqlite3.Error):
        return False
    finally:
        lock.release()


class Records:
    """The statistics record of an index's current state (the one this object computed, else the stored one), and the
    legibility read from it or measured here."""

    def __init__(self, directory: Path, catalog: Catalog, lock: WriterLock):
        self.directory = directory
        self.catalog = catalog
        self.lock = lock
        self.computed: dict[str, Any] | None = None  # the statistics record computed by this object, if any
        self.measured: tuple[list[int], float | None] | None = None  # (statistics stamp, legibility)

    def current(self) -> dict[str, Any] | None:
        """The record of the catalog's current state; None when neither is current. Shared: do not change it."""
        now = state_stamp(self.catalog)
        for record in (self.computed, read_record(self.catalog)):
            if record is not None and record.get("stamp") == now:
                return record
        return None

    def keep(self, record: dict[str, Any]) -> bool:
        """Keep a record (its `stamp` taken before it was computed): stored in the catalog by the writer, or by a
        reader when the folder is writable and no writer holds it (never waiting), and kept in memory in any case.
        True: stored."""
        self.computed = record
        if self.lock.held:
            return write_record(self.catalog, record)
        return publish_record(self.directory, record)

    def legibility(self) -> float | None:
        """How well the pair vectors read their own instructions (0.5 chance, 1 all); None without two to compare.

        Measured on a sample of the catalog (editsearch.index.legibility) once per state of the catalog: read from
        its statistics record when there is one, else measured here and kept in memory.
        """
        record = self.current()
        if record is not None and "legibility" in record:
            return record["legibility"]
        now = state_stamp(self.catalog)
        if self.measured is None or self.measured[0] != now:
            info = self.catalog.model()
            value = None if info is None else sample_legibility(self.catalog, info["fingerprint"], info["dim"])
            self.measured = (now, value)
        return self.measured[1]
