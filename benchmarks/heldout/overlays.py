"""Things laid over the photo: snow, rain, fog, geometric shapes, a smiley face, a caption."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from benchmarks.heldout.pixels import count, luma, px, smooth_noise, to_array, to_image

CAPTIONS = (
    "HELLO", "Summer 2019", "best day ever", "SALE", "Greetings from here", "wish you were here", "NO ENTRY",
    "lunch break", "Happy Birthday!", "Day 1", "home sweet home", "OPEN", "look at this", "memories", "WOW",
    "see you soon", "Monday mood", "the end", "Trip #4", "draft", "keep calm", "Top 10", "LOL", "weekend",
)  # fmt: skip


def _overlay(img: Image.Image, layer: Image.Image, blur: float) -> Image.Image:
    """Composite an RGBA layer (softened by `blur` px) over the image."""
    layer = layer.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else layer
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def snow(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Falling snow: white flakes of mixed sizes, the nearer ones bigger and softer, in a pale wintry haze."""
    x = to_array(img)
    x = x * (1 - (haze := rng.uniform(0.05, 0.25))) + np.array([0.9, 0.93, 1.0], np.float32) * haze
    base = to_image(x)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(count(img, rng.uniform(80, 400))):
        r = px(img, rng.choice([0.8, 1.2, 1.8, 2.6, 3.5], p=[0.3, 0.3, 0.2, 0.15, 0.05]))
        cx, cy = rng.uniform(0, img.width), rng.uniform(0, img.height)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255, int(rng.integers(170, 256))))
    return _overlay(base, layer, img.width / 224 * 0.6)


def rain(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Rainfall: thin slanted pale streaks over a dimmer, greyer scene."""
    x = to_array(img)
    grey = luma(x)[..., None]
    x = (grey + (x - grey) * rng.uniform(0.5, 0.85)) * rng.uniform(0.6, 0.85)
    base = to_image(x)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    slant = np.radians(rng.uniform(-25, 25))
    for _ in range(count(img, rng.uniform(150, 500))):
        length = px(img, rng.uniform(8, 26))
        sx, sy = rng.uniform(-20, img.width + 20), rng.uniform(-30, img.height)
        ex, ey = sx + length * np.sin(slant), sy + length * np.cos(slant)
        draw.line((sx, sy, ex, ey), fill=(210, 215, 225, int(rng.integers(90, 190))), width=px(img, 1))
    return _overlay(base, layer, img.width / 224 * 0.4)


def fog(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mist: an uneven pale-grey veil (denser in drifting patches and towards one edge) that eats contrast."""
    x = to_array(img)
    h, w = x.shape[:2]
    patches = smooth_noise(rng, (h, w), int(rng.integers(3, 7)))
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    ramp = ramp if rng.random() < 0.5 else ramp[::-1]
    density = rng.uniform(0.45, 0.8) * (0.55 + 0.25 * patches + 0.2 * ramp)
    veil = np.array([0.82, 0.84, 0.86], np.float32) + rng.uniform(-0.06, 0.06)
    soft = np.asarray(img.filter(ImageFilter.GaussianBlur(px(img, 1.5))), np.float32) / 255.0
    return to_image(soft * (1 - density[..., None]) + veil * density[..., None])


def _bright(rng: np.random.Generator) -> tuple[int, int, int]:
    """A saturated colour (random hue, full saturation)."""
    rgb = np.zeros(3)
    rgb[rng.permutation(3)[:2]] = [255, rng.uniform(0, 255)]
    return tuple(int(v) for v in rgb)


def shapes(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Two to six flat geometric shapes (circles, rectangles, triangles, stars) in strong colours, some outlined."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(2, 7))):
        size = img.width * rng.uniform(0.12, 0.35)
        cx, cy = rng.uniform(size / 2, img.width - size / 2, 2)
        colour = _bright(rng)
        fill, outline = (colour, None) if rng.random() < 0.7 else (None, colour)
        width = px(img, rng.uniform(2, 5))
        kind = rng.integers(4)
        if kind == 0:
            draw.ellipse((cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), fill, outline, width)
        elif kind == 1:
            ax, ay = size / 2, size / 2 * rng.uniform(0.5, 1.0)
            draw.rectangle((cx - ax, cy - ay, cx + ax, cy + ay), fill, outline, width)
        else:
            sides, star = (3, False) if kind == 2 else (5, True)
            turn = rng.uniform(0, 2 * np.pi)
            corners = np.arange(sides * (2 if star else 1)) * np.pi / (sides if star else sides / 2) + turn
            radii = np.where(np.arange(len(corners)) % 2 == 1, 0.45, 1.0) if star else np.ones(len(corners))
            points = [
                (cx + r * size / 2 * np.cos(a), cy + r * size / 2 * np.sin(a))
                for r, a in zip(radii, corners, strict=True)
            ]
            draw.polygon(points, fill, outline, width)
    return out


def smiley(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A smiley face: a round (usually yellow) face with two eyes and a smiling mouth."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    r = img.width * rng.uniform(0.14, 0.32)
    cx, cy = rng.uniform(r + 1, img.width - r - 1, 2)
    face = (255, 215, 0) if rng.random() < 0.75 else _bright(rng)
    ink = (20, 20, 20)
    line = px(img, rng.uniform(2, 4))
    if rng.random() < 0.8:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=face, outline=ink, width=line)
    else:  # outline only, in a bright colour
        ink = face
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=line)
    eye = r * 0.13
    for side in (-1, 1):
        ex, ey = cx + side * r * 0.35, cy - r * 0.28
        draw.ellipse((ex - eye, ey - eye * 1.4, ex + eye, ey + eye * 1.4), fill=ink)
    mouth = r * rng.uniform(0.45, 0.65)
    draw.arc((cx - mouth, cy - mouth * 0.6, cx + mouth, cy + mouth * 0.9), 15, 165, fill=ink, width=line)
    return out


def text(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A caption written on the photo: plain, outlined, or on a banner; at the top, middle or bottom."""
    words = str(rng.choice(CAPTIONS))
    size = img.width * rng.uniform(0.1, 0.2)
    font = ImageFont.load_default(size=size)
    out = img.copy()
    draw = ImageDraw.Draw(out)
    while draw.textlength(words, font=font) > img.width * 0.92 and size > 6:
        size *= 0.9
        font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
    tw = right - left
    x = (img.width - tw) / 2 + rng.uniform(-1, 1) * (img.width - tw) * 0.4
    y = rng.choice([0.06, 0.45, 0.82]) * img.height - top
    y = min(max(y, -top), img.height - bottom - 1)
    fill = (255, 255, 255) if rng.random() < 0.5 else _bright(rng)
    style = rng.integers(3)
    under = luma(to_array(img.crop((int(x), int(y + top), int(x + tw) + 1, int(y + bottom) + 1)))).mean()
    if style == 0 and under > 0.55 and fill == (255, 255, 255):  # plain white words on a light patch: use black
        fill = (15, 15, 15)
    if style == 2:  # a dark banner behind the words
        pad = px(img, 4)
        draw.rectangle((0, y + top - pad, img.width, y + bottom + pad), fill=(0, 0, 0))
    stroke = px(img, 2) if style == 1 else 0
    draw.text((x - left, y), words, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0))
    return out
