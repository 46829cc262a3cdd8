"""Geometric edits: flips, rotations and zoom: fn(img, rng) -> (img, params)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from editsearch.data.synthetic.imaging import Edit, draw, pick


def flip_horizontal(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Mirror left to right."""
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), {}


def flip_vertical(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Turn upside down by mirroring top to bottom."""
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM), {}


def rotate_90(img: Image.Image, rng: np.random.Generator) -> Edit:
    """A quarter turn, clockwise or counter-clockwise."""
    direction = str(pick(rng, ["clockwise", "counterclockwise"]))
    op = Image.Transpose.ROTATE_270 if direction == "clockwise" else Image.Transpose.ROTATE_90
    return img.transpose(op), {"direction": direction}


def tilt(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Rotate by a small angle and zoom just enough that no empty corners show."""
    angle = draw(rng, 10, 25) * (1 if rng.random() < 0.5 else -1)
    a = math.radians(abs(angle))
    scale = math.cos(a) + math.sin(a)
    w, h = img.size
    big = img.resize((round(w * scale), round(h * scale)), Image.BICUBIC).rotate(angle, Image.BICUBIC)
    left, top = (big.width - w) // 2, (big.height - h) // 2
    return big.crop((left, top, left + w, top + h)), {"angle": angle}


def zoom_in(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Crop a central region (40-65% of the side) and scale it back up."""
    frac = draw(rng, 0.4, 0.65)
    w, h = img.size
    cw, ch = w * frac, h * frac
    cx = w / 2 + draw(rng, -0.1, 0.1) * w
    cy = h / 2 + draw(rng, -0.1, 0.1) * h
    left, top = min(max(cx - cw / 2, 0), w - cw), min(max(cy - ch / 2, 0), h - ch)
    box = (left, top, left + cw, top + ch)
    return img.resize(img.size, Image.BICUBIC, box=box), {"crop": frac}
