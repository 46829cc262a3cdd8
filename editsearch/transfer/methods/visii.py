"""`--method visii`: learn an instruction from the exemplar (and its nearest edits) through a frozen IP2P, apply it."""

from __future__ import annotations

from typing import Any

from editsearch.transfer.methods.base import ApplyRequest, ModelNeed
from editsearch.transfer.methods.common import check_exemplar, load_exemplar, load_scorer
from editsearch.transfer.methods.report import ApplyReport
from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE

# The inversion's settings (InversionSettings fields) by the option that gives each.
INVERSION_OPTIONS = {"visii_steps": "steps", "lr": "lr", "lambda_mse": "lambda_mse", "lambda_clip": "lambda_clip"}
INVERSION_OPTIONS |= {"init_text": "init_text", "tokens": "tokens"}


class VisiiMethod:
    """VISII: an instruction learned once per edit (kept in the catalog and reused), then applied like a prompt."""

    name = "visii"
    summary = "learn an instruction from the exemplar, then apply it (slow; the pipeline's conditioning is learned)"
    # The paper's sampling guidance (transfer.visii: VISII_GUIDANCE, VISII_IMAGE_GUIDANCE); IP2P's 50 steps.
    defaults: dict[str, Any] = {"steps": 50, "edit_guidance": 7.5, "image_guidance": 1.5}
    # None: InversionSettings' default for the pipeline (e.g. 1000 steps, lr 1e-3, 10 tokens on a text IP2P).
    options: dict[str, Any] = {"clip_model": None, "text": None, "neighbours": 0, "reuse_noise": False}
    options |= dict.fromkeys(INVERSION_OPTIONS)
    models = (
        ModelNeed("InstructPix2Pix, EditCLIP-conditioned or text-conditioned", "--model", DEFAULT_PIPELINE),
        ModelNeed(
            "CLIP for the edit direction, with a text-conditioned --model",
            "--clip-model",
            "openai/clip-vit-large-patch14",
        ),
        ModelNeed("EditCLIP that scores the outputs by EC2EC (no score without it)", "--editclip"),
    )

    def check(self, request: ApplyRequest) -> None:
        """UsageError unless exactly one exemplar is named."""
        check_exemplar(request.exemplar)

    def apply(self, request: ApplyRequest) -> ApplyReport:
        """Load the exemplar, the IP2P and CLIP (and the scoring EditCLIP); learn or reuse the instruction; apply."""
        from editsearch.transfer.visii_apply import VisiiRun, apply_visii, load_visii

        self.check(request)
        options, settings = request.own(self.options), request.settings(self.defaults)
        exemplar = load_exemplar(request.exemplar)
        visii = load_visii(request.model, options["clip_model"])
        scorer = load_scorer(request.editclip, request.notify)
        given = {field: options[o] for o, field in INVERSION_OPTIONS.items() if options[o] is not None}
        inversion = visii.settings(**given, size=request.size, seed=request.seed)
        run = VisiiRun(
            inversion, options["text"], settings["steps"], request.seed, settings["edit_guidance"],
            settings["image_guidance"], request.size, options["reuse_noise"],
        )  # fmt: skip
        every = max(1, inversion.steps // 10)

        def progress(step: int, loss: float) -> None:
            if step % every == 0 or step == inversion.steps:
                request.notify(f"VISII step {step}/{inversion.steps}  loss {loss:.4f}")

        return apply_visii(
            visii, exemplar, request.images, run, index_dir=request.exemplar.index_dir,
            neighbours=options["neighbours"], editclip=scorer, progress=progress,
        )  # fmt: skip
