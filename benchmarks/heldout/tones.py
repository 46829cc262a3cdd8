"""Tone and colour edits: exposure, contrast, saturation, hue, tints, white balance, monochrome looks, posterize."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.color import hsv2rgb, rgb2hsv

from benchmarks.heldout.pixels import luma, to_array, to_image

TINTS = {  # the tint colour each tint family pushes towards (RGB, 0..1)
    "red": (1.0, 0.18, 0.15),
    "green": (0.2, 1.0, 0.25),
    "blue": (0.15, 0.35, 1.0),
    "purple": (0.65, 0.2, 0.95),
}


def brighter(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Raise exposure: a gain, a gamma lift or an added offset (picked at random), of random strength."""
    x = to_array(img)
    way = rng.integers(3)
    if way == 0:
        return to_image(x * rng.uniform(1.3, 1.9))
    if way == 1:
        return to_image(x ** rng.uniform(0.35, 0.65))
    return to_image(x + rng.uniform(0.15, 0.35))


def darker(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Lower exposure: a gain, a gamma push or a subtracted offset (picked at random), of random strength."""
    x = to_array(img)
    way = rng.integers(3)
    if way == 0:
        return to_image(x * rng.uniform(0.3, 0.7))
    if way == 1:
        return to_image(x ** rng.uniform(1.6, 2.8))
    return to_image(x - rng.uniform(0.15, 0.35))


def more_contrast(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Spread tones away from the mid grey (linear or S-curve), so darks get darker and lights lighter."""
    x = to_array(img)
    if rng.random() < 0.5:
        mid = float(luma(x).mean())
        return to_image((x - mid) * rng.uniform(1.5, 2.4) + mid)
    gain = rng.uniform(6.0, 12.0)
    return to_image(1.0 / (1.0 + np.exp(-gain * (x - 0.5))))


def less_contrast(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Pull every tone towards one grey level (the mean or a random flat grey): a flat, washed look."""
    x = to_array(img)
    anchor = float(luma(x).mean()) if rng.random() < 0.5 else rng.uniform(0.35, 0.65)
    return to_image((x - anchor) * rng.uniform(0.25, 0.55) + anchor)


def _chroma_scale(x: np.ndarray, factor: float) -> np.ndarray:
    """Scale each pixel's distance from its own grey by `factor`."""
    grey = luma(x)[..., None]
    return grey + (x - grey) * factor


def saturate(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Make colours more vivid: scale chroma (about luma) or HSV saturation up."""
    x = to_array(img)
    if rng.random() < 0.5:
        return to_image(_chroma_scale(x, rng.uniform(1.8, 3.2)))
    hsv = rgb2hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1.7, 3.0) + rng.uniform(0.0, 0.1), 0.0, 1.0)
    return to_image(hsv2rgb(hsv))


def desaturate(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mute the colours part of the way towards grey (never all the way: that is grayscale)."""
    return to_image(_chroma_scale(to_array(img), rng.uniform(0.15, 0.5)))


def hue_shift(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Rotate every hue round the colour wheel by 60 to 300 degrees, saturation and value kept."""
    hsv = rgb2hsv(to_array(img))
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(60.0, 300.0) / 360.0) % 1.0
    return to_image(hsv2rgb(hsv))


def _tint(img: Image.Image, rng: np.random.Generator, colour: str) -> Image.Image:
    """Wash the image in a colour: blend with its luma multiplied by that colour (jittered a little)."""
    x = to_array(img)
    c = np.clip(np.array(TINTS[colour], np.float32) + rng.uniform(-0.08, 0.08, 3), 0.0, 1.0)
    lum = luma(x)[..., None]
    washed = np.clip(lum * 1.35, 0.0, 1.0) * c
    return to_image(x * (1 - (a := rng.uniform(0.35, 0.7))) + washed * a)


def tint_red(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A red colour cast."""
    return _tint(img, rng, "red")


def tint_green(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A green colour cast."""
    return _tint(img, rng, "green")


def tint_blue(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A blue colour cast."""
    return _tint(img, rng, "blue")


def tint_purple(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A purple (violet to magenta) colour cast."""
    return _tint(img, rng, "purple")


def _balance(img: Image.Image, rng: np.random.Generator, sign: float) -> Image.Image:
    """Shift white balance: sign +1 towards amber (warmer), -1 towards blue (cooler)."""
    w = rng.uniform(0.2, 0.4) * sign
    gains = np.array([1.0 + w, 1.0 + w * rng.uniform(0.1, 0.45), 1.0 - w], np.float32)
    x = to_array(img) * gains
    if rng.random() < 0.5:  # sometimes a coloured light on top (sunset glow or blue hour)
        glow = np.array([1.0, 0.6, 0.2] if sign > 0 else [0.25, 0.55, 1.0], np.float32)
        x = x * (1 - (k := rng.uniform(0.1, 0.25))) + glow * luma(x)[..., None] * k * 1.5
    return to_image(x)


def warmer(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Warmer white balance: more red/yellow, less blue."""
    return _balance(img, rng, 1.0)


def cooler(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cooler white balance: more blue, less red/yellow."""
    return _balance(img, rng, -1.0)


def invert(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The colour negative (every channel v -> 1 - v)."""
    return to_image(1.0 - to_array(img))


def grayscale(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Black and white with one of several channel mixes (Rec. 601, Rec. 709, plain mean, HSV value)."""
    x = to_array(img)
    mixes = ([0.299, 0.587, 0.114], [0.2126, 0.7152, 0.0722], [1 / 3, 1 / 3, 1 / 3])
    way = rng.integers(len(mixes) + 1)
    return to_image(x.max(axis=2) if way == len(mixes) else x @ np.array(mixes[way], np.float32))


def sepia(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brown-toned monochrome: luma mapped onto a dark-brown to cream ramp, mostly replacing the colours."""
    lum = luma(to_array(img))[..., None]
    dark = np.array([0.18, 0.1, 0.04], np.float32) + rng.uniform(-0.03, 0.03, 3).astype(np.float32)
    light = np.array([1.0, 0.9, 0.72], np.float32) + rng.uniform(-0.04, 0.02, 3).astype(np.float32)
    toned = dark + (light - dark) * lum
    return to_image(to_array(img) * (1 - (a := rng.uniform(0.8, 1.0))) + toned * a)


def posterize(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Few flat tone bands: each channel cut to 2 to 5 levels (or a 4-to-10-colour palette)."""
    if rng.random() < 0.6:
        levels = int(rng.integers(2, 6))
        x = to_array(img)
        return to_image(np.round(x * (levels - 1)) / (levels - 1))
    return img.quantize(colors=int(rng.integers(4, 11)), method=Image.Quantize.MEDIANCUT).convert("RGB")
