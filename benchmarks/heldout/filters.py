"""Detail filters: blur, sharpen, noise, film grain."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from benchmarks.heldout.pixels import luma, span, to_array, to_image


def blur(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Out of focus: a Gaussian, box or disc (lens) blur of random radius."""
    radius = span(img, rng.uniform(2.0, 7.0), 1.0)
    way = rng.integers(3)
    if way == 0:
        return img.filter(ImageFilter.GaussianBlur(radius))
    if way == 1:
        return img.filter(ImageFilter.BoxBlur(radius))
    r = max(1, round(radius * 1.3))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = (np.hypot(yy, xx) <= r).astype(np.float32)
    kernel = (disc / disc.sum())[..., None]
    return to_image(ndimage.convolve(to_array(img), kernel, mode="reflect"))


def sharpen(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Crisper edges and fine detail: an unsharp mask of random radius and amount."""
    x = to_array(img)
    sigma = span(img, rng.uniform(1.0, 3.0), 0.8)
    soft = ndimage.gaussian_filter(x, (sigma, sigma, 0))
    return to_image(x + (x - soft) * rng.uniform(2.0, 4.5))


def noise(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Digital noise: per-pixel colour (Gaussian) noise, or salt-and-pepper specks."""
    x = to_array(img)
    if rng.random() < 0.7:
        return to_image(x + rng.normal(0.0, rng.uniform(0.06, 0.2), x.shape))
    specks = rng.random(x.shape[:2])
    share = rng.uniform(0.03, 0.12)
    x[specks < share / 2] = 0.0
    x[specks > 1 - share / 2] = 1.0
    return to_image(x)


def add_grain(x: np.ndarray, rng: np.random.Generator, size: float, amount: float) -> np.ndarray:
    """Clumpy monochrome grain of blob size `size` px and strength `amount`, strongest in the midtones."""
    grain = ndimage.gaussian_filter(rng.normal(0.0, 1.0, x.shape[:2]).astype(np.float32), size)
    grain /= grain.std() + 1e-6
    lum = luma(x)
    weight = 0.35 + 2.6 * lum * (1.0 - lum)  # midtones show grain most
    return x + (grain * weight * amount)[..., None]


def film_grain(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Analogue grain: clumpy monochrome grain, strongest in the midtones, with a slightly faded print."""
    size = span(img, rng.uniform(0.6, 1.3), 0.5)
    x = add_grain(to_array(img), rng, size, rng.uniform(0.03, 0.08))
    fade = rng.uniform(0.0, 0.08)
    return to_image(x * (1 - fade) + fade * 0.5)
