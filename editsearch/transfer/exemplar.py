"""Exemplar pairs for edit transfer: an indexed edit by id, or two image files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from editsearch.media.images import ImageLike, load_image


@dataclass
class Exemplar:
    """A loaded before/after pair and where it came from."""

    before: Image.Image
    after: Image.Image
    before_ref: str
    after_ref: str
    edit_id: int | None = None
    instruction: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (no pixels)."""
        return {
            "id": self.edit_id,
            "before": self.before_ref,
            "after": self.after_ref,
            "instruction": self.instruction,
            "metadata": self.metadata,
        }


def exemplar_from_files(before: ImageLike, after: ImageLike) -> Exemplar:
    """Load a pair from two images; raises editsearch.media.images.ImageLoadError."""
    return Exemplar(load_image(before), load_image(after), _ref(before), _ref(after))


def exemplar_from_index(index_dir: str | Path | None, edit_id: int) -> Exemplar:
    """Load edit `edit_id` of an index; raises EditIndexError subclasses (no index, unknown or removed id)."""
    from editsearch.data.records import ImageRef
    from editsearch.index.store import EditIndex

    with EditIndex.open(index_dir) as index:
        row = index.get_edit(edit_id)
    before, after = ImageRef.from_locator(row["before"]).load(), ImageRef.from_locator(row["after"]).load()
    return Exemplar(
        before, after, row["before"], row["after"], edit_id, row.get("instruction"), row.get("metadata") or {}
    )


def _ref(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"
