"""Varied training phrasings: templates re-worded as requests, descriptions, named effects, compounds, synonyms, typos.

Training draws its texts here so the pair embedding learns what an edit *is*, not one way of saying it.
Every style produced here is a training style; evaluation keeps other styles (first-person wishes,
questions, accounts of what was done) in a file this module never reads.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import numpy as np

from editsearch.data.synthetic.phrasings import fill

# What each family's result is called: (names, results). Names are short labels an editor's menu or a
# tag would use; results are noun phrases for the edited picture. {key} fills from params.
DESCRIPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "brighter": (
        ["brightness up", "brighter", "exposure boost", "high key", "lightened"],
        [
            "a brighter version of the photo",
            "a lighter, more exposed picture",
            "a well-lit, airy shot",
            "the same scene in bright daylight",
            "a picture with brighter shadows and tones",
        ],
    ),
    "darker": (
        ["brightness down", "darker", "underexposed", "low key", "dimmed"],
        [
            "a darker version of the photo",
            "a dim, underlit picture",
            "the same scene in low light",
            "a shadowy, gloomy shot",
            "a picture with deeper shadows and darker tones",
        ],
    ),
    "more_contrast": (
        ["high contrast", "contrast boost", "punchy", "dramatic contrast", "contrast up"],
        [
            "a punchier, higher-contrast version",
            "deep blacks and bright whites",
            "a crisp, striking picture",
            "strong blacks against strong whites",
            "a bold, contrasty shot",
        ],
    ),
    "less_contrast": (
        ["low contrast", "faded", "flat", "matte", "contrast down"],
        [
            "a flat, faded version of the photo",
            "a soft low-contrast look",
            "washed-out greys without deep blacks",
            "a hazy, matte picture",
            "gentle, even tones",
        ],
    ),
    "saturate": (
        ["vivid colours", "saturation boost", "vibrant", "colour pop", "rich colours"],
        [
            "a more saturated version",
            "bold, vibrant colours",
            "a brighter, more colourful picture",
            "strong, punchy hues",
            "a shot with rich, deep colours",
        ],
    ),
    "desaturate": (
        ["muted colours", "desaturated", "low saturation", "subdued", "pastel"],
        [
            "a less saturated version",
            "pale, subdued colours",
            "a picture with faint colour",
            "soft, dusty hues",
            "a washed, muted palette",
        ],
    ),
    "hue_shift": (
        ["hue shift", "hue rotation", "false colour", "psychedelic colours", "colour swap"],
        [
            "a version with shifted hues",
            "the same scene in strange new colours",
            "a picture with unnatural colours",
            "an alien-looking colour scheme",
            "a surreal colour palette",
        ],
    ),
    "tint_red": (
        ["red tint", "red filter", "red cast", "reddish", "scarlet"],
        [
            "a red-tinted version of the photo",
            "everything washed with red",
            "a picture drenched in red",
            "a picture lit by a red lamp",
            "a reddish monochrome look",
        ],
    ),
    "tint_green": (
        ["green tint", "green filter", "green cast", "greenish", "lime"],
        [
            "a green-tinted version of the photo",
            "everything washed with green",
            "a picture glowing green",
            "a picture lit by a green lamp",
            "a sickly green look",
        ],
    ),
    "tint_blue": (
        ["blue tint", "blue filter", "blue cast", "bluish", "navy"],
        [
            "a blue-tinted version of the photo",
            "everything washed with blue",
            "a picture glowing blue",
            "a picture lit by a blue lamp",
            "a moody blue look",
        ],
    ),
    "tint_purple": (
        ["purple tint", "violet filter", "magenta cast", "purplish", "ultraviolet"],
        [
            "a purple-tinted version of the photo",
            "everything washed with violet",
            "a picture glowing purple",
            "a picture lit by a violet lamp",
            "a magenta and purple look",
        ],
    ),
    "warmer": (
        ["warm tones", "warm filter", "golden hour", "warmth up", "warm white balance"],
        [
            "a warmer, golden version",
            "warm orange light",
            "a sunny, honey-toned picture",
            "the scene in golden evening sun",
            "yellowish, sunny colours",
        ],
    ),
    "cooler": (
        ["cool tones", "cool filter", "cold look", "warmth down", "cool white balance"],
        [
            "a colder, bluer version",
            "cold bluish light",
            "a frosty blue picture",
            "the scene in cold northern light",
            "a clinical blue-white palette",
        ],
    ),
    "invert": (
        ["negative", "inverted colours", "invert", "colour inversion", "reversed tones"],
        [
            "a colour-inverted version",
            "the photo as a negative",
            "a film negative of the scene",
            "a picture with opposite colours",
            "a reversed-tone picture",
        ],
    ),
    "grayscale": (
        ["black and white", "greyscale", "monochrome", "b&w", "greys only"],
        [
            "a monochrome version of the photo",
            "a greyscale picture",
            "a greyscale photograph",
            "a black-and-white shot",
            "a picture in black, white and grey",
        ],
    ),
    "sepia": (
        ["sepia", "sepia tone", "brown tone", "antique", "old-timey"],
        [
            "a sepia-toned version",
            "an old brown-toned print",
            "a brown monochrome",
            "an old-west style photograph",
            "a vintage brownish picture",
        ],
    ),
    "posterize": (
        ["posterized", "posterise", "banding", "few colours", "flat colours"],
        [
            "a poster version with flat colour bands",
            "a few flat tones only",
            "a pop-art print",
            "a picture reduced to a small palette",
            "a picture with stepped tones",
        ],
    ),
    "watercolor": (
        ["watercolour", "watercolor painting", "painterly", "wash painting", "watercolour art"],
        [
            "a watercolour version of the photo",
            "a soft painted watercolor look",
            "a painting in pale, flowing pigment",
            "a loose, wet-on-wet painting",
            "the scene as a delicate watercolour",
        ],
    ),
    "oil_paint": (
        ["oil painting", "oil paint", "canvas art", "impressionist", "brushwork"],
        [
            "an oil-painted version",
            "thick brushstrokes like an oil painting",
            "an old master's painting",
            "a gallery painting with visible strokes",
            "the scene in layered, textured paint",
        ],
    ),
    "pencil_sketch": (
        ["pencil sketch", "drawing", "graphite", "line art", "sketch"],
        [
            "a pencil-drawn version",
            "a hand-drawn graphite sketch",
            "a charcoal-grey study",
            "the scene sketched on paper",
            "a shaded pencil drawing",
        ],
    ),
    "cartoon": (
        ["cartoon", "toon", "comic style", "animated", "cel shading"],
        [
            "a cartoon version of the photo",
            "a cartoonish drawing with bold outlines",
            "a comic book panel",
            "a picture with simple shading and thick lines",
            "the scene as a storybook illustration",
        ],
    ),
    "pixel_art": (
        ["pixel art", "8-bit", "pixelated", "retro game", "mosaic"],
        [
            "a pixelated 8-bit version",
            "big blocky pixels",
            "a low-resolution arcade graphic",
            "the scene built from coarse pixels",
            "a video game screenshot from the eighties",
        ],
    ),
    "halftone": (
        ["halftone", "dot pattern", "ben-day dots", "print dots", "newsprint"],
        [
            "a halftone dot version",
            "a print made of dots",
            "a magazine-style dotted picture",
            "the scene as a pattern of tiny circles",
            "a pop-art dot print",
        ],
    ),
    "emboss": (
        ["embossed", "emboss", "relief", "bas-relief", "stamped"],
        [
            "an embossed relief version",
            "a raised, stamped relief look",
            "a grey carved surface",
            "the scene as a carved plaster panel",
            "a picture moulded like the face of a coin",
        ],
    ),
    "blur": (
        ["blurry", "blur", "gaussian blur", "soft focus", "defocused"],
        [
            "a blurred version of the photo",
            "a soft, out-of-focus picture",
            "a shot where the lens missed focus",
            "the scene seen through frosted glass",
            "a hazy picture with soft edges",
        ],
    ),
    "sharpen": (
        ["sharper", "sharpen", "detail boost", "crisp", "clarity"],
        [
            "a sharpened version",
            "crisper edges and detail",
            "a picture with well-defined texture",
            "a tack-sharp shot",
            "more defined edges and texture",
        ],
    ),
    "noise": (
        ["noisy", "noise", "static", "speckles", "digital noise"],
        [
            "a noisy version of the photo",
            "random speckle noise all over",
            "a grainy, speckled picture",
            "the scene covered in sensor noise",
            "a picture with pixel-level noise",
        ],
    ),
    "film_grain": (
        ["film grain", "grain", "analogue look", "35mm", "grainy film"],
        [
            "a grainy film version",
            "an analogue film look with grain",
            "a picture that looks scanned from a negative",
            "gritty grain over the whole scene",
            "a gritty film photograph",
        ],
    ),
    "flip_horizontal": (
        ["mirrored", "horizontal flip", "mirror", "flipped left to right", "reflected"],
        [
            "a left-right mirrored version",
            "the mirror image of the photo",
            "the scene reversed left to right",
            "a horizontally flipped picture",
            "the photo as its own reflection",
        ],
    ),
    "flip_vertical": (
        ["upside down", "vertical flip", "flipped", "inverted vertically", "topsy-turvy"],
        [
            "an upside-down version",
            "the photo flipped top to bottom",
            "the scene flipped over",
            "a vertically flipped picture",
            "everything hanging downward",
        ],
    ),
    "rotate_90": (
        ["rotated 90 degrees", "rotation", "quarter turn", "turned sideways", "rotated {direction}"],
        [
            "a version turned 90 degrees {direction}",
            "the picture on its side",
            "a sideways photo",
            "the scene rotated a quarter turn {direction}",
            "a portrait turned into landscape",
        ],
    ),
    "tilt": (
        ["tilted", "tilt", "dutch angle", "slanted", "askew"],
        [
            "a slightly tilted version",
            "a crooked, rotated horizon",
            "a slanted view",
            "a picture turned off-level",
            "a skewed, off-level shot",
        ],
    ),
    "zoom_in": (
        ["zoomed in", "zoom", "crop", "close-up", "tight crop"],
        [
            "a closer crop of the centre",
            "a tighter, zoomed view",
            "a close-up of the middle of the scene",
            "the middle blown up",
            "a magnified detail of the photo",
        ],
    ),
    "frame": (
        ["{color} frame", "frame", "border", "{color} border", "picture frame"],
        [
            "the photo in a {color} frame",
            "a {color} border around the picture",
            "a framed print",
            "the scene inside a wide {color} edge",
            "a picture with a {color} margin",
        ],
    ),
    "vignette": (
        ["vignette", "dark corners", "edge darkening", "spotlight", "lens vignette"],
        [
            "a version with dark corners",
            "darkened edges around the picture",
            "a bright centre fading to black",
            "the scene with a shadowy rim",
            "an old-lens look with dim corners",
        ],
    ),
    "snow": (
        ["snowfall", "snow", "snowy", "blizzard", "flurries"],
        [
            "a snowy version of the scene",
            "snowflakes falling everywhere",
            "the scene in a blizzard",
            "big flakes drifting over the picture",
            "a picture with falling snow",
        ],
    ),
    "rain": (
        ["rainfall", "rain", "rainy", "downpour", "drizzle"],
        [
            "a rainy version of the scene",
            "streaks of rain across the picture",
            "the scene in a downpour",
            "raindrops falling over everything",
            "a drizzly grey afternoon",
        ],
    ),
    "fog": (
        ["fog", "mist", "haze", "foggy", "misty"],
        [
            "a foggy version of the scene",
            "a hazy, misty atmosphere",
            "the scene in dense fog",
            "a picture veiled in white mist",
            "a murky, smoky haze",
        ],
    ),
    "shapes": (
        ["colourful shapes", "shapes", "stickers", "geometric shapes", "confetti"],
        [
            "the photo with colourful shapes on it",
            "circles and squares stuck on top",
            "random coloured blobs",
            "the scene dotted with coloured cut-outs",
            "a picture decorated with bright shapes",
        ],
    ),
    "smiley": (
        ["smiley", "emoji", "smiley face", "happy face", "sticker"],
        [
            "the photo with a smiley face on it",
            "a yellow smiley sticker",
            "a cheerful emoji stuck on the picture",
            "a picture with a yellow grin",
            "a picture with a cartoon smile",
        ],
    ),
    "text": (
        ["caption '{text}'", "caption", "text overlay", "title", "label"],
        [
            "the photo captioned '{text}'",
            "the words '{text}' written on it",
            "a picture with a text label",
            "the scene with the title '{text}'",
            "lettering over the picture",
        ],
    ),
    "grayscale_frame": (
        ["framed black and white", "framed monochrome", "b&w with border", "grey print", "gallery print"],
        [
            "a framed monochrome print",
            "a grey photo with a border",
            "a black-and-white picture in a frame",
            "the scene in grey tones with an edge",
            "a mounted greyscale print",
        ],
    ),
    "old_photo": (
        ["vintage photo", "vintage", "retro", "aged", "faded photograph"],
        [
            "an old faded photograph",
            "a worn, aged print",
            "a yellowed print from long ago",
            "the scene as a weathered old photo",
            "a vintage print with faded colours",
        ],
    ),
    "winter": (
        ["winter", "wintry", "snowy winter", "cold season", "frozen"],
        [
            "a wintry snowy version",
            "a cold winter scene with snow",
            "the scene in deep winter",
            "a frosty landscape with falling snow",
            "a chilly picture covered in snow",
        ],
    ),
    "mirror_brighter": (
        ["mirrored and brighter", "flip and brighten", "bright mirror", "mirrored, lighter", "reflect and lighten"],
        [
            "a brighter mirrored version",
            "the mirror image, lightened",
            "a flipped, lighter picture",
            "the scene reversed and brightened",
            "a left-right flip, lightened",
        ],
    ),
    "stormy": (
        ["stormy night", "storm", "night rain", "dark and rainy", "thunderstorm"],
        [
            "a dark rainy version",
            "a gloomy night in the rain",
            "the scene in a night storm",
            "a dim picture with pouring rain",
            "a thundery dusk",
        ],
    ),
    "sketch_frame": (
        ["framed sketch", "framed drawing", "sketch with border", "pencil and frame", "framed line art"],
        [
            "a framed pencil drawing",
            "a graphite sketch with a border",
            "a drawing mounted in a frame",
            "the scene sketched and framed",
            "a line drawing with an edge",
        ],
    ),
}

STYLES = ("imperative", "request", "description", "tag", "compound")
_REQUEST = ("please {p}", "{p}, please", "could you {p}", "can you {p}", "{p} for me", "go ahead and {p}")
_DESCRIBE = (
    "{d}",
    "{d}, please",
    "result: {d}",
    "edit: {d}",
    "turn it into {d}",
    "make {d}",
    "convert the photo to {d}",
    "transform it into {d}",
    "render {d}",
    "output: {d}",
    "after: {d}",
)
_NAMED = (
    "{n}",
    "{n} effect",
    "{n} filter",
    "{n} look",
    "{n} style",
    "{n} preset",
    "apply a {n} effect",
    "use the {n} filter",
    "give it a {n} look",
    "add {n}",
    "style: {n}",
    "filter: {n}",
)
_COMPOUND = ("{p} ({n})", "{p} - {n}", "{n}: {p}", "{p}, {n} style", "{p}. {d}", "{d}: {p}")
_SYNONYMS = {
    "image": ("photo", "picture", "pic", "shot", "image"),
    "photo": ("image", "picture", "pic", "shot", "photo"),
    "picture": ("photo", "image", "pic", "picture"),
    "colours": ("colors", "colours", "tones"),
    "colors": ("colours", "colors", "tones"),
    "colour": ("color", "colour"),
    "color": ("colour", "color"),
    "it": ("it", "this", "this one", "the image"),
    "make": ("make", "turn", "get"),
    "add": ("add", "put", "apply"),
    "version": ("version", "variant", "copy", "edit"),
    "scene": ("scene", "view", "setting"),
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


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def vary(family: str, base: str, params: dict, rng: np.random.Generator) -> str:
    """A training text for one pair: its template `base` re-worded in a random training style."""
    style = STYLES[int(rng.integers(len(STYLES)))]
    names, results = DESCRIPTIONS[family]
    n, d = fill(_pick(names, rng), params), fill(_pick(results, rng), params)
    if style == "imperative":
        text = base
    elif style == "request":
        text = _pick(_REQUEST, rng).format(p=base)
    elif style == "tag":
        text = _pick(_NAMED, rng).format(n=n)
    elif style == "description":
        text = _pick(_DESCRIBE, rng).format(d=d)
    else:
        text = _pick(_COMPOUND, rng).format(p=base, n=n, d=d)
    text = _swap_synonyms(text.lower(), rng)
    if rng.random() < TYPO_RATE:
        text = add_typos(text, rng, count=1 + int(rng.random() < 0.3))
    return text
