"""The web page at / and its files at /static (ES modules under static/js, loaded with no build step)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(str(files("editsearch.serve") / "static"))
# The page runs only its own files: module scripts from /static, no inline script or style, no plugins, no framing.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A browser revalidates the page's files (by ETag) on each load: one release's modules never mix with another's.
STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(include_in_schema=False)


class PageFiles(StaticFiles):
    """The page's files: scripts as text/javascript whatever the system's MIME table says (a module script
    of another type is refused), revalidated on each load; paths outside the folder are refused (404)."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file, or a 304 where the browser's copy is current."""
        media_type = "text/javascript" if str(full_path).endswith((".js", ".mjs")) else None
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type, headers=STATIC_HEADERS
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


@router.get("/")
def page() -> FileResponse:
    """The page."""
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"}
    return FileResponse(STATIC_DIR / "index.html", headers=headers)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The page's icon (an SVG), where a browser asks for it by default."""
    return FileResponse(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
