"""Conversions between PIL images and float arrays in [0, 1], and small array helpers the edits share."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_array(img: Image.Image) -> np.ndarray:
    """An RGB image as an H×W×3 float32 array in [0, 1]."""
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def to_image(arr: np.ndarray) -> Image.Image:
    """An H×W×3 (or H×W) float array in [0, 1] as an RGB image (clipped, rounded)."""
    arr = np.clip(arr, 0.0, 1.0)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return Image.fromarray(np.round(arr * 255.0).astype(np.uint8), "RGB")


def luma(arr: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of an H×W×3 array (H×W)."""
    return arr @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def px(img: Image.Image, length: float) -> int:
    """A length given for a 224-px image, scaled to this image's width (at least 1)."""
    return max(1, round(length * img.width / 224))


def span(img: Image.Image, length: float, least: float) -> float:
    """A length given for a 224-px image, scaled to this image's width, but at least `least` px."""
    return max(least, length * img.width / 224)


def count(img: Image.Image, number: float) -> int:
    """A number of things given for a 224-px image, scaled to this image's area (at least 10)."""
    return max(10, int(number * (img.width / 224) ** 2))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a cells×cells random grid, bicubically enlarged to `shape` (H, W)."""
    grid = rng.random((cells, cells)).astype(np.float32)
    big = Image.fromarray(grid, "F").resize((shape[1], shape[0]), Image.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float32), 0.0, 1.0)
