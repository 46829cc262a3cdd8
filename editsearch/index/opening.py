"""Opening an index directory: its writer lock, and its catalog (read-only for a reader, upgraded once if older)."""

from __future__ import annotations

import os
from pathlib import Path

from editsearch.index.catalog import CATALOG_FILE, SCHEMA_VERSION, Catalog, corruption_as_error, too_new
from editsearch.index.errors import IndexNotFoundError, SchemaVersionError
from editsearch.index.instruction_index import INSTRUCTION_CACHE
from editsearch.index.lock import WriterLock

DEFAULT_INDEX_DIR = ".editsearch"
NEW_INDEX_TYPE = "auto"  # what a new index asks for: exact below 100k edits, then self-tuned PQ, then IVF-PQ


def default_index_dir() -> Path:
    """$EDITSEARCH_INDEX, else ./.editsearch."""
    return Path(os.environ.get("EDITSEARCH_INDEX") or DEFAULT_INDEX_DIR)


def open_directory(directory: Path, *, create: bool, writable: bool, lock_timeout: float) -> tuple[Catalog, WriterLock]:
    """The catalog and the writer lock (held when `create` or `writable`) of the index in `directory`."""
    fresh = not (directory / CATALOG_FILE).exists()
    if fresh:
        if not create:
            raise IndexNotFoundError(
                f"no index at {directory} (build one with `editsearch build-index SOURCE --index {directory}`)"
            )
        directory.mkdir(parents=True, exist_ok=True)
    lock = WriterLock(directory)
    if create or writable:
        lock.acquire(lock_timeout)
        for stale in [*directory.glob(".vectors.*.tmp"), *directory.glob(f".{INSTRUCTION_CACHE}.*.tmp")]:
            stale.unlink(missing_ok=True)
    try:
        catalog = Catalog.open(directory / CATALOG_FILE) if lock.held else _open_reader(directory, lock_timeout)
    except BaseException:
        lock.release()
        raise
    if fresh and catalog.get_setting("index_type", None) is None:
        catalog.set_setting("index_type", NEW_INDEX_TYPE)
    return catalog, lock


def _open_reader(directory: Path, lock_timeout: float) -> Catalog:
    """The catalog opened read-only; one of an older schema is upgraded first, under the writer lock."""
    path = directory / CATALOG_FILE
    catalog = Catalog.open(path, readonly=True)
    try:
        with corruption_as_error(path):
            version = catalog.schema_version
    except BaseException:
        catalog.close()
        raise
    if version == SCHEMA_VERSION:
        return catalog
    catalog.close()
    if version > SCHEMA_VERSION:
        raise too_new(version, SCHEMA_VERSION, path)
    if not os.access(directory, os.W_OK):
        raise SchemaVersionError(
            f"the catalog at {path} has schema version {version}, older than this editsearch's {SCHEMA_VERSION}, "
            "and its folder is read-only; upgrade a writable copy once (`editsearch rebuild --index COPY`)"
        )
    lock = WriterLock(directory)
    lock.acquire(lock_timeout)
    try:
        Catalog.open(path).close()  # migrates
    finally:
        lock.release()
    return Catalog.open(path, readonly=True)
