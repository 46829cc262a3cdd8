"""One catalogued edit: its JSON, and each of its images (a cached JPEG thumbnail, the full PNG, or a download)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from editsearch.serve.catalog_images import full_png
from editsearch.serve.deps import EngineDep, SettingsDep
from editsearch.serve.shapes import edit_json

Side = Literal["before", "after"]

router = APIRouter(tags=["edits"])


@router.get("/api/edits/{edit_id}")
def edit(edit_id: int, engine: EngineDep) -> dict[str, Any]:
    """One live edit: its instruction, image names, metadata and image URLs."""
    with engine.reader() as reader:
        row = reader.index.get_edit(edit_id)
    return edit_json(row)


@router.get(
    "/api/edits/{edit_id}/{side}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def edit_image(
    edit_id: int,
    side: Side,
    engine: EngineDep,
    settings: SettingsDep,
    size: Annotated[int | None, Query(ge=16, le=1024, description="Thumbnail side (JPEG); none: PNG.")] = None,
    download: Annotated[bool, Query(description="The full PNG as an attachment (a file to save).")] = False,
) -> Response:
    """One side of a catalogued edit: a cached JPEG thumbnail with `size`, else the full image as PNG."""
    with engine.reader() as reader:
        row = reader.index.get_edit(edit_id)
    if size is None or download:
        headers = {"Cache-Control": "private, max-age=60"}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="edit-{edit_id}-{side}.png"'
        return Response(full_png(row[side]), media_type="image/png", headers=headers)
    etag = f'"{edit_id}-{side}-{size}-{(row.get(f"{side}_hash") or "")[:16]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
    return Response(settings.thumbs.get(row, side, size), media_type="image/jpeg", headers=headers)
