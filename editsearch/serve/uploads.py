"""Uploaded images: read with a size limit, decode with the library's guarded loader; nothing touches disk here."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from editsearch.core.errors import EditSearchError, ImageLoadError, UsageError
from editsearch.core.limits import MAX_UPLOAD_PIXELS
from editsearch.media.images import load_image

CHUNK = 1 << 20
DECODE_MIN_SIDE = 1024  # a JPEG upload is decoded at the smallest 1/2, 1/4, 1/8 scale keeping this many pixels
DECODES = 2  # uploads decoded at once (each up to MAX_UPLOAD_PIXELS)
_decoding = threading.BoundedSemaphore(DECODES)


class UploadTooLargeError(EditSearchError):
    """An upload over the server's size limit."""


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The bytes of one uploaded file; UploadTooLargeError past `max_bytes`. The spooled copy is closed."""
    chunks, total = [], 0
    try:
        while chunk := await upload.read(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise UploadTooLargeError(
                    f"{upload.filename or 'upload'} is larger than the server's limit of {max_bytes / 1e6:g} MB"
                )
            chunks.append(chunk)
    finally:
        await upload.close()
    return b"".join(chunks)


def decode(data: bytes, name: str) -> Image.Image:
    """An RGB image from uploaded bytes; ImageLoadError (naming the upload) if they are not a readable image.

    At most MAX_UPLOAD_PIXELS (checked from the header), a large JPEG decoded at a reduced scale of at
    least DECODE_MIN_SIDE, and at most DECODES at once, so concurrent uploads take bounded memory.
    """
    try:
        with _decoding:
            return load_image(data, min_size=DECODE_MIN_SIDE, max_pixels=MAX_UPLOAD_PIXELS)
    except ImageLoadError as e:
        raise ImageLoadError(f"{name}: {str(e).replace(' <bytes>:', ':').replace(': <bytes>', '')}") from None


async def read_pair(before: UploadFile | None, after: UploadFile | None, max_bytes: int) -> tuple[Any, Any] | None:
    """The decoded (before, after) exemplar of an upload, or None when neither file was sent."""
    if before is None and after is None:
        return None
    if before is None or after is None:
        raise UsageError("an exemplar pair needs both files: before and after")
    data = [await read_upload(before, max_bytes), await read_upload(after, max_bytes)]
    return (
        await run_in_threadpool(decode, data[0], before.filename or "before"),
        await run_in_threadpool(decode, data[1], after.filename or "after"),
    )
