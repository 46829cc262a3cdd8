"""Applying one exemplar to many images, as the CLI and the server do: load each, skip the unreadable, score."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from editsearch.media.images import ImageLike
from editsearch.transfer.exemplar import Exemplar
from editsearch.transfer.methods.common import load_queries
from editsearch.transfer.methods.report import Applied, ApplyReport
from editsearch.transfer.pipeline import DEFAULT_EDIT_GUIDANCE, DEFAULT_IMAGE_GUIDANCE, DEFAULT_STEPS, EditTransfer
from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE, is_demonstration


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
    model: str | Path | None = None,
) -> ApplyReport:
    """Apply the exemplar's edit to each readable image and score it; DataError when no image can be read.

    `model` names the pipeline `transfer` was loaded from (default: the shipped one), for the report.
    """
    started = time.perf_counter()
    loaded, failed = load_queries(images)
    queries = [img for _, _, img in loaded]
    settings = {"steps": steps, "seed": seed, "edit_guidance": edit_guidance, "image_guidance": image_guidance}
    outputs = transfer.apply(exemplar.before, exemplar.after, queries, size=size, **settings)
    applied = time.perf_counter()
    scores = transfer.ec2ec(exemplar.before, exemplar.after, queries, outputs)
    scored = time.perf_counter()
    report = ApplyReport(
        "editclip",
        str(model or DEFAULT_PIPELINE),
        {
            **settings,
            "size": size or transfer.resolution,
            "device": str(transfer.device),
            "dtype": str(transfer.dtype).removeprefix("torch."),
        },
        edit=exemplar.describe(),
        editclip=transfer.editclip.name,
        outputs=[Applied(i, name, out, s) for (i, name, _), out, s in zip(loaded, outputs, scores, strict=True)],
        failed=failed,
        demonstration=is_demonstration(model),
    )
    report.timings = {
        "apply_s": round(applied - started, 3),
        "per_image_s": round((applied - started) / len(queries), 3),
        "score_s": round(scored - applied, 3),
    }
    return report
