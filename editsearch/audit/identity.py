"""Which index an audit was taken of: its identity, generation and model, recorded in the summary and checked by serve.

An index's identity is the time its catalog was created (its first schema migration) and a digest of its first
edit (id, key, creation time): neither changes with later builds or removals, a copied or moved index keeps
them, and another index (or one deleted and built again) has others. An audit's edit ids only name the same
edits in an index of the same identity; one taken at an older generation of it is stale.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import DataError

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex


class AuditFolderError(DataError):
    """An audit folder that cannot be served or read back: absent, incomplete, damaged, or of another index."""


def index_identity(index: EditIndex) -> dict[str, str | None]:
    """{"created": when the catalog was created, "first_edit": a digest of its first edit (None while it has none)}."""
    created, first = index.catalog.identity()
    digest = None if first is None else hashlib.sha256("\0".join(map(str, first)).encode()).hexdigest()[:32]
    return {"created": created, "first_edit": digest}


def index_record(index: EditIndex, generation: int) -> dict[str, Any]:
    """The summary's record of the audited index: its path, identity, generation and model fingerprint."""
    info = index.model_info
    return {
        "index": str(index.directory.resolve()),
        "index_identity": index_identity(index),
        "generation": generation,
        "model": None if info is None else info["fingerprint"],
    }


def staleness(summary: dict[str, Any], index: EditIndex) -> str | None:
    """Why an audit no longer describes `index` as it is now (None: it does); AuditFolderError for another index."""
    taken, now = summary["index_identity"], index_identity(index)
    if taken["created"] != now["created"] or taken["first_edit"] not in (None, now["first_edit"]):
        raise AuditFolderError(
            f"the audit was taken of another index ({summary['index']}), not of the one served: its edit ids "
            "name other edits. Run `editsearch audit --index DIR --out OUT` on the served index"
        )
    info = index.model_info
    if info is not None and summary["model"] not in (None, info["fingerprint"]):
        return "the index was built again with another model since the audit: run the audit again"
    if summary["generation"] != index.generation:
        return (
            f"the index changed since the audit (generation {summary['generation']}, now {index.generation}): "
            "edits added or updated since are not audited, and the thresholds are the old ones; run the audit again"
        )
    return None
