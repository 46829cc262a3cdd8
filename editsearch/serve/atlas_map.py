"""The Atlas view's data as served: the stored map's parallel arrays, each point's source and audit flags, encoded."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

from editsearch.atlas import view_map
from editsearch.atlas.table import AtlasMap
from editsearch.audit.checks.registry import CHECKS
from editsearch.serve.shapes import public_name

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

Audit = tuple[list[dict[str, Any]], dict[str, Any]]  # an audit's live rows and its summary (Engine.audit)


def encode_map(index: EditIndex, audit: Audit | None) -> tuple[bytes, bytes]:
    """The /api/map answer of an index as compact JSON, and gzipped (NoMapError when no map is stored)."""
    atlas = view_map(index, files=False)
    origins = dict(index.catalog.live_edit_rows(("id", "origin")))
    raw = json.dumps(map_json(atlas, origins, audit), separators=(",", ":"), allow_nan=False).encode()
    return raw, gzip.compress(raw, compresslevel=1, mtime=0)


def map_json(atlas: AtlasMap, origins: dict[int, str], audit: Audit | None) -> dict[str, Any]:
    """The served map: the atlas's arrays and agreement with the instructions, plus each point's source (an
    index into `sources`) and audit flags."""
    out = atlas.to_dict(" (per cluster in the legend)")
    shown = {origin: public_name(origin) or "" for origin in set(origins.values())}
    names: dict[str, int] = {}
    out["points"]["source"] = [names.setdefault(shown.get(origins.get(i), ""), len(names)) for i in out["points"]["id"]]
    out["sources"] = list(names)
    out["edits"] = len(atlas)
    out["audit"] = None if audit is None else audit_flags(out["points"]["id"], *audit)
    return out


def audit_flags(ids: list[int], rows: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """The audit's checks, their colours and each point's bit mask of the checks that flag it (bit i: checks[i])."""
    checks = [c for c in CHECKS if c.name in summary.get("checks", {})]
    masks = {int(r["id"]): sum(1 << bit for bit, c in enumerate(checks) if r.get(f"is_{c.name}")) for r in rows}
    return {
        "checks": [c.name for c in checks],
        "colours": [c.colour for c in checks],
        "flags": [masks.get(i, 0) for i in ids],
    }
