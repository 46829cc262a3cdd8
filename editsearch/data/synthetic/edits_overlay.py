"""Local and additive edits: frames, vignette, weather, pasted shapes, stickers, text: fn(img, rng)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from editsearch.data.synthetic.imaging import Edit, draw, load_font, pick, smooth_noise, to_array, to_image

FRAME_COLORS: dict[str, tuple[int, int, int]] = {
    "white": (250, 250, 245),
    "black": (15, 15, 15),
    "red": (200, 25, 30),
    "gold": (212, 170, 50),
    "navy": (20, 35, 110),
    "brown": (110, 70, 35),
    "green": (30, 130, 60),
}
SHAPE_COLORS = [
    (230, 40, 40),
    (250, 200, 20),
    (40, 110, 230),
    (40, 190, 90),
    (240, 120, 20),
    (170, 60, 210),
    (250, 250, 250),
    (240, 90, 170),
]
WORDS = [
    "HELLO",
    "SUMMER",
    "SALE",
    "LOVE",
    "WOW",
    "2024",
    "HAPPY DAY",
    "PARIS",
    "DREAM",
    "OPEN",
    "GOOD VIBES",
    "THE END",
    "NEW",
    "BEST DAY",
    "COFFEE",
    "WELCOME",
]


def frame(img: Image.Image, rng: np.random.Generator) -> Edit:
    """A solid border around the picture, with a thin contrasting inner line."""
    name = str(pick(rng, sorted(FRAME_COLORS)))
    rel = draw(rng, 0.06, 0.11)
    w, h = img.size
    t = max(3, round(rel * w))
    out = img.copy()
    d = ImageDraw.Draw(out)
    color = FRAME_COLORS[name]
    d.rectangle((0, 0, w - 1, h - 1), outline=color, width=t)
    inner = (40, 40, 40) if sum(color) > 380 else (235, 235, 225)
    d.rectangle((t, t, w - 1 - t, h - 1 - t), outline=inner, width=max(1, t // 6))
    return out, {"color": name, "width": rel}


def vignette(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Darken the corners and edges with a smooth radial falloff."""
    strength, start = draw(rng, 0.7, 0.95), draw(rng, 0.25, 0.45)
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
    fall = np.clip((r - start) / (1 - start), 0, 1) ** 1.5
    return to_image(to_array(img) * (1 - strength * fall)[..., None]), {"strength": strength, "start": start}


def _particles(
    size: tuple[int, int], rng: np.random.Generator, n: int, radius: tuple[float, float], blur: float
) -> np.ndarray:
    """An HxW 0..1 mask of n soft round flakes."""
    w, h = size
    layer = Image.new("L", size, 0)
    d = ImageDraw.Draw(layer)
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    rs = rng.uniform(radius[0], radius[1], n)
    for x, y, r in zip(xs, ys, rs, strict=True):
        d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    if blur > 0:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(layer, dtype=np.float32) / 255.0


def snow(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Falling snow: many white flakes, small sharp ones and big soft ones, in a cold pale haze."""
    density = draw(rng, 0.6, 1.0)
    w, h = img.size
    s = w / 256
    small = _particles(img.size, rng, int(700 * density * s * s), (0.8 * s, 1.8 * s), 0)
    big = _particles(img.size, rng, int(90 * density * s * s), (2.5 * s, 4.5 * s), 1.2 * s)
    flakes = np.clip(small + big * 1.3, 0, 1)[..., None]
    hazy = to_array(img) * 0.8 + np.array([205, 215, 235], dtype=np.float32) * 0.2
    return to_image(hazy * (1 - flakes) + 252 * flakes), {"density": density}


def rain(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Rain: long slanted pale streaks over a darker, blue-grey scene."""
    density = draw(rng, 0.6, 1.0)
    angle = draw(rng, -20, 20)
    w, h = img.size
    s = w / 256
    layer = Image.new("L", img.size, 0)
    d = ImageDraw.Draw(layer)
    n = int(420 * density * s * s)
    xs, ys = rng.uniform(-0.2 * w, 1.2 * w, n), rng.uniform(-0.1 * h, h, n)
    lengths = rng.uniform(14 * s, 34 * s, n)
    dx, dy = np.sin(np.radians(angle)), np.cos(np.radians(angle))
    for x, y, ln in zip(xs, ys, lengths, strict=True):
        d.line((x, y, x + dx * ln, y + dy * ln), fill=int(rng.integers(150, 256)), width=max(1, round(s)))
    streaks = (np.asarray(layer.filter(ImageFilter.GaussianBlur(0.5 * s)), dtype=np.float32) / 255)[..., None]
    gloomy = to_array(img) * 0.62 + np.array([55, 65, 85], dtype=np.float32) * 0.38
    return to_image(gloomy * (1 - streaks * 0.75) + 225 * streaks * 0.75), {"density": density, "angle": angle}


def fog(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Thick uneven fog: a pale grey veil that hides contrast, thicker in places."""
    thickness = draw(rng, 0.5, 0.72)
    w, h = img.size
    veil = thickness * (0.75 + 0.5 * smooth_noise(rng, (h, w), 5))
    veil = np.clip(veil, 0, 0.92)[..., None]
    soft = to_array(img.filter(ImageFilter.GaussianBlur(w / 160)))
    return to_image(soft * (1 - veil) + 218 * veil), {"thickness": thickness}


def _star(cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    """Vertices of a five-pointed star."""
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.45
        a = rot + i * np.pi / 5
        pts.append((cx + rad * np.sin(a), cy - rad * np.cos(a)))
    return pts


def shapes(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Paste a few bold, brightly coloured geometric shapes (circles, squares, triangles, stars)."""
    w, h = img.size
    out = img.copy()
    d = ImageDraw.Draw(out)
    kinds = []
    for _ in range(int(rng.integers(3, 7))):
        kind = str(pick(rng, ["circle", "square", "triangle", "star"]))
        color = tuple(pick(rng, SHAPE_COLORS))
        r = rng.uniform(0.07, 0.14) * w
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        outline, width = (20, 20, 20), max(1, round(w / 128))
        if kind == "circle":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color, outline=outline, width=width)
        elif kind == "square":
            d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=color, outline=outline, width=width)
        elif kind == "triangle":
            d.polygon(
                [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=color, outline=outline, width=width
            )
        else:
            d.polygon(_star(cx, cy, r * 1.2, rng.uniform(0, 1)), fill=color, outline=outline, width=width)
        kinds.append(kind)
    return out, {"shapes": kinds}


def smiley(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Stick a yellow smiley face on the picture."""
    w, h = img.size
    rel = draw(rng, 0.2, 0.34)
    r = rel * w
    cx, cy = rng.uniform(r + 2, w - r - 2), rng.uniform(r + 2, h - r - 2)
    out = img.copy()
    d = ImageDraw.Draw(out)
    lw = max(2, round(r / 12))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 214, 10), outline=(30, 20, 0), width=lw)
    for ex in (-0.35, 0.35):
        d.ellipse((cx + ex * r - r * 0.1, cy - r * 0.42, cx + ex * r + r * 0.1, cy - r * 0.1), fill=(30, 20, 0))
    d.arc((cx - r * 0.55, cy - r * 0.45, cx + r * 0.55, cy + r * 0.6), 20, 160, fill=(30, 20, 0), width=lw)
    return out, {"size": rel, "x": round(cx / w, 3), "y": round(cy / h, 3)}


def text(img: Image.Image, rng: np.random.Generator) -> Edit:
    """Overlay a bold caption word in white with a black outline (or the reverse)."""
    word = str(pick(rng, WORDS))
    w, h = img.size
    px = max(10, round(draw(rng, 0.13, 0.2) * w))
    font = load_font(px)
    out = img.copy()
    d = ImageDraw.Draw(out)
    stroke = max(1, px // 10)
    box = d.textbbox((0, 0), word, font=font, stroke_width=stroke)
    while box[2] - box[0] > w * 0.92 and px > 10:
        px = int(px * 0.85)
        font, stroke = load_font(px), max(1, px // 10)
        box = d.textbbox((0, 0), word, font=font, stroke_width=stroke)
    place = str(pick(rng, ["top", "center", "bottom"]))
    tw, th = box[2] - box[0], box[3] - box[1]
    y = {"top": 0.06 * h, "center": (h - th) / 2, "bottom": h - th - 0.08 * h}[place] - box[1]
    x = (w - tw) / 2 - box[0]
    fill, edge = ((255, 255, 255), (0, 0, 0)) if rng.random() < 0.7 else ((10, 10, 10), (255, 255, 255))
    d.text((x, y), word, font=font, fill=fill, stroke_width=stroke, stroke_fill=edge)
    return out, {"text": word, "position": place}
