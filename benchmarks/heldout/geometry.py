"""Geometric edits and borders: flips, quarter turns, tilt, zoom, frames, vignette."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from benchmarks.heldout.pixels import px, to_array, to_image


def flip_horizontal(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mirror left to right."""
    return ImageOps.mirror(img)


def flip_vertical(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Upside down mirror (top to bottom)."""
    return ImageOps.flip(img)


def rotate_90(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A quarter turn, clockwise or anticlockwise."""
    return img.transpose(Image.Transpose.ROTATE_90 if rng.random() < 0.5 else Image.Transpose.ROTATE_270)


def tilt(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A slanted horizon: rotated 6 to 25 degrees either way, then cropped to hide the corners or left with them."""
    angle = rng.uniform(6.0, 25.0) * rng.choice([-1.0, 1.0])
    if rng.random() < 0.5:
        theta = np.radians(abs(angle))
        side = img.width / (np.cos(theta) + np.sin(theta))  # the largest upright square free of the corners
        lo, hi = (img.width - side) / 2, (img.width + side) / 2
        return img.rotate(angle, Image.BICUBIC).resize(img.size, Image.BICUBIC, box=(lo, lo, hi, hi))
    fill = tuple(int(v) for v in rng.choice([[0, 0, 0], [255, 255, 255], [128, 128, 128]]))
    return img.rotate(angle, Image.BICUBIC, fillcolor=fill)


def zoom_in(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Closer in: a 40-75 % window (near the centre) enlarged back to full size."""
    side = img.width * rng.uniform(0.4, 0.75)
    slack = img.width - side
    left, top = slack * rng.uniform(0.25, 0.75), slack * rng.uniform(0.25, 0.75)
    return img.resize(img.size, Image.BICUBIC, box=(left, top, left + side, top + side))


def _frame_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A frame colour: white, black, gold, wood brown, dark red, navy or a random one."""
    palette = [(250, 250, 245), (15, 15, 15), (200, 160, 60), (110, 70, 35), (120, 20, 30), (25, 35, 90)]
    pick = rng.integers(len(palette) + 1)
    return palette[pick] if pick < len(palette) else tuple(int(v) for v in rng.integers(0, 256, 3))


def frame(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A border round the picture: plain, with an inner mat line, or bevelled; drawn over it or with it shrunk in."""
    width = px(img, rng.uniform(10, 30))
    colour = _frame_colour(rng)
    style = rng.integers(3)
    if rng.random() < 0.5:  # the border covers the picture's edges
        out = img.copy()
        ImageDraw.Draw(out).rectangle((0, 0, img.width - 1, img.height - 1), outline=colour, width=width)
    else:  # the picture is shrunk inside the border
        out = Image.new("RGB", img.size, colour)
        out.paste(img.resize((img.width - 2 * width, img.height - 2 * width), Image.BICUBIC), (width, width))
    draw = ImageDraw.Draw(out)
    last = img.width - 1
    if style == 1:  # a thin contrasting line just inside the border
        line = (30, 30, 30) if sum(colour) > 380 else (235, 225, 200)
        gap = width - px(img, 3)
        draw.rectangle((gap, gap, last - gap, last - gap), outline=line, width=px(img, 1.5))
    elif style == 2:  # bevel: lighter top-left, darker bottom-right
        light = tuple(min(255, c + 60) for c in colour)
        dark = tuple(max(0, c - 60) for c in colour)
        for i in range(width // 2):
            draw.line((i, i, last - i, i), fill=light)
            draw.line((i, i, i, last - i), fill=light)
            draw.line((i, last - i, last - i, last - i), fill=dark)
            draw.line((last - i, i, last - i, last - i), fill=dark)
    return out


def vignette(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Corners and edges fall off into darkness (now and then into white), the centre kept."""
    x = to_array(img)
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2 * rng.uniform(0.85, 1.15), w / 2 * rng.uniform(0.85, 1.15)
    r = np.hypot((yy - cy) / (h / 2), (xx - cx) / (w / 2)) / np.sqrt(2)
    start = rng.uniform(0.2, 0.5)
    fall = np.clip((r - start) / (1 - start), 0, 1) ** rng.uniform(1.2, 2.2) * rng.uniform(0.7, 1.0)
    tone = 1.0 if rng.random() < 0.15 else 0.0
    return to_image(x * (1 - fall[..., None]) + tone * fall[..., None])
