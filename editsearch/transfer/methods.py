"""What the other ways to apply an edit (VISII, caption direction) report, and the input handling they share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from editsearch.core.errors import DataError, EditSearchError, WeightsNotFoundError, items_exit_code
from editsearch.media.images import ImageLike, ImageLoadError, load_image

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
    demonstration: bool = False  # made by the shipped 64-px demonstration pipeline (editclip-ip2p-mini)

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


def locate_all(locators: Sequence[Callable[[], Path]], method: str) -> list[Path]:
    """Each model's local folder, or one error naming every model that is missing or unusable, with each how-to."""
    found: list[Path] = []
    problems: list[EditSearchError] = []
    for locate in locators:
        try:
            found.append(locate())
        except EditSearchError as e:
            problems.append(e)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        listed = " ".join(f"({i}) {str(e).rstrip('.')}." for i, e in enumerate(problems, 1))
        kind = WeightsNotFoundError if any(isinstance(e, WeightsNotFoundError) for e in problems) else type(problems[0])
        raise kind(f"{method} cannot use {len(problems)} of the models it needs: {listed}")
    return found
