"""Catalogued images for the browser: the full image as PNG, or a JPEG thumbnail kept in a bounded LRU cache."""

from __future__ import annotations

import threading
from collections import OrderedDict

from editsearch.data.records import ImageRef
from editsearch.data.thumbnails import encode, thumbnail_jpeg
from editsearch.index.catalog import EditRow


class ThumbnailCache:
    """JPEG thumbnails by (edit id, side, size, content hash), evicting the least recently used past max_bytes."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, str, int, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, row: EditRow, side: str, size: int) -> bytes:
        """The thumbnail of one side ('before' or 'after') of an edit, at most size x size pixels."""
        key = (row["id"], side, size, row.get(f"{side}_hash") or "")
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = thumbnail_jpeg(row[side], size)  # type: ignore[literal-required]
        with self._lock:
            if key not in self._items:
                self._items[key] = data
                self._bytes += len(data)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= len(self._items.popitem(last=False)[1])
        return data

    @property
    def stats(self) -> dict[str, int]:
        """How many thumbnails and bytes the cache holds."""
        with self._lock:
            return {"thumbnails": len(self._items), "bytes": self._bytes}


def full_png(locator: str) -> bytes:
    """PNG bytes of a catalogued image at full size."""
    return encode(ImageRef.from_locator(locator).load(), "PNG")
