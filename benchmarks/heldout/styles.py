"""Artistic styles: watercolor, oil paint, pencil sketch, cartoon, pixel art, halftone, emboss."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage
from skimage.color import label2rgb
from skimage.restoration import denoise_tv_chambolle
from skimage.segmentation import slic

from benchmarks.heldout.pixels import luma, px, smooth_noise, span, to_array, to_image


def watercolor(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Flat washes of thinned colour in irregular patches that bleed softly, darker pigment rims, grainy paper."""
    x = to_array(img)
    patches = slic(x, n_segments=int(rng.integers(40, 160)), compactness=rng.uniform(2, 8), start_label=0)
    washes = label2rgb(patches, x, kind="avg", bg_label=-1).astype(np.float32)
    washes = washes * 0.65 + ndimage.gaussian_filter(x, (px(img, 1.5), px(img, 1.5), 0)) * 0.35  # a little form shows
    sigma = px(img, rng.uniform(1.0, 2.2))
    bleed = ndimage.gaussian_filter(washes, (sigma, sigma, 0))
    steps = np.abs(np.diff(washes, axis=0, prepend=washes[:1])) + np.abs(np.diff(washes, axis=1, prepend=washes[:, :1]))
    rims = ndimage.gaussian_filter(np.clip(steps.sum(axis=2) * 4.0, 0, 1), px(img, 1.0))  # where neighbours differ
    paint = bleed * (1.0 - rng.uniform(0.2, 0.4) * np.clip(rims * 2.0, 0, 1))[..., None]
    paint = 1.0 - (1.0 - paint) * rng.uniform(0.55, 0.8)  # thinned pigment: the paper shows through
    grain = ndimage.gaussian_filter(rng.normal(0.0, 1.0, x.shape[:2]).astype(np.float32), 0.8)
    blotches = smooth_noise(rng, x.shape[:2], 6) - 0.5  # uneven wetness: some areas darker than others
    return to_image(paint * (1.0 + grain * 0.06 + blotches * 0.12)[..., None])


def _kuwahara(x: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean of whichever of its four corner windows varies least."""
    size = radius + 1
    mean = ndimage.uniform_filter(x, size=(size, size, 1))
    var = ndimage.uniform_filter(luma(x) ** 2, size=size) - ndimage.uniform_filter(luma(x), size=size) ** 2
    best_mean, best_var = np.zeros_like(x), np.full(x.shape[:2], np.inf, np.float32)
    half = radius // 2 + 1
    h, w = var.shape
    mean = np.pad(mean, ((half, half), (half, half), (0, 0)), mode="edge")
    var = np.pad(var, half, mode="edge")
    for dy in (-half, half):
        for dx in (-half, half):  # the window centred (dy, dx) away from each pixel
            m = mean[half + dy : half + dy + h, half + dx : half + dx + w]
            v = var[half + dy : half + dy + h, half + dx : half + dx + w]
            pick = v < best_var
            best_mean[pick], best_var[pick] = m[pick], v[pick]
    return best_mean


def oil_paint(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Thick brush daubs: a Kuwahara filter (flat strokes, kept edges), richer colour, lit brush-stroke relief."""
    x = to_array(img)
    out = _kuwahara(x, px(img, rng.uniform(3, 6)))
    grey = luma(out)[..., None]
    out = grey + (out - grey) * rng.uniform(1.2, 1.6)
    angle = rng.uniform(0, np.pi)
    strokes = ndimage.gaussian_filter(rng.normal(0, 1, x.shape[:2]).astype(np.float32), (px(img, 3), px(img, 0.7)))
    strokes = ndimage.rotate(strokes, np.degrees(angle), reshape=False, mode="reflect")
    relief = ndimage.sobel(strokes + 4 * luma(out), axis=1) * rng.uniform(0.03, 0.06)
    return to_image(out + relief[..., None])


def pencil_sketch(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Graphite on paper: a colour-dodge of the grey image by its blurred negative, light paper tint and grain."""
    grey = luma(to_array(img))
    blurred = ndimage.gaussian_filter(1.0 - grey, px(img, rng.uniform(3.0, 8.0)))
    sketch = np.clip(grey / np.maximum(1.0 - blurred, 1e-3), 0.0, 1.0) ** rng.uniform(1.2, 2.4)
    grain = ndimage.gaussian_filter(rng.normal(0, 1, grey.shape).astype(np.float32), (0.5, px(img, 2)))
    sketch = np.clip(sketch + grain * 0.04 * (1.0 - sketch), 0.0, 1.0)
    paper = np.array([1.0, 1.0, 1.0], np.float32) - rng.uniform(0.0, 0.08) * np.array([0.0, 0.2, 0.6], np.float32)
    return to_image(sketch[..., None] * paper)


def cartoon(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cel shading: smoothed, few flat bold colours, and thick black outlines round the shapes."""
    x = to_array(img)
    smooth = to_image(denoise_tv_chambolle(x, weight=rng.uniform(0.12, 0.25), channel_axis=-1))
    flat = to_array(smooth.quantize(colors=int(rng.integers(5, 11)), method=Image.Quantize.MEDIANCUT))
    grey = luma(flat)[..., None]
    flat = grey + (flat - grey) * rng.uniform(1.2, 1.7)
    soft = ndimage.gaussian_filter(luma(x), span(img, 2.0, 0.7))
    edges = np.hypot(ndimage.sobel(soft, 0), ndimage.sobel(soft, 1))
    lines = edges > np.percentile(edges, rng.uniform(86, 93))
    lines = ndimage.binary_dilation(lines, iterations=px(img, rng.uniform(0.6, 1.6)))
    flat[lines] = 0.05
    return to_image(flat)


def pixel_art(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Chunky square pixels: shrunk to 10 to 36 blocks across (often a small palette), enlarged without smoothing."""
    blocks = int(rng.integers(10, 37))
    blocks = min(blocks, img.width // 2)
    small = img.resize((blocks, blocks), Image.BOX)
    if rng.random() < 0.6:
        small = small.quantize(colors=int(rng.integers(6, 25)), method=Image.Quantize.MEDIANCUT).convert("RGB")
    return small.resize(img.size, Image.NEAREST)


def _dot_screen(channel: np.ndarray, cell: float, angle: float, dark_ink: bool) -> np.ndarray:
    """One halftone screen: a rotated grid of round dots whose area follows the ink amount at each cell's centre."""
    h, w = channel.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xx * c + yy * s) / cell, (-xx * s + yy * c) / cell
    cu, cv = np.floor(u) + 0.5, np.floor(v) + 0.5
    cx, cy = (cu * c - cv * s) * cell, (cu * s + cv * c) * cell
    ink = channel[np.clip(np.round(cy), 0, h - 1).astype(int), np.clip(np.round(cx), 0, w - 1).astype(int)]
    ink = 1.0 - ink if dark_ink else ink
    radius = np.sqrt(np.clip(ink, 0, 1) / np.pi) * 1.15  # dot area ∝ ink, in cells
    return (np.hypot(u - cu, v - cv) < radius).astype(np.float32)


def halftone(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Print dots: black dots on paper, or cyan/magenta/yellow screens at their own angles."""
    x = ndimage.gaussian_filter(to_array(img), (1, 1, 0))
    cell = span(img, rng.uniform(5.0, 10.0), 2.5)
    base = rng.uniform(0, np.pi / 2)
    if rng.random() < 0.5:
        dots = _dot_screen(luma(x), cell, base + np.pi / 4, dark_ink=True)
        return to_image(1.0 - dots * rng.uniform(0.85, 1.0))
    out, cell = np.ones_like(x), cell * 1.3  # coloured screens overlap: coarser dots keep them readable
    for ch, offset in zip(range(3), (np.radians(15), np.radians(75), 0.0), strict=True):
        out[..., ch] -= _dot_screen(x[..., ch], cell, base + offset, dark_ink=True)  # C, M, Y inks absorb R, G, B
    return to_image(out)


def emboss(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Raised relief lit from one side: grey surface, edges standing out as highlights and shadows."""
    grey = ndimage.gaussian_filter(luma(to_array(img)), px(img, rng.uniform(0.5, 1.2)))
    angle = rng.uniform(0, 2 * np.pi)
    slope = ndimage.sobel(grey, 1) * np.cos(angle) + ndimage.sobel(grey, 0) * np.sin(angle)
    relief = 0.5 + slope * rng.uniform(0.6, 1.4)
    if rng.random() < 0.3:  # sometimes a little of the colour stays
        colour = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), np.float32) / 255.0
        return to_image(relief[..., None] * 0.8 + (colour - luma(colour)[..., None] + 0.1) * 0.4)
    return to_image(relief)
