"""Procedural source scenes (landscapes, cities, shapes, blobs, patterns, still lifes, portraits, rooms) from an rng."""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from editsearch.core.rng import stream
from editsearch.data.synthetic.imaging import smooth_noise, to_image


def hsv_color(h: float, s: float, v: float) -> tuple[int, int, int]:
    """An HSV colour (0..1 each) as 8-bit RGB."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _random_color(
    rng: np.random.Generator, s: tuple[float, float] = (0.45, 0.95), v: tuple[float, float] = (0.45, 1.0)
) -> tuple[int, int, int]:
    """A random saturated colour."""
    return hsv_color(rng.random(), rng.uniform(*s), rng.uniform(*v))


def _vertical_gradient(
    size: int, top: tuple[int, int, int], bottom: tuple[int, int, int], height: int | None = None
) -> np.ndarray:
    """An HxWx3 float array blending `top` to `bottom` over `height` rows (default: the whole image)."""
    height = height or size
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    return np.broadcast_to(col, (height, size, 3)).copy()


def _ridge(rng: np.random.Generator, size: int, base: float, amp: float) -> list[tuple[float, float]]:
    """A mountain-ridge polygon (closed at the bottom) from a smoothed random walk."""
    n = 24
    heights = np.cumsum(rng.normal(0, 1, n))
    heights = (heights - heights.mean()) / (np.abs(heights).max() + 1e-6)
    xs = np.linspace(-0.05, 1.05, n) * size
    pts = [(float(x), float(size * (base - amp * hgt))) for x, hgt in zip(xs, heights, strict=True)]
    return pts + [(size * 1.05, size), (-size * 0.05, size)]


def landscape(rng: np.random.Generator, size: int) -> Image.Image:
    """Sky, sun, mountain ridges and a field, under a day, sunset or dusk palette."""
    palette = int(rng.integers(3))
    sky_top, sky_low = [
        ((40, 110, 210), (170, 210, 245)),
        ((60, 40, 120), (250, 150, 80)),
        ((20, 20, 60), (140, 80, 140)),
    ][palette]
    horizon = rng.uniform(0.45, 0.65)
    img = to_image(_vertical_gradient(size, sky_top, sky_low))
    d = ImageDraw.Draw(img)
    r = size * rng.uniform(0.05, 0.1)
    sx, sy = rng.uniform(0.15, 0.85) * size, rng.uniform(0.1, horizon - 0.15) * size
    d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=[(255, 240, 180), (255, 200, 90), (235, 235, 220)][palette])
    base_hue = rng.random()
    for layer in range(int(rng.integers(1, 4))):
        depth = layer / 3
        color = hsv_color(base_hue + 0.05 * layer, 0.3 + 0.3 * depth, 0.65 - 0.3 * depth)
        d.polygon(_ridge(rng, size, horizon - 0.12 + 0.06 * layer, 0.12), fill=color)
    ground = _random_color(rng, (0.4, 0.8), (0.35, 0.7))
    top = int(horizon * size) + int(size * 0.04)
    field = _vertical_gradient(size, ground, tuple(int(c * 0.5) for c in ground), size - top)
    img.paste(to_image(field), (0, top))
    return img


def city(rng: np.random.Generator, size: int) -> Image.Image:
    """A skyline: buildings with lit windows against a gradient sky, a street below."""
    night = rng.random() < 0.4
    sky = ((15, 20, 60), (70, 60, 120)) if night else ((90, 150, 230), (200, 225, 250))
    img = to_image(_vertical_gradient(size, *sky))
    d = ImageDraw.Draw(img)
    street = size * rng.uniform(0.78, 0.9)
    x = -rng.uniform(0, 0.1) * size
    while x < size:
        bw = size * rng.uniform(0.08, 0.2)
        top = size * rng.uniform(0.15, 0.6)
        v = rng.uniform(0.25, 0.7) * (0.5 if night else 1)
        d.rectangle((x, top, x + bw, street), fill=hsv_color(rng.random(), rng.uniform(0.05, 0.35), v))
        win = max(2, int(size / 64))
        for wy in np.arange(top + win * 2, street - win * 2, win * 3):
            for wx in np.arange(x + win, x + bw - win * 2, win * 2.5):
                lit = rng.random() < (0.6 if night else 0.25)
                d.rectangle((wx, wy, wx + win, wy + win * 1.4), fill=(250, 220, 120) if lit else (40, 50, 70))
        x += bw + size * rng.uniform(0, 0.03)
    d.rectangle((0, street, size, size), fill=(60, 60, 65))
    d.line((0, (street + size) / 2, size, (street + size) / 2), fill=(230, 210, 90), width=max(1, size // 80))
    return img


def shapes_scene(rng: np.random.Generator, size: int) -> Image.Image:
    """Overlapping coloured shapes on a two-colour gradient background."""
    img = to_image(_vertical_gradient(size, _random_color(rng), _random_color(rng)))
    if rng.random() < 0.5:
        img = img.rotate(90)
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 15))):
        r = size * rng.uniform(0.05, 0.22)
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        color = _random_color(rng)
        kind = int(rng.integers(3))
        if kind == 0:
            d.ellipse((cx - r, cy - r * rng.uniform(0.5, 1), cx + r, cy + r), fill=color)
        elif kind == 1:
            d.rectangle((cx - r, cy - r * rng.uniform(0.3, 1), cx + r, cy + r), fill=color)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            d.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles], fill=color)
    return img


def blobs(rng: np.random.Generator, size: int) -> Image.Image:
    """Organic colour regions: the argmax of a few smooth noise fields, softly shaded."""
    k = int(rng.integers(3, 6))
    fields = np.stack([smooth_noise(rng, (size, size), int(rng.integers(3, 7))) for _ in range(k)])
    labels = np.argmax(fields, axis=0)
    palette = np.array([_random_color(rng) for _ in range(k)], dtype=np.float32)
    shade = 0.75 + 0.25 * smooth_noise(rng, (size, size), 4)
    return to_image(palette[labels] * shade[..., None]).filter(ImageFilter.SMOOTH_MORE)


def pattern(rng: np.random.Generator, size: int) -> Image.Image:
    """Stripes, checks or waves in two or three colours, at a random angle and scale."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = rng.uniform(0, np.pi)
    u, v = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
    f = rng.uniform(3, 10)
    kind = int(rng.integers(3))
    if kind == 0:
        t = (np.sin(2 * np.pi * f * u) > 0).astype(np.float32)
    elif kind == 1:
        t = ((np.floor(u * f) + np.floor(v * f)) % 2).astype(np.float32)
    else:
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * u + 3 * np.sin(2 * np.pi * v * 2))
    c1, c2 = np.array(_random_color(rng), np.float32), np.array(_random_color(rng), np.float32)
    arr = c1 * t[..., None] + c2 * (1 - t[..., None])
    return to_image(arr * (0.8 + 0.2 * smooth_noise(rng, (size, size), 3))[..., None])


def still_life(rng: np.random.Generator, size: int) -> Image.Image:
    """Shaded round fruit on a table in front of a wall."""
    table = rng.uniform(0.55, 0.75)
    arr = _vertical_gradient(
        size, _random_color(rng, (0.1, 0.4), (0.6, 0.9)), _random_color(rng, (0.1, 0.4), (0.4, 0.7))
    )
    cut = int(table * size)
    arr[cut:] = _vertical_gradient(size, _random_color(rng, (0.3, 0.7), (0.4, 0.7)), (40, 25, 15), size - cut)
    for _ in range(int(rng.integers(2, 5))):
        r = size * rng.uniform(0.08, 0.16)
        cx, cy = rng.uniform(r, size - r), table * size + rng.uniform(-0.3, 0.6) * r
        x0, x1 = max(0, int(cx - 1.7 * r)), min(size, int(cx + 1.7 * r) + 1)
        y0, y1 = max(0, int(cy - 1.1 * r)), min(size, int(cy + 1.3 * r) + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        patch = arr[y0:y1, x0:x1]
        shadow = np.hypot((xx - cx - 0.35 * r) / (1.3 * r), (yy - cy - 0.8 * r) / (0.4 * r)) < 1
        patch *= np.where(shadow, 0.6, 1.0)[..., None]
        light = np.clip(1.15 - np.hypot(xx - cx + 0.4 * r, yy - cy + 0.4 * r) / (1.6 * r), 0.25, 1.1)
        color = np.array(_random_color(rng, (0.6, 1), (0.7, 1)), np.float32)
        inside = (np.hypot(xx - cx, yy - cy) < r)[..., None]
        arr[y0:y1, x0:x1] = np.where(inside, color * light[..., None], patch)
    return to_image(arr)


def portrait(rng: np.random.Generator, size: int) -> Image.Image:
    """A figure: shoulders, a shaded head with hair, eyes and mouth, in front of a soft background."""
    img = to_image(_vertical_gradient(size, _random_color(rng, (0.1, 0.5)), _random_color(rng, (0.1, 0.5))))
    img = img.filter(ImageFilter.GaussianBlur(size / 20))
    d = ImageDraw.Draw(img)
    cx, cy, r = size * rng.uniform(0.35, 0.65), size * rng.uniform(0.35, 0.5), size * rng.uniform(0.14, 0.22)
    d.ellipse([cx - 2.3 * r, cy + 1.4 * r, cx + 2.3 * r, cy + 4.5 * r], fill=_random_color(rng))
    skin = hsv_color(rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.95))
    d.rectangle([cx - 0.35 * r, cy + 0.8 * r, cx + 0.35 * r, cy + 1.7 * r], fill=skin)
    d.ellipse(
        [cx - 1.1 * r, cy - 1.25 * r, cx + 1.1 * r, cy + 0.6 * r], fill=_random_color(rng, (0.2, 0.7), (0.1, 0.6))
    )
    d.ellipse([cx - 0.85 * r, cy - 0.95 * r, cx + 0.85 * r, cy + 1.1 * r], fill=skin)
    eye, ey = r * rng.uniform(0.09, 0.14), cy - 0.1 * r
    for ex in (cx - 0.35 * r, cx + 0.35 * r):
        d.ellipse([ex - 1.6 * eye, ey - eye, ex + 1.6 * eye, ey + eye], fill=(245, 245, 240))
        d.ellipse([ex - eye, ey - eye, ex + eye, ey + eye], fill=_random_color(rng, (0.3, 0.8), (0.1, 0.5)))
    d.arc(
        [cx - 0.35 * r, cy + 0.35 * r, cx + 0.35 * r, cy + 0.75 * r],
        10,
        170,
        fill=(120, 40, 40),
        width=max(1, size // 80),
    )
    return img


def interior(rng: np.random.Generator, size: int) -> Image.Image:
    """A room in perspective: back wall with a window, side walls, a floor, and a table and lamp."""
    img = Image.new("RGB", (size, size), _random_color(rng, (0.05, 0.35), (0.55, 0.9)))
    d = ImageDraw.Draw(img)
    x0, y0 = size * rng.uniform(0.2, 0.35), size * rng.uniform(0.15, 0.3)
    x1, y1 = size - size * rng.uniform(0.2, 0.35), size * rng.uniform(0.6, 0.72)
    side = _random_color(rng, (0.05, 0.35), (0.4, 0.75))
    d.polygon([(0, 0), (x0, y0), (x0, y1), (0, size)], fill=side)
    d.polygon([(size, 0), (x1, y0), (x1, y1), (size, size)], fill=tuple(int(c * 0.85) for c in side))
    d.polygon([(0, size), (x0, y1), (x1, y1), (size, size)], fill=_random_color(rng, (0.3, 0.7), (0.25, 0.6)))
    wx, ww = rng.uniform(x0 + 0.1 * (x1 - x0), x0 + 0.45 * (x1 - x0)), (x1 - x0) * rng.uniform(0.25, 0.4)
    wy, wh = y0 + (y1 - y0) * 0.15, (y1 - y0) * rng.uniform(0.3, 0.45)
    sky = to_image(_vertical_gradient(int(wh) + 1, (70, 130, 220), (200, 225, 250)))
    img.paste(sky.crop((0, 0, int(ww) + 1, int(wh) + 1)), (int(wx), int(wy)))
    d.rectangle([wx, wy, wx + ww, wy + wh], outline=(240, 240, 235), width=max(1, size // 60))
    d.line([wx + ww / 2, wy, wx + ww / 2, wy + wh], fill=(240, 240, 235), width=max(1, size // 80))
    tx, ty, tw = size * rng.uniform(0.3, 0.55), size * rng.uniform(0.72, 0.8), size * rng.uniform(0.2, 0.35)
    wood = hsv_color(rng.uniform(0.05, 0.1), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.6))
    d.rectangle([tx, ty, tx + tw, ty + size * 0.04], fill=wood)
    for lx in (tx + size * 0.02, tx + tw - size * 0.04):
        d.rectangle([lx, ty, lx + size * 0.02, ty + size * 0.15], fill=wood)
    lamp = _random_color(rng)
    d.polygon(
        [
            (tx + tw * 0.6, ty - size * 0.12),
            (tx + tw * 0.9, ty - size * 0.12),
            (tx + tw * 0.8, ty - size * 0.2),
            (tx + tw * 0.7, ty - size * 0.2),
        ],
        fill=lamp,
    )
    d.line([tx + tw * 0.75, ty - size * 0.12, tx + tw * 0.75, ty], fill=(60, 60, 60), width=max(1, size // 100))
    return img


SCENES: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "landscape": landscape,
    "city": city,
    "shapes": shapes_scene,
    "blobs": blobs,
    "pattern": pattern,
    "still_life": still_life,
    "portrait": portrait,
    "interior": interior,
}


def render_scene(kind: str, seed: int, size: int) -> Image.Image:
    """Render scene `kind` number `seed` at size x size, with a little sensor grain so nothing is flat."""
    rng = stream(seed, "scene")
    img = SCENES[kind](rng, size)
    arr = np.asarray(img, dtype=np.float32) + rng.standard_normal((size, size, 3), dtype=np.float32) * 3
    return to_image(arr)
