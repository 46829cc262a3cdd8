"""The JSON shapes the server sends for edits: search results, one edit, and where their images are.

Served JSON names no path of the server's file system: an image locator becomes its file's name (a
parquet cell "NAME.parquet row N, COLUMN", a tar member "NAME.tar MEMBER"), a source manifest its file's
name; the images themselves are reached through `urls`.
"""

from __future__ import annotations

from typing import Any

from editsearch.media.locators import locator_name
from editsearch.search.api import SearchResult

THUMB_SIZE = 256
EDIT_KEYS = ("id", "instruction", "before", "after", "metadata", "source", "origin", "created_at", "updated_at")


def public_name(locator: str | None) -> str | None:
    """The short, path-free name of an image locator or a file path."""
    return locator_name(locator) if locator else locator


def result_json(result: SearchResult) -> dict[str, Any]:
    """A result in the shape of `query --json` (locators as names), plus the URLs of its images."""
    out = result.to_dict()
    out.update(before=public_name(out["before"]), after=public_name(out["after"]), urls=urls(result.id))
    return out


def edit_json(row: Any) -> dict[str, Any]:
    """One catalog row as served: EDIT_KEYS (locators and origin as names) and the URLs of its images."""
    out = {key: row.get(key) for key in EDIT_KEYS}
    out.update({key: public_name(out[key]) for key in ("before", "after", "origin")})
    return {**out, "urls": urls(row["id"])}


def urls(edit_id: int | None) -> dict[str, str]:
    """Where the page finds an edit and its images: full PNG, JPEG thumbnail, PNG download (attachment)."""
    base = f"/api/edits/{edit_id}"
    return {
        "edit": base,
        "before": f"{base}/before",
        "after": f"{base}/after",
        "before_thumb": f"{base}/before?size={THUMB_SIZE}",
        "after_thumb": f"{base}/after?size={THUMB_SIZE}",
        "before_download": f"{base}/before?download=1",
        "after_download": f"{base}/after?download=1",
    }
