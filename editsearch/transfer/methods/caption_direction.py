"""`--method caption-direction`: DDIM inversion, then Stable Diffusion along a caption difference (no exemplar)."""

from __future__ import annotations

from typing import Any

from editsearch.core.errors import UsageError
from editsearch.transfer.methods.base import ApplyRequest, ModelNeed
from editsearch.transfer.methods.report import ApplyReport


class CaptionDirectionMethod:
    """Caption direction: the captions are the user's, or a BLIP's and an instruction-tuned LLM's."""

    name = "caption-direction"
    summary = "DDIM inversion + Stable Diffusion along a caption difference (no exemplar)"
    # The paper's 100 DDIM steps each way and SD's guidance (transfer.caption_direction: DEFAULT_STEPS, ...);
    # it has no image guidance.
    defaults: dict[str, Any] = {"steps": 100, "edit_guidance": 7.5, "image_guidance": None}
    options: dict[str, Any] = {"source_caption": None, "target_caption": None, "direction_weight": 1.0}
    options |= {"sd_model": None, "caption_model": None, "instruction": None, "caption_llm": None}
    models = (
        ModelNeed("Stable Diffusion", "--sd-model", "CompVis/stable-diffusion-v1-4"),
        ModelNeed("BLIP that captions each image when no source caption is given", "--caption-model"),
        ModelNeed("instruction-tuned LLM that writes the target caption from --instruction", "--caption-llm",
                  "Qwen/Qwen2.5-0.5B-Instruct"),
    )  # fmt: skip

    def check(self, request: ApplyRequest) -> None:
        """UsageError for an exemplar, an IP2P model, or captions that have no way to come."""
        from editsearch.transfer.captions import check_captions

        if request.exemplar.given:
            raise UsageError("caption-direction takes no exemplar (--edit-id, --before/--after): it edits by captions")
        if request.model or request.editclip:
            raise UsageError("caption-direction loads Stable Diffusion with --sd-model, not --model/--editclip")
        options = request.own(self.options)
        if options["caption_llm"] and options["instruction"] is None:
            raise UsageError("--caption-llm writes the target caption from --instruction: pass --instruction too")
        source, target, instruction = options["source_caption"], options["target_caption"], options["instruction"]
        check_captions(source, target, instruction, bool(options["caption_model"]), True)

    def apply(self, request: ApplyRequest) -> ApplyReport:
        """Load the models the captions need (every missing one named at once), edit each image."""
        from editsearch.transfer.caption_direction import apply_captions, caption_models

        self.check(request)
        options, settings = request.own(self.options), request.settings(self.defaults)
        source, instruction = options["source_caption"], options["instruction"]
        editor, captioner, writer = caption_models(
            options["sd_model"], options["caption_model"], options["caption_llm"],
            captions=source is None, writes=instruction is not None,
        )  # fmt: skip
        return apply_captions(
            editor, list(request.images), source, options["target_caption"], captioner=captioner, writer=writer,
            instruction=instruction, weight=options["direction_weight"], steps=settings["steps"],
            guidance=settings["edit_guidance"], size=request.size,
        )  # fmt: skip
