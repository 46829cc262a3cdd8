"""Applying one exemplar to many images, as the CLI and the server do: load each, skip the unreadable, score."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from editsearch.core.errors import items_exit_code
from editsearch.media.images import ImageLike
from editsearch.transfer.exemplar import Exemplar
from editsearch.transfer.methods import load_queries
from editsearch.transfer.pipeline import DEFAULT_EDIT_GUIDANCE, DEFAULT_IMAGE_GUIDANCE, DEFAULT_STEPS, EditTransfer


@dataclass
class Applied:
    """One edited image: which input it came from (its position and name), the output, and its EC2EC."""

    position: int
    image: str
    output: Image.Image
    ec2ec: float


@dataclass
class ApplyReport:
    """What an apply did: the outputs, the inputs that could not be read, the settings and the timings."""

    edit: dict[str, Any]
    editclip: str
    settings: dict[str, Any]
    outputs: list[Applied] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every image was applied, 3 when some could not be read (each reported)."""
        return items_exit_code(len(self.failed))


def apply_edit(
    transfer: EditTransfer,
    exemplar: Exemplar,
    images: Sequence[ImageLike],
    *,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    edit_guidance: float = DEFAULT_EDIT_GUIDANCE,
    image_guidance: float = DEFAULT_IMAGE_GUIDANCE,
    size: int | None = None,
) -> ApplyReport:
    """Apply the exemplar's edit to each readable image and score it; DataError when no image can be read."""
    started = time.perf_counter()
    loaded, failed = load_queries(images)
    queries = [img for _, _, img in loaded]
    settings = {"steps": steps, "seed": seed, "edit_guidance": edit_guidance, "image_guidance": image_guidance}
    outputs = transfer.apply(exemplar.before, exemplar.after, queries, size=size, **settings)
    applied = time.perf_counter()
    scores = transfer.ec2ec(exemplar.before, exemplar.after, queries, outputs)
    scored = time.perf_counter()
    report = ApplyReport(
        exemplar.describe(),
        transfer.editclip.name,
        {
            **settings,
            "size": size or transfer.resolution,
            "device": str(transfer.device),
            "dtype": str(transfer.dtype).removeprefix("torch."),
        },
        [Applied(i, name, out, s) for (i, name, _), out, s in zip(loaded, outputs, scores, strict=True)],
        failed,
    )
    report.timings = {
        "apply_s": round(applied - started, 3),
        "per_image_s": round((applied - started) / len(queries), 3),
        "score_s": round(scored - applied, 3),
    }
    return report
