"""Wider synthetic edits for training: other implementations of the families, wider strengths, edits confined to
a region, and two edits at once.

The canonical generator (`generator.make_pair`) stays what the benchmarks and tests measure; `make_wide_pair`
draws from this wider world, so a model trained on it meets the families as other code writes them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from editsearch.data.synthetic.edits_overlay import FRAME_COLORS
from editsearch.data.synthetic.edits_tone import TINTS
from editsearch.data.synthetic.families import COMPOUND_STEPS, FAMILIES
from editsearch.data.synthetic.generator import MAX_TRIES, MIN_CHANGE, SynthPair, make_pair, mean_change
from editsearch.data.synthetic.imaging import Edit, EditFn, draw, luminance, pick, to_array, to_image
from editsearch.data.synthetic.photos import sample_source

CANONICAL = 0.3  # share of wide draws that are the canonical generator's pairs
TWO_AT_ONCE = 0.2  # ... that are two families at once; the rest are one family, drawn as below
OTHER_IMPLEMENTATION = 0.6  # a single edit uses another implementation of its family where it has one
REGIONAL = 0.25  # ... is confined to a region (groups that act on pixels in place)
WEAKER = 0.4  # ... is blended back towards the source, to a strength in [0.45, 1)
IN_PLACE = ("photometric", "stylistic", "blur")
# a half-strength one of these is another family's edit (half a greyscale is a desaturate) or no family's
NO_BLEND = frozenset({"invert", "hue_shift", "grayscale", "posterize", "pixel_art", "halftone"})
REGION_WORDS = {
    "left": ("on the left side", "in the left half"),
    "right": ("on the right side", "in the right half"),
    "top": ("in the top half", "at the top"),
    "bottom": ("in the bottom half", "at the bottom"),
    "centre": ("in the middle", "in the centre"),
}
JOINS = ("{a} and {b}", "{a}, then {b}", "{a}; {b}", "{a} and also {b}")
SINGLES = sorted(name for name, family in FAMILIES.items() if family.group != "compound")
TAKEN = {frozenset(steps) for steps in COMPOUND_STEPS.values()}  # pairs of families a compound family names


# ----- other implementations of the families -------------------------------------------------------------
def _gain(factor_lo: float, factor_hi: float, enhancer) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        factor = draw(rng, factor_lo, factor_hi)
        return enhancer(img).enhance(factor), {"factor": factor}

    return apply


def _offset(lo: float, hi: float, sign: int) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        amount = draw(rng, lo, hi)
        return to_image(to_array(img) + sign * amount), {"offset": sign * amount}

    return apply


def _gamma(lo: float, hi: float) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        gamma = draw(rng, lo, hi)
        return to_image(255 * (to_array(img) / 255) ** gamma), {"gamma": gamma}

    return apply


def _screen(img: Image.Image, rng: np.random.Generator) -> Edit:
    amount = draw(rng, 0.25, 0.5)
    arr = to_array(img)
    return to_image(arr + (255 - arr) * amount), {"amount": amount}


def _s_curve(img: Image.Image, rng: np.random.Generator) -> Edit:
    gain = draw(rng, 6, 11)
    x = to_array(img) / 255
    y = 1 / (1 + np.exp(gain * (0.5 - x)))
    lo, hi = 1 / (1 + np.exp(gain * 0.5)), 1 / (1 + np.exp(-gain * 0.5))
    return to_image(255 * (y - lo) / (hi - lo)), {"gain": gain}


def _autocontrast(img: Image.Image, rng: np.random.Generator) -> Edit:
    cutoff = draw(rng, 3, 10)
    return ImageOps.autocontrast(img, cutoff=cutoff), {"cutoff": cutoff}


def _range(img: Image.Image, rng: np.random.Generator) -> Edit:
    lo, hi = draw(rng, 45, 90), draw(rng, 165, 215)
    return to_image(to_array(img) * (hi - lo) / 255 + lo), {"low": lo, "high": hi}


def _hsv_saturation(lo: float, hi: float) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        factor = draw(rng, lo, hi)
        h, s, v = img.convert("HSV").split()
        return Image.merge("HSV", (h, s.point(lambda x: min(255, round(x * factor))), v)).convert("RGB"), {
            "factor": factor
        }

    return apply


def _to_grey(lo: float, hi: float) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        amount = draw(rng, lo, hi)
        arr = to_array(img)
        return to_image(arr * (1 - amount) + luminance(arr)[..., None] * amount), {"amount": amount}

    return apply


def _channel_roll(img: Image.Image, rng: np.random.Generator) -> Edit:
    shift = 1 + int(rng.integers(2))
    return to_image(np.roll(to_array(img), shift, axis=2)), {"degrees": 120 * shift}


def _multiply(color: str) -> EditFn:
    rgb = np.array(TINTS[color], dtype=np.float32) / 255

    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        amount = draw(rng, 0.45, 0.8)
        return to_image(to_array(img) * (1 - amount + amount * rgb)), {"color": color, "amount": amount}

    return apply


def _wash(rgb: tuple[int, int, int], lo: float, hi: float, **params) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        amount = draw(rng, lo, hi)
        return to_image(to_array(img) * (1 - amount) + np.array(rgb) * amount), {**params, "amount": amount}

    return apply


def _gains(sign: int) -> EditFn:
    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        t = draw(rng, 0.12, 0.3) * sign
        return to_image(to_array(img) * np.array([1 + t, 1 + t * 0.3, 1 - t], dtype=np.float32)), {"strength": t}

    return apply


def _weighted_grey(img: Image.Image, rng: np.random.Generator) -> Edit:
    weights = pick(rng, [(1 / 3, 1 / 3, 1 / 3), (0.2125, 0.7154, 0.0721), (0.5, 0.4, 0.1)])
    grey = to_array(img) @ np.array(weights, dtype=np.float32)
    return to_image(np.repeat(grey[..., None], 3, axis=2)), {"weights": list(weights)}


def _colorize_brown(img: Image.Image, rng: np.random.Generator) -> Edit:
    dark, light = pick(rng, [((40, 26, 13), (255, 240, 192)), ((60, 30, 10), (240, 220, 170))])
    return ImageOps.colorize(ImageOps.grayscale(img), dark, light), {"dark": list(dark)}


def _quantize(img: Image.Image, rng: np.random.Generator) -> Edit:
    colors = int(rng.integers(4, 11))
    return img.quantize(colors, method=Image.Quantize.MEDIANCUT).convert("RGB"), {"colors": colors}


def _painterly(img: Image.Image, rng: np.random.Generator) -> Edit:
    size = pick(rng, [5, 7, 9])
    out = img.filter(ImageFilter.ModeFilter(size)).filter(ImageFilter.SMOOTH_MORE)
    return ImageEnhance.Color(out).enhance(1.25), {"size": size}


def _wash_paint(img: Image.Image, rng: np.random.Generator) -> Edit:
    paper = draw(rng, 0.1, 0.25)
    out = img.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.GaussianBlur(1.2))
    out = ImageEnhance.Color(out).enhance(1.3)
    return to_image(to_array(out) * (1 - paper) + 250 * paper), {"paper": paper}


def _dodge_sketch(img: Image.Image, rng: np.random.Generator) -> Edit:
    radius = draw(rng, 2, 5)
    grey = ImageOps.grayscale(img)
    blurred = np.asarray(grey.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    sketch = np.asarray(grey, dtype=np.float32) * 255 / np.maximum(1, blurred)  # a colour dodge of the inverted blur
    return to_image(np.repeat(sketch[..., None], 3, axis=2)), {"radius": radius}


def _edge_sketch(img: Image.Image, rng: np.random.Generator) -> Edit:
    edges = ImageOps.invert(ImageOps.grayscale(img).filter(ImageFilter.FIND_EDGES))
    return ImageOps.autocontrast(edges, cutoff=2).convert("RGB"), {}


def _toon(img: Image.Image, rng: np.random.Generator) -> Edit:
    colors = int(rng.integers(6, 13))
    flat = img.filter(ImageFilter.MedianFilter(5)).quantize(colors).convert("RGB")
    edges = np.asarray(ImageOps.grayscale(img).filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    ink = (edges > np.percentile(edges, 88))[..., None]
    return to_image(np.where(ink, 20, to_array(flat))), {"colors": colors}


def _blocks(img: Image.Image, rng: np.random.Generator) -> Edit:
    cells = int(rng.integers(12, 29))
    small = img.resize((cells, cells), Image.BOX).quantize(int(rng.integers(8, 24))).convert("RGB")
    return small.resize(img.size, Image.NEAREST), {"cells": cells}


def _relief(img: Image.Image, rng: np.random.Generator) -> Edit:
    d = int(rng.integers(1, 4))
    grey = to_array(ImageOps.grayscale(img).convert("RGB"))[..., 0]
    relief = grey - np.roll(grey, (d, d), axis=(0, 1)) + 128
    return to_image(np.repeat(relief[..., None], 3, axis=2)), {"offset": d}


def _down_up(img: Image.Image, rng: np.random.Generator) -> Edit:
    factor = int(rng.integers(4, 8))
    small = img.resize((max(2, img.width // factor), max(2, img.height // factor)), Image.BILINEAR)
    return small.resize(img.size, Image.BICUBIC), {"factor": factor}


def _box_blur(img: Image.Image, rng: np.random.Generator) -> Edit:
    rel = draw(rng, 0.015, 0.04)
    return img.filter(ImageFilter.BoxBlur(max(1.5, rel * img.width))), {"radius": rel}


def _sharpness(img: Image.Image, rng: np.random.Generator) -> Edit:
    factor = draw(rng, 3, 7)
    return ImageEnhance.Sharpness(img).enhance(factor), {"factor": factor}


def _salt_pepper(img: Image.Image, rng: np.random.Generator) -> Edit:
    share = draw(rng, 0.03, 0.1)
    arr = to_array(img)
    hit = rng.random(arr.shape[:2]) < share
    arr[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)[:, None]
    return to_image(arr), {"share": share}


def _mono_noise(img: Image.Image, rng: np.random.Generator) -> Edit:
    sigma = draw(rng, 15, 35)
    arr = to_array(img)
    return to_image(arr + rng.standard_normal(arr.shape[:2], dtype=np.float32)[..., None] * sigma), {"sigma": sigma}


def _box_vignette(img: Image.Image, rng: np.random.Generator) -> Edit:
    strength = draw(rng, 0.5, 0.9)
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.maximum(np.abs(xx - w / 2) / (w / 2), np.abs(yy - h / 2) / (h / 2))
    fall = np.clip((r - 0.5) / 0.5, 0, 1) ** 2
    return to_image(to_array(img) * (1 - strength * fall)[..., None]), {"strength": strength}


def _haze(img: Image.Image, rng: np.random.Generator) -> Edit:
    amount = draw(rng, 0.35, 0.6)
    grey = draw(rng, 200, 235)
    return to_image(to_array(img.filter(ImageFilter.GaussianBlur(1))) * (1 - amount) + grey * amount), {
        "amount": amount
    }


def _border(img: Image.Image, rng: np.random.Generator) -> Edit:
    name = str(pick(rng, sorted(FRAME_COLORS)))
    rel = draw(rng, 0.04, 0.12)
    t = max(2, round(rel * img.width))
    return ImageOps.expand(ImageOps.crop(img, t), t, FRAME_COLORS[name]), {"color": name, "width": rel}


OTHER_IMPLEMENTATIONS: dict[str, tuple[EditFn, ...]] = {
    "brighter": (_gain(1.35, 1.9, ImageEnhance.Brightness), _offset(35, 80, 1), _screen, _gamma(0.35, 0.7)),
    "darker": (_gamma(1.6, 2.6), _offset(40, 90, -1), _gain(0.4, 0.7, ImageEnhance.Brightness)),
    "more_contrast": (_s_curve, _autocontrast, _gain(1.4, 2.2, ImageEnhance.Contrast)),
    "less_contrast": (_gain(0.3, 0.55, ImageEnhance.Contrast), _range),
    "saturate": (_hsv_saturation(1.6, 2.6), _gain(1.6, 2.2, ImageEnhance.Color)),
    "desaturate": (_to_grey(0.55, 0.85), _hsv_saturation(0.15, 0.45)),
    "hue_shift": (_channel_roll,),
    **{f"tint_{c}": (_multiply(c), _wash(TINTS[c], 0.2, 0.4, color=c)) for c in TINTS},
    "warmer": (_gains(1), _wash((255, 150, 50), 0.12, 0.28)),
    "cooler": (_gains(-1), _wash((50, 120, 255), 0.12, 0.28)),
    "grayscale": (_weighted_grey,),
    "sepia": (_colorize_brown,),
    "posterize": (_quantize,),
    "oil_paint": (_painterly,),
    "watercolor": (_wash_paint,),
    "pencil_sketch": (_dodge_sketch, _edge_sketch),
    "cartoon": (_toon,),
    "pixel_art": (_blocks,),
    "emboss": (_relief,),
    "blur": (_down_up, _box_blur),
    "sharpen": (_sharpness,),
    "noise": (_salt_pepper, _mono_noise),
    "vignette": (_box_vignette,),
    "fog": (_haze,),
    "frame": (_border,),
}


# ----- regions, strength and two edits at once -------------------------------------------------------------
def region_mask(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An HxW soft mask in 0..1 of a named region, its edge feathered over a few percent of the side."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cut = draw(rng, 0.4, 0.6)
    feather = max(1.0, 0.04 * w)
    if kind == "centre":
        r = np.hypot((xx - w / 2) / (w * 0.32), (yy - h / 2) / (h * 0.32))
        return np.clip((1 - r) * w * 0.32 / feather + 0.5, 0, 1)
    signed = {"left": cut * w - xx, "right": xx - cut * w, "top": cut * h - yy, "bottom": yy - cut * h}[kind]
    return np.clip(signed / feather + 0.5, 0, 1)


def _blend(before: Image.Image, after: Image.Image, weight: np.ndarray | float) -> Image.Image:
    w = weight[..., None] if isinstance(weight, np.ndarray) else weight
    return to_image(to_array(before) * (1 - w) + to_array(after) * w)


def wide_single(before: Image.Image, family: str, rng: np.random.Generator) -> Edit:
    """One edit of `family` as the wider world does it: maybe another implementation, weaker, or in a region."""
    fam = FAMILIES[family]
    others = OTHER_IMPLEMENTATIONS.get(family, ())
    if others and rng.random() < OTHER_IMPLEMENTATION:
        k = int(rng.integers(len(others)))
        after, params = others[k](before, rng)
        params = {**params, "implementation": k + 1}
    else:
        after, params = fam.apply(before, rng)
    if after.size != before.size:
        after = after.resize(before.size, Image.BICUBIC)
    if fam.group in IN_PLACE and family not in NO_BLEND and rng.random() < WEAKER:
        strength = draw(rng, 0.45, 1.0)
        after, params = _blend(before, after, strength), {**params, "strength": strength}
    if fam.group in IN_PLACE and rng.random() < REGIONAL:
        region = str(pick(rng, sorted(REGION_WORDS)))
        after, params = _blend(before, after, region_mask(region, before.size, rng)), {**params, "region": region}
    return after, params


def _two_families(rng: np.random.Generator) -> tuple[str, str]:
    """Two single-step families of different groups that no compound family already names together."""
    while True:
        a, b = (SINGLES[int(i)] for i in rng.choice(len(SINGLES), 2, replace=False))
        if FAMILIES[a].group != FAMILIES[b].group and frozenset((a, b)) not in TAKEN:
            return a, b


def make_wide_pair(rng: np.random.Generator, split: str, size: int) -> SynthPair:
    """A pair of the wider world: canonical, one family made another way, or two families at once.

    Two at once is labelled `A+B` with `params["steps"]`; `describe` phrases every kind.
    """
    kind = rng.random()
    if kind < CANONICAL:
        return make_pair(rng, split, size)
    chosen = _two_families(rng) if kind >= 1 - TWO_AT_ONCE else (SINGLES[int(rng.integers(len(SINGLES)))],)
    for _ in range(MAX_TRIES):
        before, photo = sample_source(rng, split, size)
        after, steps = before, []
        for family in chosen:
            after, params = wide_single(after, family, rng)
            steps.append({"family": family, "params": params})
        if mean_change(before, after) >= MIN_CHANGE:
            break
    label = "+".join(chosen)
    params = steps[0]["params"] if len(steps) == 1 else {"steps": steps}
    return SynthPair(before, after, label, params, describe(label, params, split, rng), split, photo)


def describe(label: str, params: dict, split: str, rng: np.random.Generator, vary=None) -> str:
    """An instruction for a wide pair: each family's phrasing of `split` (re-worded by `vary(family, text,
    params, rng)` when given), its region said half the time, two edits joined."""
    steps = params["steps"] if "+" in label else [{"family": label, "params": params}]
    texts = []
    for step in steps:
        family, p = step["family"], step["params"]
        text = FAMILIES[family].instruction(split, p, rng)
        text = vary(family, text, p, rng) if vary else text
        if "region" in p and rng.random() < 0.5:
            text = f"{text} {pick(rng, list(REGION_WORDS[p['region']]))}"
        texts.append(text)
    if len(texts) == 1:
        return texts[0]
    return str(pick(rng, list(JOINS))).format(a=texts[0], b=texts[1])
