"""A pair as a caller gives it (an EditPair, or a (before, after) of paths, locators, bytes or PIL images), loaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from editsearch.data.records import EditPair, ImageRef
from editsearch.media.images import ImageLike, load_image
from editsearch.media.locators import is_locator

PairLike = EditPair | tuple[ImageLike, ImageLike]


def load_pairs(pairs: Sequence[PairLike]) -> list[tuple[Any, Any]]:
    """(before, after) PIL images of each pair (raises ImageLoadError)."""
    return [pair.load() if isinstance(pair, EditPair) else (load_one(pair[0]), load_one(pair[1])) for pair in pairs]


def load_one(image: ImageLike) -> Any:
    """A PIL image from a path, a table-cell or tar-member locator, bytes or a PIL image (raises ImageLoadError)."""
    if isinstance(image, str) and is_locator(image) and not Path(image).exists():
        return ImageRef.from_locator(image).load()
    return load_image(image)


def describe(pair: PairLike) -> tuple[str, str, str | None, dict[str, Any]]:
    """(before, after, instruction, metadata) of a pair, as a result shows it."""
    if isinstance(pair, EditPair):
        return pair.before.locator, pair.after.locator, pair.instruction, dict(pair.metadata)
    return _name(pair[0]), _name(pair[1]), None, {}


def _name(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"
