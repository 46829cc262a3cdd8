"""Thumbnails of catalogued images: one JPEG encoding for the HTML gallery and the server."""

from __future__ import annotations

import io

from PIL import Image

from editsearch.data.records import ImageRef

JPEG_QUALITY = 85


def thumbnail_jpeg(locator: str, size: int) -> bytes:
    """JPEG bytes of a catalogued image shrunk to fit size x size (never enlarged); ImageLoadError if unreadable."""
    img = ImageRef.from_locator(locator).load(min_size=size)
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return encode(img, "JPEG")


def encode(img: Image.Image, fmt: str) -> bytes:
    """Bytes of an image in a format (JPEG at JPEG_QUALITY)."""
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": JPEG_QUALITY} if fmt == "JPEG" else {}))
    return buf.getvalue()
