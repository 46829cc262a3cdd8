"""The web page at / (its files are mounted at /static by the app)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(str(files("editsearch.serve") / "static"))

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    """The page."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The page's icon (an SVG), where a browser asks for it by default."""
    return FileResponse(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
