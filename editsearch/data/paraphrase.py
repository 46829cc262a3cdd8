"""Varied training phrasings: templates re-worded as requests, descriptions, tags, synonyms and typos.

Training draws its texts here so the pair embedding learns what an edit *is*, not one way of saying it.
Every style produced here is a training style; evaluation keeps other styles (first-person wishes,
questions, accounts of what was done) in a file this module never reads.
"""

from __future__ import annotations

import re
import string

import numpy as np

from editsearch.data.phrasings import fill

# What each family's result is called: a short tag first, then noun phrases ({key} fills from params).
DESCRIPTIONS: dict[str, list[str]] = {
    "brighter": ["brightness up", "a brighter version of the photo", "a lighter, more exposed picture"],
    "darker": ["brightness down", "a darker version of the photo", "a dim, underlit picture"],
    "more_contrast": ["high contrast", "a punchier, higher-contrast version", "deep blacks and bright whites"],
    "less_contrast": ["low contrast", "a flat, faded version of the photo", "a soft low-contrast look"],
    "saturate": ["vivid colours", "a more saturated version", "bold, vibrant colours"],
    "desaturate": ["muted colours", "a less saturated version", "pale, subdued colours"],
    "hue_shift": ["hue shift", "a version with shifted hues", "the same scene in strange new colours"],
    "tint_red": ["red tint", "a red-tinted version of the photo", "everything washed with red"],
    "tint_green": ["green tint", "a green-tinted version of the photo", "everything washed with green"],
    "tint_blue": ["blue tint", "a blue-tinted version of the photo", "everything washed with blue"],
    "tint_purple": ["purple tint", "a purple-tinted version of the photo", "everything washed with violet"],
    "warmer": ["warm tones", "a warmer, golden version", "warm orange light"],
    "cooler": ["cool tones", "a colder, bluer version", "cold bluish light"],
    "invert": ["negative", "a colour-inverted version", "the photo as a negative"],
    "grayscale": ["black and white", "a monochrome version of the photo", "a greyscale picture"],
    "sepia": ["sepia", "a sepia-toned version", "an old brown-toned print"],
    "posterize": ["posterized", "a poster version with flat colour bands", "a few flat tones only"],
    "watercolor": ["watercolour", "a watercolour version of the photo", "a soft painted watercolor look"],
    "oil_paint": ["oil painting", "an oil-painted version", "thick brushstrokes like an oil painting"],
    "pencil_sketch": ["pencil sketch", "a pencil-drawn version", "a hand-drawn graphite sketch"],
    "cartoon": ["cartoon", "a cartoon version of the photo", "a cartoonish drawing with bold outlines"],
    "pixel_art": ["pixel art", "a pixelated 8-bit version", "big blocky pixels"],
    "halftone": ["halftone", "a halftone dot version", "a print made of dots"],
    "emboss": ["embossed", "an embossed relief version", "a raised, stamped relief look"],
    "blur": ["blurry", "a blurred version of the photo", "a soft, out-of-focus picture"],
    "sharpen": ["sharper", "a sharpened version", "crisper edges and detail"],
    "noise": ["noisy", "a noisy version of the photo", "random speckle noise all over"],
    "film_grain": ["film grain", "a grainy film version", "an analogue film look with grain"],
    "flip_horizontal": ["mirrored", "a left-right mirrored version", "the mirror image of the photo"],
    "flip_vertical": ["upside down", "an upside-down version", "the photo flipped top to bottom"],
    "rotate_90": ["rotated 90 degrees", "a version turned 90 degrees {direction}", "the picture on its side"],
    "tilt": ["tilted", "a slightly tilted version", "a crooked, rotated horizon"],
    "zoom_in": ["zoomed in", "a closer crop of the centre", "a tighter, zoomed view"],
    "frame": ["{color} frame", "the photo in a {color} frame", "a {color} border around the picture"],
    "vignette": ["vignette", "a version with dark corners", "darkened edges around the picture"],
    "snow": ["snowfall", "a snowy version of the scene", "snowflakes falling everywhere"],
    "rain": ["rainfall", "a rainy version of the scene", "streaks of rain across the picture"],
    "fog": ["fog", "a foggy version of the scene", "a hazy, misty atmosphere"],
    "shapes": ["colourful shapes", "the photo with colourful shapes on it", "circles and squares stuck on top"],
    "smiley": ["smiley", "the photo with a smiley face on it", "a yellow smiley sticker"],
    "text": ["caption '{text}'", "the photo captioned '{text}'", "the words '{text}' written on it"],
    "grayscale_frame": ["framed black and white", "a framed monochrome print", "a grey photo with a border"],
    "old_photo": ["vintage photo", "an old faded photograph", "a worn, aged print"],
    "winter": ["winter", "a wintry snowy version", "a cold winter scene with snow"],
    "mirror_brighter": ["mirrored and brighter", "a brighter mirrored version", "the mirror image, lightened"],
    "stormy": ["stormy night", "a dark rainy version", "a gloomy night in the rain"],
    "sketch_frame": ["framed sketch", "a framed pencil drawing", "a graphite sketch with a border"],
}

STYLES = ("imperative", "request", "description", "tag")
_REQUEST = ("please {p}", "{p}, please", "could you {p}", "can you {p}", "{p} for me", "go ahead and {p}")
_DESCRIBE = ("{d}", "{d}, please", "result: {d}", "edit: {d}")
_SYNONYMS = {
    "image": ("photo", "picture", "pic", "shot", "image"),
    "photo": ("image", "picture", "pic", "shot", "photo"),
    "picture": ("photo", "image", "pic", "picture"),
    "colours": ("colors", "colours", "tones"),
    "colors": ("colours", "colors", "tones"),
    "colour": ("color", "colour"),
    "color": ("colour", "color"),
    "it": ("it", "this", "this one", "the image"),
}
TYPO_RATE = 0.2  # share of texts given one or two typos


def _swap_synonyms(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if w in _SYNONYMS and rng.random() < 0.5:
            options = _SYNONYMS[w]
            words[i] = options[int(rng.integers(len(options)))]
    return " ".join(words)


def add_typos(text: str, rng: np.random.Generator, count: int = 1) -> str:
    """`count` keyboard slips (a dropped, doubled, swapped or wrong letter) inside words of 4+ letters."""
    for _ in range(count):
        words = list(re.finditer(r"[a-z]{4,}", text))
        if not words:
            break
        word = words[int(rng.integers(len(words)))]
        pos = int(rng.integers(word.start() + 1, word.end() - 2))  # a word keeps its first and last letters
        kind = int(rng.integers(4))
        if kind == 0:
            text = text[:pos] + text[pos + 1 :]
        elif kind == 1:
            text = text[:pos] + text[pos] + text[pos:]
        elif kind == 2:
            text = text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
        else:
            text = text[:pos] + string.ascii_lowercase[int(rng.integers(26))] + text[pos + 1 :]
    return text


def vary(family: str, base: str, params: dict, rng: np.random.Generator) -> str:
    """A training text for one pair: its template `base` re-worded in a random training style."""
    style = STYLES[int(rng.integers(len(STYLES)))]
    descriptions = DESCRIPTIONS[family]
    if style == "imperative":
        text = base
    elif style == "request":
        text = _REQUEST[int(rng.integers(len(_REQUEST)))].format(p=base)
    elif style == "tag":
        text = fill(descriptions[0], params)
    else:
        d = fill(descriptions[1 + int(rng.integers(len(descriptions) - 1))], params)
        text = _DESCRIBE[int(rng.integers(len(_DESCRIBE)))].format(d=d)
    text = _swap_synonyms(text.lower(), rng)
    if rng.random() < TYPO_RATE:
        text = add_typos(text, rng, count=1 + int(rng.random() < 0.3))
    return text
