"""One catalogued edit: its JSON, and each of its images (a cached JPEG thumbnail or the full PNG)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from editsearch.index.errors import UnknownEditError
from editsearch.serve.deps import EngineDep, SettingsDep
from editsearch.serve.images import full_png
from editsearch.serve.shapes import urls

Side = Literal["before", "after"]
EDIT_KEYS = ("id", "instruction", "before", "after", "metadata", "source", "origin", "created_at", "updated_at")

router = APIRouter(tags=["edits"])


@router.get("/api/edits/{edit_id}")
def edit(edit_id: int, engine: EngineDep) -> dict[str, Any]:
    """One live edit: its instruction, image locators, metadata and image URLs."""
    with engine.reader() as reader:
        row = live_row(reader, edit_id)
    return {**{key: row.get(key) for key in EDIT_KEYS}, "urls": urls(edit_id)}


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
) -> Response:
    """One side of a catalogued edit: a cached JPEG thumbnail with `size`, else the full image as PNG."""
    with engine.reader() as reader:
        row = live_row(reader, edit_id)
    if size is None:
        return Response(full_png(row[side]), media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
    etag = f'"{edit_id}-{side}-{size}-{(row.get(f"{side}_hash") or "")[:16]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
    return Response(settings.thumbs.get(row, side, size), media_type="image/jpeg", headers=headers)


def live_row(reader: Any, edit_id: int) -> Any:
    """The catalog row of a live edit; UnknownEditError for an unknown or removed id."""
    row = reader.index.catalog.get_edit(edit_id)
    if row.get("deleted"):
        raise UnknownEditError(f"edit {edit_id} was removed from this index")
    return row
