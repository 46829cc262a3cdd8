"""The Atlas view's data: every mapped edit's position, cluster, source and audit flags, as parallel arrays."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from editsearch.atlas import view_map
from editsearch.atlas.table import AtlasMap
from editsearch.audit.checks import CHECKS
from editsearch.serve.deps import EngineDep, SettingsDep
from editsearch.serve.shapes import public_name

router = APIRouter(tags=["atlas"])


@router.get(
    "/api/map",
    response_class=JSONResponse,
    responses={409: {"description": "No map is stored for this index yet: run `editsearch map`."}},
)
def atlas_map(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """The stored map (`editsearch map`): parallel arrays over the mapped live edits, the clusters and notes.

    `points` holds `id`, `x`, `y`, `cluster` (-1: noise) and `source` (an index into `sources`, the
    names of the files or folders the edits were indexed from); with `serve --audit`, `audit` holds the
    checks run and each point's flags (bit i set: flagged by check i). A 409 when no map is stored.
    """
    audit = engine.audit(settings.audit_dir) if settings.audit_dir is not None else None
    with engine.reader() as reader:
        atlas = view_map(reader.index)
        origins = dict(reader.index.live_edit_rows("e.id, e.origin"))
    return JSONResponse(map_json(atlas, origins, audit))


def map_json(
    atlas: AtlasMap, origins: dict[int, str], audit: tuple[list[dict[str, Any]], dict[str, Any]] | None
) -> dict[str, Any]:
    """The served map: the atlas's arrays plus each point's source and audit flags."""
    out = atlas.to_dict()
    shown = {origin: public_name(origin) or "" for origin in set(origins.values())}
    names: dict[str, int] = {}
    out["points"]["source"] = [names.setdefault(shown.get(origins.get(i), ""), len(names)) for i in out["points"]["id"]]
    out["sources"] = list(names)
    out["edits"] = len(atlas)
    out["audit"] = None if audit is None else audit_flags(out["points"]["id"], *audit)
    return out


def audit_flags(ids: list[int], rows: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """The audit's checks and, for each point, a bit mask of the checks that flag it (bit i: checks[i])."""
    checks = [c for c in CHECKS if c in summary.get("checks", {})]
    masks = {int(r["id"]): sum(1 << bit for bit, check in enumerate(checks) if r.get(f"is_{check}")) for r in rows}
    return {"checks": checks, "flags": [masks.get(i, 0) for i in ids]}
