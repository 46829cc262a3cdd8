"""A self-contained HTML gallery of search results: before → after thumbnails inlined as base64 JPEG."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from editsearch.core.files import write_atomic

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }}
h2 {{ margin-top: 1.6em; font-size: 1.1em; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 14px; }}
.card {{ background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: {card}px; }}
.pair {{ display: flex; align-items: center; gap: 4px; }}
.pair img, .missing {{ width: {thumb}px; height: {thumb}px; object-fit: contain; background: #eee; }}
.missing {{ display: flex; align-items: center; justify-content: center; font-size: 11px; color: #a00; }}
.arrow {{ font-size: 18px; color: #888; }}
.score {{ font-weight: bold; }} .meta {{ color: #666; font-size: 12px; }}
.card, .meta {{ overflow-wrap: anywhere; }} /* lines break between words; only a token too long for a line is cut */
</style></head><body>
<h1>{title}</h1>
{sections}
</body></html>
"""


def write_gallery(path: str | Path, sections: Sequence[tuple[str, Sequence[Any]]], thumb: int = 160) -> Path:
    """Write one page with a section per (heading, results) of SearchResult-like objects; returns its path."""
    body = []
    for heading, results in sections:
        cards = "".join(_card(r, thumb) for r in results) or "<p>No results.</p>"
        body.append(f"<h2>{html.escape(heading)}</h2>\n<div class='grid'>{cards}</div>")
    page = PAGE.format(title="editsearch results", sections="\n".join(body), thumb=thumb, card=2 * thumb + 40)
    return write_atomic(path, page)


def _card(result: Any, thumb: int) -> str:
    meta = html.escape(json.dumps(result.metadata, ensure_ascii=False)) if result.metadata else ""
    return (
        "<div class='card'><div class='pair'>"
        f"{_thumbnail(result.before, thumb)}<span class='arrow'>→</span>{_thumbnail(result.after, thumb)}</div>"
        f"<div>#{result.rank} <span class='score'>{result.score:.4f}</span> · id {result.id}</div>"
        f"<div>{html.escape(result.instruction or '(no instruction)')}</div>"
        f"<div class='meta'>{meta}</div></div>"
    )


def _thumbnail(locator: str, size: int) -> str:
    """An <img> with the image as an inline JPEG, or a placeholder saying why it could not be read."""
    from editsearch.data.thumbnails import thumbnail_jpeg
    from editsearch.media.images import ImageLoadError

    title = html.escape(locator)
    try:
        jpeg = thumbnail_jpeg(locator, size * 2)
    except (ImageLoadError, OSError, ValueError) as e:
        return f"<div class='missing' title='{title}'>{html.escape(str(e)[:80])}</div>"
    data = base64.b64encode(jpeg).decode("ascii")
    return f"<img alt='{title}' title='{title}' src='data:image/jpeg;base64,{data}'>"
