"""What the other ways to apply an edit (VISII, caption direction) report, and the input handling they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from editsearch.errors import DataError, items_exit_code
from editsearch.images import ImageLike, ImageLoadError, load_image

METHODS = ("editclip", "visii", "caption-direction")


@dataclass
class MethodOutput:
    """One edited image: its input's position and name, the output, and its EC2EC when an EditCLIP scored it."""

    position: int
    image: str
    output: Image.Image
    ec2ec: float | None = None


@dataclass
class MethodReport:
    """What one run of a method did: outputs, unreadable inputs, the method's own facts, settings, timings."""

    method: str
    model: str
    settings: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    outputs: list[MethodOutput] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every image was edited, 3 when some could not be read (each reported)."""
        return items_exit_code(len(self.failed))


def load_queries(images: Sequence[ImageLike]) -> tuple[list[tuple[int, str, Image.Image]], list[tuple[str, str]]]:
    """(position, name, image) of each readable image and (name, reason) of the others; DataError if none reads."""
    loaded: list[tuple[int, str, Image.Image]] = []
    failed: list[tuple[str, str]] = []
    for i, image in enumerate(images):
        name = str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"
        try:
            loaded.append((i, name, load_image(image)))
        except ImageLoadError as e:
            failed.append((name, str(e)))
    if not loaded:
        raise DataError(f"no image could be read ({len(failed)} failed: {failed[0][1] if failed else 'none given'})")
    return loaded, failed


def ec2ec_scores(
    editclip: Any, before: Image.Image, after: Image.Image, queries: Sequence[Image.Image], outputs: Sequence[Any]
) -> list[float]:
    """EC2EC of each (query, output) against the exemplar (before, after), with an EditCLIP model."""
    n = len(queries)
    scores = editclip.ec2ec((list(queries), list(outputs)), ([before] * n, [after] * n))
    return [float(s) for s in scores]
