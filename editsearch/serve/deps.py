"""FastAPI dependencies of the routers: the engine, the apply gate and the server's settings, from `app.state`.

They are coroutines: FastAPI runs a plain function dependency in its thread pool, a hop per request for a
lookup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from editsearch.serve.catalog_images import ThumbnailCache
from editsearch.serve.engine import Engine
from editsearch.serve.gate import ApplyGate


@dataclass
class Settings:
    """What the handlers need to know of how the server was started, and its thumbnail cache."""

    max_upload_mb: float = 20.0
    token: bool = False
    audit_dir: Path | None = None  # an `editsearch audit --out` folder, served as Problems
    started: float = field(default_factory=time.time)
    thumbs: ThumbnailCache = field(default_factory=ThumbnailCache)

    @property
    def max_bytes(self) -> int:
        """The largest upload, in bytes."""
        return int(self.max_upload_mb * 1e6)


async def get_engine(request: Request) -> Engine:
    """The served index's engine."""
    return request.app.state.engine


async def get_gate(request: Request) -> ApplyGate:
    """The apply gate."""
    return request.app.state.gate


async def get_settings(request: Request) -> Settings:
    """The server's settings."""
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
GateDep = Annotated[ApplyGate, Depends(get_gate)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
