"""The server's own endpoints: liveness and stats."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from editsearch.serve.deps import EngineDep, GateDep, SettingsDep

router = APIRouter(tags=["server"])


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the server answers."""
    return {"status": "ok"}


@router.get("/api/stats")
def stats(engine: EngineDep, gate: GateDep, settings: SettingsDep) -> dict[str, Any]:
    """The index's stats (as `editsearch stats --json`) and the server's own."""
    with engine.reader() as reader:
        index = reader.index.stats()
    server = {
        "uptime_s": round(time.time() - settings.started, 1),
        "readers": engine.size,
        "query_towers": "onnx" if engine.onnx else "torch",
        "max_applies": gate.running,
        "applies_pending": gate.pending,
        "max_upload_mb": settings.max_upload_mb,
        "token": settings.token,
        "thumbnail_cache": settings.thumbs.stats,
    }
    return {"index": index, "server": server}
