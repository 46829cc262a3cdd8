"""What the ways to apply an edit share: reading the inputs and the exemplar, EC2EC scoring, finding the models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from editsearch.core.errors import DataError, EditSearchError, UsageError, WeightsNotFoundError, untrained_note
from editsearch.media.images import ImageLike, ImageLoadError, load_image
from editsearch.transfer.methods.base import ExemplarChoice


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


def check_exemplar(exemplar: ExemplarChoice) -> None:
    """UsageError unless exactly one exemplar is named: an edit id, or a before and an after image."""
    if (exemplar.before is None) != (exemplar.after is None):
        raise UsageError("--before and --after go together")
    if exemplar.before is not None and exemplar.edit_id is not None:
        raise UsageError("give either --edit-id (with --index) or --before/--after, not both")
    if exemplar.before is None and exemplar.edit_id is None:
        raise UsageError("give --edit-id N (an indexed edit) or --before A --after B")


def load_exemplar(exemplar: ExemplarChoice) -> Any:
    """The Exemplar an ExemplarChoice names (checked first): an indexed edit's pair or two image files."""
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

    check_exemplar(exemplar)
    if exemplar.before is not None:
        return exemplar_from_files(exemplar.before, exemplar.after)
    return exemplar_from_index(exemplar.index_dir, exemplar.edit_id)


def load_scorer(name: str | None, notify: Callable[[str], None]) -> Any:
    """The EditCLIP that scores outputs by EC2EC (an untrained one noted), or None without a name."""
    if name is None:
        return None
    from editsearch.encoder import load_model

    model = load_model(name)
    if not model.trained:
        notify(untrained_note(model.name, "EC2EC is noise"))
    return model
