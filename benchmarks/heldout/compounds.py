"""Edits made of several steps: grayscale + frame, an aged photo, winter, mirror + brighter, stormy, sketch + frame."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from scipy import ndimage

from benchmarks.heldout import filters, geometry, overlays, styles, tones
from benchmarks.heldout.pixels import count, luma, px, smooth_noise, span, to_array, to_image


def grayscale_frame(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Black and white, with a border round it."""
    return geometry.frame(tones.grayscale(img, rng), rng)


def sketch_frame(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A pencil sketch, with a border round it."""
    return geometry.frame(styles.pencil_sketch(img, rng), rng)


def mirror_brighter(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mirrored left to right and brightened."""
    return tones.brighter(ImageOps.mirror(img), rng)


def _scratches(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dust specks and thin vertical scratches, pale or dark, as on a worn print."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(0, 5))):
        x0 = rng.uniform(0, img.width)
        shade = int(rng.choice([235, 40]))
        y0 = rng.uniform(0, img.height * 0.7)
        y1 = y0 + img.height * rng.uniform(0.1, 0.5)
        draw.line((x0, y0, x0 + rng.uniform(-6, 6), y1), fill=(shade, shade - 8, shade - 20), width=1)
    for _ in range(count(img, rng.integers(10, 40))):
        cx, cy, r = rng.uniform(0, img.width), rng.uniform(0, img.height), px(img, rng.uniform(0.5, 1.8))
        shade = int(rng.choice([225, 35]))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(shade, shade - 5, shade - 15))
    return out


def old_photo(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An aged print: yellow-brown, faded (lifted blacks, dimmed whites), soft, vignetted, grainy and scratched."""
    x = to_array(img)
    soft = span(img, rng.uniform(0.4, 1.0), 0.3)
    x = ndimage.gaussian_filter(x, (soft, soft, 0))
    lum = luma(x)[..., None]
    toned = np.array([0.1, 0.06, 0.02], np.float32) + np.array([0.85, 0.78, 0.6], np.float32) * lum
    keep = rng.uniform(0.6, 0.95)
    x = x * (1 - keep) + toned * keep
    x = rng.uniform(0.06, 0.14) + x * rng.uniform(0.75, 0.9)  # lifted blacks, dimmed whites
    stains = smooth_noise(rng, x.shape[:2], 5)[..., None]
    x = x * (1.0 - 0.12 * stains) + np.array([0.12, 0.08, 0.0], np.float32) * stains * 0.4
    x = filters.add_grain(x, rng, span(img, 0.8, 0.5), rng.uniform(0.015, 0.035))
    faded = to_image(x)
    aged = Image.blend(faded, geometry.vignette(faded, rng), rng.uniform(0.4, 0.8))
    return _scratches(aged, rng) if rng.random() < 0.8 else aged


def winter(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A winter scene: cold, pale and muted, brights frosted towards white, with snow falling."""
    x = to_array(img)
    grey = luma(x)[..., None]
    x = grey + (x - grey) * rng.uniform(0.35, 0.7)
    x = x * np.array([0.88, 0.96, 1.1], np.float32)
    frost = np.clip((luma(x) - rng.uniform(0.35, 0.55)) * 2.5, 0, 1)[..., None]
    x = x * (1 - frost * 0.7) + np.array([0.95, 0.97, 1.0], np.float32) * frost * 0.7
    x = x * 0.85 + 0.12
    return overlays.snow(to_image(x), rng)


def stormy(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Storm weather: dark, cold grey-blue light, a heavy cloud shade from above, often rain."""
    x = to_array(img)
    grey = luma(x)[..., None]
    x = (grey + (x - grey) * rng.uniform(0.3, 0.6)) * np.array([0.8, 0.88, 1.0], np.float32)
    x = (x - 0.5) * rng.uniform(1.1, 1.4) + 0.5  # harsher contrast
    h, w = x.shape[:2]
    shade = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None] ** rng.uniform(0.7, 1.5)
    clouds = 0.6 + 0.4 * smooth_noise(rng, (h, w), int(rng.integers(4, 8)))
    x = x * (1 - 0.5 * shade * clouds)[..., None] * rng.uniform(0.6, 0.85)
    dark = to_image(x)
    return overlays.rain(dark, rng) if rng.random() < 0.6 else dark
