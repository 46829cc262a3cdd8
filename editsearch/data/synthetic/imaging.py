"""Small pixel helpers shared by the synthetic edits and the contact sheet: arrays, luminance, draws, a font."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFont

Edit = tuple[Image.Image, dict]  # (after image, JSON-able params)
EditFn = Callable[[Image.Image, np.random.Generator], Edit]

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_array(img: Image.Image) -> np.ndarray:
    """RGB image as an HxWx3 float32 array in 0..255."""
    return np.asarray(img.convert("RGB"), dtype=np.float32)


def to_image(arr: np.ndarray) -> Image.Image:
    """HxWx3 (or HxW) float array in 0..255, clipped and rounded, as an RGB image."""
    out = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    return out.convert("RGB") if out.mode != "RGB" else out


def luminance(arr: np.ndarray) -> np.ndarray:
    """HxW luma of an HxWx3 array."""
    return arr @ LUMA


def draw(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A uniform draw in [lo, hi), rounded to 3 decimals so params stay short and exact in JSON."""
    return round(float(rng.uniform(lo, hi)), 3)


def pick(rng: np.random.Generator, options: list) -> object:
    """One element of a list, chosen by rng (works for lists of tuples, unlike rng.choice)."""
    return options[int(rng.integers(len(options)))]


def smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """HxW float32 low-frequency noise in 0..1: a cells x cells random grid upsampled bicubically."""
    h, w = size
    grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(grid.resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0


def load_font(px: int) -> ImageFont.ImageFont:
    """Pillow's bundled scalable font at a pixel size (the bitmap default if FreeType is missing)."""
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()
