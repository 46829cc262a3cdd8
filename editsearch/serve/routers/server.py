"""The server's own endpoints: health and stats."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from editsearch.serve.deps import EngineDep, GateDep, SettingsDep
from editsearch.serve.errors import public
from editsearch.serve.shapes import public_name

router = APIRouter(tags=["server"])


@router.get("/healthz", responses={503: {"description": "The index cannot be served (e.g. a damaged catalog)."}})
async def healthz(engine: EngineDep) -> JSONResponse:
    """Health: `{"status": "ok"}`, or a 503 `{"status": "unavailable", "error": why}` when the index is damaged."""
    problem = await run_in_threadpool(engine.health)
    if problem is None:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "error": public(problem)}, 503, headers={"Retry-After": "5"})


@router.get("/api/stats")
def stats(engine: EngineDep, gate: GateDep, settings: SettingsDep) -> dict[str, Any]:
    """The index's stats (as `editsearch stats --json`, with names for paths) and the server's own."""
    with engine.reader() as reader:
        index = reader.index.stats()
    index.update(
        path=public_name(index["path"]),
        model=index["model"] if not str(index["model"] or "").startswith(("/", "~")) else public_name(index["model"]),
        origins=[public_name(o) for o in index["origins"]],
    )
    server = {
        "uptime_s": round(time.time() - settings.started, 1),
        "readers": engine.size,
        "query_towers": "onnx" if engine.onnx else "torch",
        "max_applies": gate.running,
        "applies_pending": gate.pending,
        "max_upload_mb": settings.max_upload_mb,
        "token": settings.token,
        "audit": settings.audit_dir is not None,
        "thumbnail_cache": settings.thumbs.stats,
    }
    return {"index": index, "server": server}
