"""The catalogue of synthetic edit families: what each does, its group, and how people phrase it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from editsearch.data.synthetic import edits_geometry as geo
from editsearch.data.synthetic import edits_overlay as overlay
from editsearch.data.synthetic import edits_style as style
from editsearch.data.synthetic import edits_tone as tone
from editsearch.data.synthetic.imaging import Edit, EditFn
from editsearch.data.synthetic.phrasings import PHRASINGS, fill

GROUPS = ("photometric", "stylistic", "blur", "geometric", "local", "compound")


@dataclass(frozen=True)
class Family:
    """One kind of edit: a random-strength image operation plus train and held-out phrasings."""

    name: str
    group: str
    fn: EditFn
    train_phrasings: list[str]
    heldout_phrasings: list[str]

    def apply(self, img: Image.Image, rng: np.random.Generator) -> Edit:
        """(after image, JSON-able params) for one random instance of this edit."""
        return self.fn(img.convert("RGB"), rng)

    def phrasings(self, split: str) -> list[str]:
        """Phrasings a split may use: train ones for 'train', held-out ones for 'test'."""
        return self.heldout_phrasings if split == "test" else self.train_phrasings

    def instruction(self, split: str, params: dict, rng: np.random.Generator) -> str:
        """One phrasing of the split, with {placeholders} filled from params."""
        options = self.phrasings(split)
        return fill(options[int(rng.integers(len(options)))], params)


def compound(*steps: str) -> EditFn:
    """An edit that applies the named families' operations one after another."""
    fns = [_SINGLE[name] for name in steps]

    def apply(img: Image.Image, rng: np.random.Generator) -> Edit:
        done = []
        for name, fn in zip(steps, fns, strict=True):
            img, params = fn(img, rng)
            done.append({"family": name, "params": params})
        return img, {"steps": done}

    apply.__doc__ = " then ".join(steps)
    return apply


_SINGLE: dict[str, EditFn] = {}  # family name -> its operation, for the single-step families
_GROUPED: dict[str, tuple[str, EditFn]] = {
    "brighter": ("photometric", tone.brighter),
    "darker": ("photometric", tone.darker),
    "more_contrast": ("photometric", tone.more_contrast),
    "less_contrast": ("photometric", tone.less_contrast),
    "saturate": ("photometric", tone.saturate),
    "desaturate": ("photometric", tone.desaturate),
    "hue_shift": ("photometric", tone.hue_shift),
    "tint_red": ("photometric", tone.tint("red")),
    "tint_green": ("photometric", tone.tint("green")),
    "tint_blue": ("photometric", tone.tint("blue")),
    "tint_purple": ("photometric", tone.tint("purple")),
    "warmer": ("photometric", tone.warmer),
    "cooler": ("photometric", tone.cooler),
    "invert": ("photometric", tone.invert),
    "grayscale": ("stylistic", style.grayscale),
    "sepia": ("stylistic", style.sepia),
    "posterize": ("stylistic", style.posterize),
    "watercolor": ("stylistic", style.watercolor),
    "oil_paint": ("stylistic", style.oil_paint),
    "pencil_sketch": ("stylistic", style.pencil_sketch),
    "cartoon": ("stylistic", style.cartoon),
    "pixel_art": ("stylistic", style.pixel_art),
    "halftone": ("stylistic", style.halftone),
    "emboss": ("stylistic", style.emboss),
    "blur": ("blur", tone.blur),
    "sharpen": ("blur", tone.sharpen),
    "noise": ("blur", tone.noise),
    "film_grain": ("blur", tone.film_grain),
    "flip_horizontal": ("geometric", geo.flip_horizontal),
    "flip_vertical": ("geometric", geo.flip_vertical),
    "rotate_90": ("geometric", geo.rotate_90),
    "tilt": ("geometric", geo.tilt),
    "zoom_in": ("geometric", geo.zoom_in),
    "frame": ("local", overlay.frame),
    "vignette": ("local", overlay.vignette),
    "snow": ("local", overlay.snow),
    "rain": ("local", overlay.rain),
    "fog": ("local", overlay.fog),
    "shapes": ("local", overlay.shapes),
    "smiley": ("local", overlay.smiley),
    "text": ("local", overlay.text),
}
_SINGLE.update({name: fn for name, (_, fn) in _GROUPED.items()})
COMPOUND_STEPS: dict[str, tuple[str, ...]] = {
    "grayscale_frame": ("grayscale", "frame"),
    "old_photo": ("sepia", "vignette"),
    "winter": ("cooler", "snow"),
    "mirror_brighter": ("flip_horizontal", "brighter"),
    "stormy": ("darker", "rain"),
    "sketch_frame": ("pencil_sketch", "frame"),
}
_GROUPED.update({name: ("compound", compound(*steps)) for name, steps in COMPOUND_STEPS.items()})

FAMILIES: dict[str, Family] = {
    name: Family(name, group, fn, *PHRASINGS[name]) for name, (group, fn) in _GROUPED.items()
}
