"""The 47 held-out edit families: each one's edit function and whether its reverse is a different edit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from benchmarks.heldout import compounds, filters, geometry, overlays, styles, tones

EditFn = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclass(frozen=True)
class Family:
    """One edit family: its name, its edit (image, rng) -> image of the same size, and its direction."""

    name: str
    edit: EditFn
    directional: bool  # True when after -> before is a different edit from before -> after
    why: str = ""  # the reason, where the flag is not obvious


def _family(edit: EditFn, directional: bool = True, why: str = "") -> Family:
    """A family named after its edit function."""
    return Family(edit.__name__, edit, directional, why)


_SELF_INVERSE = "its own reverse: undoing it is the same edit again"

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _family(tones.brighter),
        _family(tones.darker),
        _family(tones.more_contrast),
        _family(tones.less_contrast),
        _family(tones.saturate),
        _family(tones.desaturate),
        _family(tones.hue_shift, False, "a hue rotation by a random angle is undone by another rotation"),
        _family(tones.tint_red),
        _family(tones.tint_green),
        _family(tones.tint_blue),
        _family(tones.tint_purple),
        _family(tones.warmer),
        _family(tones.cooler),
        _family(tones.invert, False, _SELF_INVERSE),
        _family(tones.grayscale),
        _family(tones.sepia),
        _family(tones.posterize),
        _family(styles.watercolor),
        _family(styles.oil_paint),
        _family(styles.pencil_sketch),
        _family(styles.cartoon),
        _family(styles.pixel_art),
        _family(styles.halftone),
        _family(styles.emboss),
        _family(filters.blur),
        _family(filters.sharpen, True, "the reverse softens the image: a blur, not a sharpen"),
        _family(filters.noise),
        _family(filters.film_grain),
        _family(geometry.flip_horizontal, False, _SELF_INVERSE),
        _family(geometry.flip_vertical, False, _SELF_INVERSE),
        _family(geometry.rotate_90, False, "turns either way are drawn, so the reverse is also a quarter turn"),
        _family(geometry.tilt, True, "the reverse straightens and un-crops, which no tilt does"),
        _family(geometry.zoom_in, True, "the reverse is zooming out"),
        _family(geometry.frame),
        _family(geometry.vignette),
        _family(overlays.snow),
        _family(overlays.rain),
        _family(overlays.fog),
        _family(overlays.shapes),
        _family(overlays.smiley),
        _family(overlays.text),
        _family(compounds.grayscale_frame),
        _family(compounds.old_photo),
        _family(compounds.winter),
        _family(compounds.mirror_brighter, True, "the reverse is mirror + darker"),
        _family(compounds.stormy),
        _family(compounds.sketch_frame),
    )
}
