"""`--method editclip` (the default): the exemplar's EditCLIP tokens condition an EditCLIP-IP2P pipeline."""

from __future__ import annotations

import time
from typing import Any

from editsearch.transfer.methods.base import ApplyRequest, ModelNeed
from editsearch.transfer.methods.common import check_exemplar, load_exemplar
from editsearch.transfer.methods.report import ApplyReport
from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE


class EditClipMethod:
    """EditCLIP conditioning: one forward pass per image, EC2EC of each output against the exemplar."""

    name = "editclip"
    summary = "EditCLIP-conditioned IP2P (fast)"
    # The official inference settings (transfer.pipeline: DEFAULT_STEPS, DEFAULT_EDIT_GUIDANCE, ...).
    defaults: dict[str, Any] = {"steps": 50, "edit_guidance": 7.0, "image_guidance": 1.5}
    options: dict[str, Any] = {}
    models = (
        ModelNeed("EditCLIP-IP2P pipeline", "--model", DEFAULT_PIPELINE),
        ModelNeed("conditioning EditCLIP (default: the one the pipeline records)", "--editclip"),
    )

    def check(self, request: ApplyRequest) -> None:
        """UsageError unless exactly one exemplar is named."""
        check_exemplar(request.exemplar)

    def apply(self, request: ApplyRequest) -> ApplyReport:
        """Load the exemplar and the pipeline, apply, score; `load_s` in the timings."""
        from editsearch.core.errors import untrained_note
        from editsearch.transfer.apply import apply_edit
        from editsearch.transfer.pipeline import EditTransfer

        started = time.perf_counter()
        self.check(request)
        exemplar = load_exemplar(request.exemplar)
        transfer = EditTransfer.from_pretrained(request.model, editclip=request.editclip)
        if not transfer.editclip.trained:
            request.notify(untrained_note(transfer.editclip.name, "edits and EC2EC are noise"))
        if request.progress_bars:
            transfer.pipe.set_progress_bar_config(disable=None, leave=False)
        loaded = time.perf_counter()
        settings = request.settings(self.defaults)
        report = apply_edit(
            transfer, exemplar, request.images, seed=request.seed, size=request.size, model=request.model, **settings
        )
        report.timings["load_s"] = round(loaded - started, 3)
        return report
