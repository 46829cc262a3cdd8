"""The Atlas view's data: every mapped edit's position, cluster, source and audit flags, as parallel arrays."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from editsearch.serve.deps import EngineDep, SettingsDep

router = APIRouter(tags=["atlas"])


@router.get(
    "/api/map",
    response_class=JSONResponse,
    responses={409: {"description": "No map is stored for this index yet: run `editsearch map`."}},
)
def atlas_map(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """The stored map (`editsearch map`): parallel arrays over the mapped live edits, the clusters and notes.

    `points` holds `id`, `x`, `y`, `cluster` (-1: noise) and `source` (an index into `sources`, the
    names of the files or folders the edits were indexed from); `clusters` each cluster's `label`, `size`,
    label position, name `source` ("instructions" or "vocabulary"), `mixed` and `purity` (the share of its
    edits with instructions its top instruction group holds); `agreement` the map's figures (null for a map
    named by an older version) and `agreement_line` them in words; with `serve --audit`, `audit` holds the
    checks run and each point's `flags` (bit i set: flagged by check i). An index of fewer than 20 edits is
    laid out on the fly (all noise); a larger one without a stored map is a 409 naming `editsearch map`.
    Gzipped for a client that accepts it.
    """
    raw, packed = engine.atlas_map(settings.audit_dir)
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(raw, media_type="application/json", headers=headers)
