"""Copies of a sample of the collection's own pairs, made the way duplicates and no-ops arise, to measure where such
problems land on this collection's photos: the duplicate and noop checks' thresholds are no stricter than that.

Each sampled pair is copied COPIES_PER_PAIR times, every copy drawn afresh: a side anywhere in COPY_SCALE of the
original's, a JPEG quality in COPY_QUALITY, encoded once or twice (a copy saved again after a download).
- a duplicate copy: both images resized so and re-encoded; its D to the pair (duplicate.py's distance);
- a no-op copy: the before taken to that side and back (an editing tool working at another size) and re-encoded;
  its visible change from the before (signatures.py).
Each is decoded as the collection's images are (a JPEG at a reduced DCT scale, through the audit's pair transform),
so photos that move further under a resize or a re-encoding (fine texture, sharp edges, small images) lift the
thresholds, within each check's bounds.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from editsearch.audit.checks.duplicate import duplicate_distances
from editsearch.core.errors import EditSearchError
from editsearch.data.records import ImageRef
from editsearch.media.images import load_image
from editsearch.pairs.signatures import SignatureTable, pair_signatures, visible_change

COPY_SAMPLE = 16  # pairs of the collection copied
COPIES_PER_PAIR = 4  # copies made of each, of either kind
COPY_SCALE = (0.5, 1.0)  # a copy's side against the original's: anywhere from half to full size
COPY_QUALITY = (75, 95)  # a copy's JPEG quality: from libjpeg's default to a high one


@dataclass(frozen=True)
class Copies:
    """Where the collection's own copies land: D of each duplicate copy to its pair, visible change of each no-op
    copy from its before (grey levels)."""

    duplicate: np.ndarray
    noop: np.ndarray


def make_copies(
    pairs: Iterable[tuple[ImageRef, ImageRef]], pixels: Callable[..., Any], size: int, rng: np.random.Generator
) -> Copies:
    """Copies of these pairs (drawn by `rng`), measured at `size` through the audit's pair transform `pixels`; a
    pair that cannot be read is passed over."""
    blobs: list[bytes] = []
    originals: list[int] = []  # each duplicate copy's pair's position in blobs
    changes: list[float] = []
    for refs in pairs:
        try:
            decoded, full = [ref.load(size) for ref in refs], [ref.load() for ref in refs]
        except (EditSearchError, OSError):
            continue
        blobs += pair_signatures(pixels(*decoded).numpy()[None])
        base = len(blobs) - 1
        for _ in range(COPIES_PER_PAIR):
            scale, quality, times = _draw(rng)
            copy = [load_image(jpeg_copy(resized(image, scale), quality, times), min_size=size) for image in full]
            blobs += pair_signatures(pixels(*copy).numpy()[None])
            originals.append(base)
            scale, quality, times = _draw(rng)
            before = full[0]
            again = jpeg_copy(resized(before, scale).resize(before.size, Image.BICUBIC), quality, times)
            changes.append(float(visible_change(pixels(decoded[0], load_image(again, min_size=size)).numpy()[None])[0]))
    if not originals:
        return Copies(np.zeros(0), np.zeros(0))
    neighbours = np.full((len(blobs), 1), -1, dtype=np.int64)
    copies = np.flatnonzero(np.isin(np.arange(len(blobs)), originals, invert=True))
    neighbours[copies, 0] = originals
    return Copies(duplicate_distances(SignatureTable.from_blobs(blobs), neighbours)[copies, 0], np.asarray(changes))


def _draw(rng: np.random.Generator) -> tuple[float, int, int]:
    """(scale, JPEG quality, times encoded) of one copy."""
    return float(rng.uniform(*COPY_SCALE)), int(rng.integers(*COPY_QUALITY, endpoint=True)), int(rng.integers(1, 3))


def resized(image: Image.Image, scale: float) -> Image.Image:
    """The image resized by `scale`, its aspect kept."""
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BICUBIC)


def jpeg_copy(image: Image.Image, quality: int, times: int = 1) -> bytes:
    """The image as JPEG bytes of `quality`, encoded `times` times (each from the last one's decoded pixels)."""
    image = image.convert("RGB")
    for _ in range(times):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        image = Image.open(buffer)
    return buffer.getvalue()
