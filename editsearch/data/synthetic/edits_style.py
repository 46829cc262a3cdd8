"""Stylistic edits: grayscale, sepia, posterize and painterly/graphic looks: fn(img, rng) -> (img, params)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from editsearch.data.synthetic.imaging import Edit, draw, luminance, pick, smooth_noise, to_array, to_image

SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)


def grayscale(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Remove all colour."""
    return ImageOps.grayscale(img).convert("RGB"), {}


def sepia(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Brown-toned monochrome, like an old print."""
    amount = draw(rng, 0.85, 1.0)
    arr = to_array(img)
    return to_image(arr * (1 - amount) + (arr @ SEPIA.T) * amount), {"amount": amount}


def posterize(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Few flat tone levels per channel (1 or 2 bits), after a slight smoothing."""
    bits = 1 if rng.random() < 0.3 else 2
    return ImageOps.posterize(img.filter(ImageFilter.SMOOTH), bits), {"bits": bits}


def _kuwahara(arr: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean colour of its least-varied quadrant (painterly)."""
    from scipy.ndimage import uniform_filter

    h, w = arr.shape[:2]
    d = radius // 2
    padded = np.pad(arr, ((d, d), (d, d), (0, 0)), mode="reflect")
    lum = luminance(padded)
    mean = uniform_filter(padded, size=(radius + 1, radius + 1, 1), mode="reflect")
    lmean = uniform_filter(lum, size=radius + 1, mode="reflect")
    var = uniform_filter(lum * lum, size=radius + 1, mode="reflect") - lmean * lmean
    offsets = [(0, 0), (0, 2 * d), (2 * d, 0), (2 * d, 2 * d)]  # quadrant centres around each pixel
    cands = np.stack([mean[y : y + h, x : x + w] for y, x in offsets])
    vars_ = np.stack([var[y : y + h, x : x + w] for y, x in offsets])
    best = np.argmin(vars_, axis=0)
    return np.take_along_axis(cands, best[None, ..., None], axis=0)[0]


def oil_paint(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Oil painting: Kuwahara brush regions, richer colour, brush-stroke streaks and canvas relief."""
    w, h = img.size
    rel = draw(rng, 0.018, 0.03)
    radius = max(3, round(rel * w))
    arr = _kuwahara(_kuwahara(to_array(img), radius), max(2, radius // 2))
    painted = ImageEnhance.Color(to_image(arr)).enhance(1.35)
    strokes = Image.fromarray((rng.random((max(2, h // 3), max(2, w // 14))) * 255).astype(np.uint8))
    strokes = strokes.resize((w, h), Image.BICUBIC).rotate(float(rng.uniform(0, 180)), Image.BICUBIC, fillcolor=128)
    relief = np.asarray(ImageOps.grayscale(painted).filter(ImageFilter.EMBOSS), dtype=np.float32) - 128
    streak = np.asarray(strokes, dtype=np.float32) - 128
    return to_image(to_array(painted) + (relief * 0.35 + streak * 0.12)[..., None]), {"radius": rel}


def _edges(gray: np.ndarray) -> np.ndarray:
    """Gradient magnitude of an HxW array (Sobel, edge-replicated borders so the frame is not an edge)."""
    from scipy.ndimage import sobel

    return np.hypot(sobel(gray, 0, mode="nearest"), sobel(gray, 1, mode="nearest"))


def watercolor(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Watercolour: soft bleeding washes, pale transparent pigment, darker wash rims, textured paper."""
    w, h = img.size
    bleed = draw(rng, 0.01, 0.02)
    arr = _kuwahara(to_array(ImageEnhance.Color(img).enhance(1.4)), max(3, w // 40))
    yy, xx = np.mgrid[0:h, 0:w]
    shift = bleed * w
    dy = ((smooth_noise(rng, (h, w), 8) - 0.5) * 2 * shift).astype(int)
    dx = ((smooth_noise(rng, (h, w), 8) - 0.5) * 2 * shift).astype(int)
    arr = arr[np.clip(yy + dy, 0, h - 1), np.clip(xx + dx, 0, w - 1)]
    wash = to_array(to_image(arr).filter(ImageFilter.GaussianBlur(w / 200)))
    rims = np.clip(_edges(luminance(wash)) / 120, 0, 1)[..., None]
    pigment = 255 - (255 - wash) * (0.68 + 0.3 * rims)
    grain = smooth_noise(rng, (h, w), max(8, w // 6))
    paper = 1 - 0.07 * grain - 0.06 * rng.random((h, w), dtype=np.float32)
    return to_image(pigment * paper[..., None]), {"bleed": bleed}


def pencil_sketch(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Graphite pencil drawing: colour-dodge outlines plus light tonal shading, on grainy paper."""
    rel = draw(rng, 0.015, 0.035)
    gray_img = ImageOps.grayscale(img)
    gray = np.asarray(gray_img, dtype=np.float32)
    inv_blur = 255 - np.asarray(
        ImageOps.invert(gray_img).filter(ImageFilter.GaussianBlur(rel * img.width)), dtype=np.float32
    )
    lines = np.clip(gray * 255 / np.maximum(inv_blur, 1), 0, 255)
    lines = 255 - (255 - lines) * 1.8
    shade = 0.72 + 0.28 * np.asarray(gray_img.filter(ImageFilter.GaussianBlur(img.width / 64)), dtype=np.float32) / 255
    grainy = lines * shade - rng.random(gray.shape, dtype=np.float32) * 12
    return to_image(np.clip(grainy, 0, 255)), {"blur": rel}


def cartoon(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Cartoon: flat, vivid colour bands outlined in black where the bands meet."""
    levels = int(rng.integers(4, 7))
    w = img.width
    smooth = to_image(_kuwahara(_kuwahara(to_array(img), max(2, w // 48)), max(2, w // 80)))
    smooth = smooth.filter(ImageFilter.MedianFilter(5 if w >= 128 else 3))
    vivid = to_array(ImageEnhance.Color(smooth).enhance(1.6))
    bands = np.round(vivid / 255 * (levels - 1))
    flat = bands / (levels - 1) * 255 * 0.75 + vivid * 0.25
    label = luminance(bands)
    line = np.zeros(label.shape, dtype=bool)
    line[:, 1:] |= label[:, 1:] != label[:, :-1]
    line[1:, :] |= label[1:, :] != label[:-1, :]
    if w >= 192:
        line[:, 1:] |= line[:, :-1]
        line[1:, :] |= line[:-1, :]
    flat[line] = 20
    return to_image(flat), {"levels": levels}


def pixel_art(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Pixel art: a coarse grid of big square pixels with a small palette."""
    cells = int(rng.integers(20, 41))
    colors = int(pick(rng, [8, 16, 24]))
    small = ImageEnhance.Color(img.resize((cells, cells), Image.BOX)).enhance(1.3)
    small = small.quantize(colors, dither=Image.Dither.NONE).convert("RGB")
    return small.resize(img.size, Image.NEAREST), {"cells": cells, "colors": colors}


def halftone(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Halftone print: dots on white whose area follows darkness (black ink, or CMY inks)."""
    w, h = img.size
    cell = max(4, round(w / int(rng.integers(26, 42))))
    mode = str(pick(rng, ["mono", "color"]))
    gh, gw = -(-h // cell), -(-w // cell)
    small = to_array(img.resize((gw, gh), Image.BOX)) / 255.0
    yy, xx = np.mgrid[0:cell, 0:cell].astype(np.float32)
    dist = np.tile(np.hypot(yy - (cell - 1) / 2, xx - (cell - 1) / 2) / cell, (gh, gw))[:h, :w]

    def dots(coverage: np.ndarray) -> np.ndarray:
        """1 where a dot of area `coverage` (fraction of its cell) is inked."""
        radius = np.sqrt(np.clip(coverage, 0, 1) / np.pi) * 1.1
        return (dist < np.repeat(np.repeat(radius, cell, 0), cell, 1)[:h, :w]).astype(np.float32)

    if mode == "mono":
        ink = dots(1 - luminance(small))
        return to_image(np.repeat((250 - 235 * ink)[..., None], 3, axis=2)), {"cell": cell, "mode": mode}
    out = np.full((h, w, 3), 250, dtype=np.float32)
    for channel in range(3):  # cyan ink removes red, magenta removes green, yellow removes blue
        out[..., channel] -= 225 * dots(1 - small[..., channel])
    return to_image(out), {"cell": cell, "mode": mode}


def emboss(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Embossed grey relief, as if pressed into metal or paper."""
    depth = draw(rng, 1.5, 2.5)
    gray = ImageOps.grayscale(img)
    relief = np.asarray(gray.filter(ImageFilter.EMBOSS), dtype=np.float32) - 128
    return to_image(np.repeat((128 + relief * depth)[..., None], 3, axis=2)), {"depth": depth}
