"""Pair preprocessing without torch: the same pixels as encoder.preprocess.PairTransform, in numpy and PIL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from editsearch.media.images import ImageLike, load_image


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to `size` (PIL bicubic), then the centre size x size: torchvision's PIL path, pixel for pixel."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), resample=Image.Resampling.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def image_pixels(img: ImageLike, size: int) -> np.ndarray:
    """One image -> resized, centre-cropped uint8 [3, size, size] (JPEGs decode at reduced DCT scale)."""
    rgb = resize_center_crop(load_image(img, min_size=size), size)
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def pair_inputs(
    pairs: Sequence[tuple[ImageLike, ImageLike]], size: int, mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """(before, after) pairs -> normalised float32 model input [N, 6, size, size]."""
    pixels = np.stack([np.concatenate([image_pixels(b, size), image_pixels(a, size)]) for b, a in pairs])
    m = np.asarray(tuple(mean) * 2, dtype=np.float32).reshape(-1, 1, 1)
    s = np.asarray(tuple(std) * 2, dtype=np.float32).reshape(-1, 1, 1)
    return (pixels.astype(np.float32) / np.float32(255) - m) / s
