"""The JSON shapes the server sends for edits: search results and where their images are."""

from __future__ import annotations

from typing import Any

from editsearch.search import SearchResult

THUMB_SIZE = 256


def result_json(result: SearchResult) -> dict[str, Any]:
    """A result in the shape of `query --json`, plus the URLs of its images."""
    return {**result.to_dict(), "urls": urls(result.id)}


def urls(edit_id: int | None) -> dict[str, str]:
    """Where the page finds an edit and its images."""
    base = f"/api/edits/{edit_id}"
    return {
        "edit": base,
        "before": f"{base}/before",
        "after": f"{base}/after",
        "before_thumb": f"{base}/before?size={THUMB_SIZE}",
        "after_thumb": f"{base}/after?size={THUMB_SIZE}",
    }
