"""Global photometric edits (light, contrast, colour) and blur/sharpen/noise: fn(img, rng) -> (img, params)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from editsearch.data.synthetic.imaging import Edit, EditFn, draw, luminance, smooth_noise, to_array, to_image

TINTS: dict[str, tuple[int, int, int]] = {
    "red": (235, 30, 30),
    "green": (40, 200, 60),
    "blue": (30, 80, 240),
    "purple": (160, 40, 220),
}


def brighter(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Lift exposure with a gamma curve (shadows and midtones up, highlights kept) and a small gain."""
    gamma = draw(rng, 0.4, 0.6)
    arr = to_array(img) / 255.0
    return to_image(255 * 1.08 * arr**gamma), {"gamma": gamma}


def darker(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Lower exposure by a factor."""
    factor = draw(rng, 0.3, 0.55)
    return to_image(to_array(img) * factor), {"factor": factor}


def more_contrast(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Stretch contrast around the mean."""
    factor = draw(rng, 1.7, 2.5)
    return ImageEnhance.Contrast(img).enhance(factor), {"factor": factor}


def less_contrast(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Flatten contrast towards a light grey, a washed-out look."""
    factor = draw(rng, 0.2, 0.45)
    arr = to_array(img)
    return to_image(arr * factor + 150 * (1 - factor)), {"factor": factor}


def saturate(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Boost colour saturation."""
    factor = draw(rng, 2.2, 3.2)
    return ImageEnhance.Color(img).enhance(factor), {"factor": factor}


def desaturate(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Mute the colours most of the way towards grey (but not all the way)."""
    factor = draw(rng, 0.15, 0.35)
    return ImageEnhance.Color(img).enhance(factor), {"factor": factor}


def hue_shift(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Rotate every hue around the colour wheel; saturation is lifted so the shift shows."""
    degrees = int(rng.integers(90, 271))
    h, s, v = ImageEnhance.Color(img).enhance(1.4).convert("HSV").split()
    h = h.point(lambda x: (x + round(degrees * 256 / 360)) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB"), {"degrees": degrees}


def tint(color: str) -> EditFn:
    """An edit that casts a named colour over the image."""
    rgb = np.array(TINTS[color], dtype=np.float32)

    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        amount = draw(rng, 0.3, 0.5)
        arr = to_array(img)
        lum = luminance(arr)[..., None] / 255.0
        cast = rgb * (0.35 + 0.9 * lum)
        return to_image(arr * (1 - amount) + cast * amount), {"color": color, "amount": amount}

    apply.__doc__ = f"Cast a {color} tint over the image."
    return apply


def warmer(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Raise colour temperature: more red and yellow, less blue."""
    t = draw(rng, 0.2, 0.38)
    arr = to_array(img) * np.array([1 + t, 1 + t * 0.45, 1 - t], dtype=np.float32)
    return to_image(arr + np.array([18, 8, 0]) * t / 0.3), {"strength": t}


def cooler(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Lower colour temperature: more blue and cyan, less red."""
    t = draw(rng, 0.2, 0.38)
    arr = to_array(img) * np.array([1 - t, 1 + t * 0.1, 1 + t], dtype=np.float32)
    return to_image(arr + np.array([0, 6, 20]) * t / 0.3), {"strength": t}


def invert(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Photographic negative."""
    return ImageOps.invert(img), {}


def blur(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Gaussian blur, radius relative to image size."""
    rel = draw(rng, 0.016, 0.035)
    return img.filter(ImageFilter.GaussianBlur(max(1.5, rel * img.width))), {"radius": rel}


def sharpen(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Strong unsharp mask: crisper edges with visible halos."""
    rel, percent = draw(rng, 0.008, 0.014), int(rng.integers(300, 500))
    mask = ImageFilter.UnsharpMask(radius=max(1.0, rel * img.width), percent=percent, threshold=0)
    return img.filter(mask), {"radius": rel, "percent": percent}


def noise(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Per-pixel colour noise (digital sensor noise)."""
    sigma = draw(rng, 20, 40)
    arr = to_array(img)
    return to_image(arr + rng.standard_normal(arr.shape, dtype=np.float32) * sigma), {"sigma": sigma}


def film_grain(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Monochrome clumpy grain with slightly faded blacks, like analogue film."""
    sigma = draw(rng, 16, 30)
    arr = to_array(img)
    h, w = arr.shape[:2]
    grain = rng.standard_normal(((h + 1) // 2, (w + 1) // 2), dtype=np.float32)
    grain = np.repeat(np.repeat(grain, 2, 0), 2, 1)[:h, :w] * 0.6 + rng.standard_normal((h, w), dtype=np.float32) * 0.5
    faded = arr * 0.88 + 18 + (smooth_noise(rng, (h, w), 4)[..., None] - 0.5) * 12
    return to_image(faded + grain[..., None] * sigma), {"sigma": sigma}
