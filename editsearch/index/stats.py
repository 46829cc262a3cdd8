"""What `stats` reports of an index: counts from the catalog, settings, and what the FAISS sidecars say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from editsearch.index.cache import Caches
from editsearch.index.catalog import CATALOG_FILE, SCHEMA_VERSION
from editsearch.index.instruction_index import INSTRUCTION_CACHE
from editsearch.index.sidecar import PAIR_CACHE, VectorMeta, cache_problem
from editsearch.index.types import NO_REMOVE
from editsearch.index.vectors import FAISS_FILE


def stats(caches: Caches) -> dict[str, Any]:
    """Counts and settings: edits, vectors, model, index type, tombstones, errors, sizes."""
    info = caches.model_info
    meta = _read_meta(caches.directory)
    try:
        sidecar = VectorMeta(**meta) if meta else None
        intact = sidecar is not None and cache_problem(caches.directory, sidecar, full=False) is None
    except (OSError, TypeError):
        sidecar, intact = None, False
    current = intact and sidecar is not None and sidecar.generation == caches.catalog.generation
    live = sidecar.recorded_live() if current and info and sidecar.model == info["fingerprint"] else None
    counts = caches.catalog.counts(info["fingerprint"] if info else None, live)
    return {
        "edits": counts["edits"],
        "vectors": counts["vectors"],
        "model": info["name"] if info else None,
        "fingerprint": info["fingerprint"] if info else None,
        "dim": info["dim"] if info else None,
        "trained": bool(info["trained"]) if info else None,
        "index_type": caches.index_type,
        "faiss_type": meta.get("kind"),
        "faiss_vectors": meta.get("ntotal", 0),
        "faiss_in_sync": current,
        "tombstones": max(0, meta.get("ntotal", 0) - counts["vectors"]) if meta.get("kind") in NO_REMOVE else 0,
        "deleted": counts["deleted"],
        "errors": counts["errors"],
        "sources": counts["sources"],
        "origins": counts["origins"],
        "schema_version": SCHEMA_VERSION,
        "path": str(caches.directory.resolve()),
        "catalog_bytes": _size(caches.directory / CATALOG_FILE) + _size(caches.directory / f"{CATALOG_FILE}-wal"),
        "faiss_bytes": _size(caches.directory / FAISS_FILE),
        "target_recall": caches.target_recall,
        "faiss_tuning": meta.get("tuning"),
        **_instruction_stats(caches.directory),
    }


def _read_meta(directory: Path, name: str = PAIR_CACHE) -> dict[str, Any]:
    """The sidecar as a dict; {} when it is absent or not a JSON object."""
    try:
        meta = json.loads((directory / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _instruction_stats(directory: Path) -> dict[str, Any]:
    """What the instruction FAISS cache's sidecar says: type, vectors, tuning, file size."""
    meta = _read_meta(directory, INSTRUCTION_CACHE)
    return {
        "instruction_faiss_type": meta.get("kind"),
        "instruction_faiss_vectors": meta.get("ntotal", 0),
        "instruction_faiss_tuning": meta.get("tuning"),
        "instruction_faiss_bytes": _size(directory / f"{INSTRUCTION_CACHE}.faiss"),
    }


def _size(path: Path) -> int:
    """The file's size in bytes; 0 when it is absent."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
