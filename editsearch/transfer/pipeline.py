"""EditTransfer: diffusers' InstructPix2Pix pipeline conditioned on projected EditCLIP tokens instead of text."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from editsearch.core.errors import IncompatibleModelError, UsageError
from editsearch.encoder import EditCLIP, WeightsNotFoundError, load_model
from editsearch.encoder.model import PairInput, default_device
from editsearch.media.images import ImageLike, load_image
from editsearch.transfer.geometry import PipelineGeometry
from editsearch.transfer.model_folders import check_editclip_pipeline
from editsearch.transfer.pipeline_names import OFFICIAL_EDITCLIP, resolve_pipeline
from editsearch.transfer.projector import OFFICIAL_WEIGHTS, EditProjector

INFO_NAME = "editsearch.json"  # our addition to the official layout: which EditCLIP conditions the pipeline
SD_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000}

# The official inference settings (EditCLIP repo): Euler ancestral, 50 steps, guidance 7 (edit) and 1.5 (image).
DEFAULT_STEPS = 50
DEFAULT_EDIT_GUIDANCE = 7.0
DEFAULT_IMAGE_GUIDANCE = 1.5
MIN_SIZE = 8  # the smallest working size (`apply --size`) a run accepts
MAX_SEED = 2**63 - 1  # a torch generator seed


@contextmanager
def _quiet_diffusers() -> Any:
    """Silence diffusers' info/warning logs (e.g. 'text_encoder=None cannot be saved') for a block."""
    from diffusers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def default_dtype(device: torch.device) -> torch.dtype:
    """float16 on CUDA, float32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32


def euler_ancestral(scheduler: Any = None) -> Any:
    """An EulerAncestralDiscreteScheduler: from another scheduler's config, or with SD's beta schedule."""
    from diffusers import EulerAncestralDiscreteScheduler

    if scheduler is None:
        return EulerAncestralDiscreteScheduler(**SD_BETAS)
    if isinstance(scheduler, EulerAncestralDiscreteScheduler):
        return scheduler
    return EulerAncestralDiscreteScheduler.from_config(scheduler.config)


class EditTransfer(PipelineGeometry):
    """Apply an exemplar edit (before, after) to new images with an EditCLIP-conditioned InstructPix2Pix."""

    def __init__(self, pipe: Any, projector: EditProjector, editclip: EditCLIP) -> None:
        cross_dim = pipe.unet.config.cross_attention_dim
        if projector.cross_attention_dim != cross_dim:
            raise IncompatibleModelError(
                f"projector emits {projector.cross_attention_dim}-d tokens, the UNet takes {cross_dim}"
            )
        if projector.vision_width != editclip.vision_width:
            raise IncompatibleModelError(
                f"the pipeline's projector takes EditCLIP tokens of width {projector.vision_width}, but EditCLIP "
                f"{editclip.name!r} gives width {editclip.vision_width}; pass the EditCLIP it was trained with"
            )
        self.pipe = pipe
        self.projector = projector.eval().requires_grad_(False)
        self.editclip = editclip.eval()
        pipe.set_progress_bar_config(disable=True)

    # ----- construction ------------------------------------------------------------------------
    @classmethod
    def from_components(
        cls, unet: Any, vae: Any, projector: EditProjector, editclip: EditCLIP, scheduler: Any = None
    ) -> EditTransfer:
        """Assemble from a UNet (8 input channels), a VAE, a projector and an EditCLIP; scheduler -> Euler ancestral."""
        from diffusers import StableDiffusionInstructPix2PixPipeline

        pipe = StableDiffusionInstructPix2PixPipeline(
            vae=vae,
            unet=unet,
            scheduler=euler_ancestral(scheduler),
            text_encoder=None,
            tokenizer=None,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        return cls(pipe, projector, editclip)

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | Path | None = None,
        editclip: EditCLIP | str | Path | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> EditTransfer:
        """Load an EditCLIP-IP2P folder (official QWW/EditCLIP-IP2P layout) by registry name, path or hub id.

        `editclip` defaults to the one recorded in the folder's editsearch.json, else the official ViT-L/14.
        Runs in float16 on CUDA and float32 on CPU unless `dtype` is given. Missing weights raise
        WeightsNotFoundError with a how-to.
        """
        from diffusers import AutoencoderKL, UNet2DConditionModel

        folder = resolve_pipeline(path_or_hub_id)
        if not (folder / OFFICIAL_WEIGHTS).is_file():
            raise WeightsNotFoundError(
                f"{folder} has no {OFFICIAL_WEIGHTS}: it is a plain InstructPix2Pix, not EditCLIP-conditioned. "
                f"Fine-tune it first: editsearch train ip2p --init {path_or_hub_id} --out DIR"
            )
        check_editclip_pipeline(folder)
        dev = torch.device(device) if device is not None else default_device()
        dtype = dtype or default_dtype(dev)
        info = json.loads((folder / INFO_NAME).read_text()) if (folder / INFO_NAME).exists() else {}
        if not isinstance(editclip, EditCLIP):
            editclip = load_model(editclip or info.get("editclip") or OFFICIAL_EDITCLIP, device=dev)
        recorded = info.get("editclip_fingerprint")
        if recorded and recorded != editclip.fingerprint:
            warnings.warn(
                f"EditCLIP {editclip.name!r} differs from the one this pipeline was trained with "
                f"({info.get('editclip')!r}); edits may transfer poorly",
                stacklevel=2,
            )
        with _quiet_diffusers():
            unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=dtype)
            vae = AutoencoderKL.from_pretrained(folder, subfolder="vae", torch_dtype=dtype)
            scheduler = euler_ancestral(load_scheduler(folder))
        projector = EditProjector.from_pretrained(folder / OFFICIAL_WEIGHTS)
        return cls.from_components(unet, vae, projector, editclip, scheduler).to(dev, dtype)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the official layout (model_index.json, unet/, vae/, scheduler/, image_proj_model.pt) + our info."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with _quiet_diffusers():
            self.pipe.save_pretrained(out)
        self.projector.save_official(out / OFFICIAL_WEIGHTS)
        info = {"editclip": self.editclip.name, "editclip_fingerprint": self.editclip.fingerprint}
        (out / INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")
        return out

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> EditTransfer:
        """Move the pipeline and projector (and EditCLIP, kept float32) to a device / dtype."""
        dev = torch.device(device)
        if dtype is None or dtype == self.dtype:  # casting with to() makes diffusers warn, even to the same dtype
            self.pipe.to(dev)
        else:
            self.pipe.to(dev, dtype)
        self.projector.to(dev, dtype)
        self.editclip.to(dev)
        return self

    # ----- inference ---------------------------------------------------------------------------
    def encode_edit(self, before: PairInput, after: PairInput) -> torch.Tensor:
        """The edit's condition: projected EditCLIP tokens [1, T, cross_dim] on the pipeline's device and dtype."""
        tokens = self.editclip.edit_tokens([before], [after])
        proj_dtype = self.projector.proj.weight.dtype
        with torch.inference_mode():
            return self.projector(tokens.to(self.device, proj_dtype)).to(self.dtype)

    def apply(
        self,
        before: PairInput,
        after: PairInput,
        images: Sequence[ImageLike],
        steps: int = DEFAULT_STEPS,
        seed: int = 0,
        edit_guidance: float = DEFAULT_EDIT_GUIDANCE,
        image_guidance: float = DEFAULT_IMAGE_GUIDANCE,
        size: int | None = None,
        batch_size: int = 4,
    ) -> list[Image.Image]:
        """Apply the edit before -> after to each image; the exemplar is encoded once.

        Each image is processed at `working_size` (default: the model's native resolution) and returned at
        that size. Every image uses its own generator seeded with `seed`, so an output does not depend on
        which other images share its batch.
        """
        return self.apply_condition(
            self.encode_edit(before, after), images, steps, seed, edit_guidance, image_guidance, size, batch_size
        )

    def apply_condition(
        self,
        condition: torch.Tensor,
        images: Sequence[ImageLike],
        steps: int = DEFAULT_STEPS,
        seed: int = 0,
        edit_guidance: float = DEFAULT_EDIT_GUIDANCE,
        image_guidance: float = DEFAULT_IMAGE_GUIDANCE,
        size: int | None = None,
        batch_size: int = 4,
    ) -> list[Image.Image]:
        """`apply` with a precomputed condition from `encode_edit` (reuse it across many calls).

        Raises UsageError for steps, size or batch_size below their minimum or a non-finite guidance.
        """
        check_settings(steps, edit_guidance, image_guidance, size, batch_size, seed)
        pil = [load_image(img) for img in images]
        targets = [self.working_size(*img.size, size=size) for img in pil]
        out: list[Image.Image | None] = [None] * len(pil)
        for target in dict.fromkeys(targets):
            same = [i for i, t in enumerate(targets) if t == target]
            for start in range(0, len(same), batch_size):
                chunk = same[start : start + batch_size]
                batch = [pil[i] if pil[i].size == target else pil[i].resize(target, Image.BICUBIC) for i in chunk]
                cond = condition.expand(len(chunk), -1, -1)
                result = self.pipe(
                    image=batch,
                    prompt_embeds=cond,
                    negative_prompt_embeds=EditProjector.null_condition(cond),
                    num_inference_steps=steps,
                    guidance_scale=edit_guidance,
                    image_guidance_scale=image_guidance,
                    generator=[torch.Generator().manual_seed(seed) for _ in chunk],
                    output_type="pil",
                ).images
                for i, img in zip(chunk, result, strict=True):
                    out[i] = img
        return [img for img in out if img is not None]

    def ec2ec(
        self, before: PairInput, after: PairInput, queries: Sequence[ImageLike], outputs: Sequence[ImageLike]
    ) -> list[float]:
        """EC2EC, the EditCLIP paper's metric, of each (query, output) against the exemplar (before, after)."""
        pil_queries = [load_image(q) for q in queries]
        n = len(pil_queries)
        scores = self.editclip.ec2ec((pil_queries, list(outputs)), ([before] * n, [after] * n))
        return [float(s) for s in scores]


def check_settings(
    steps: int, edit_guidance: float, image_guidance: float, size: int | None, batch_size: int, seed: int = 0
) -> None:
    """Refuse (UsageError) settings no run can use: steps, batch size or size too small, NaN guidance, a bad seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    for name, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1), ("size", size, MIN_SIZE)):
        if value is None and name == "size":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    for name, value in (("edit_guidance", edit_guidance), ("image_guidance", image_guidance)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{name} must be a finite number, got {value!r}")


def load_scheduler(folder: Path) -> Any:
    """The folder's scheduler config as an Euler ancestral scheduler; None when the folder has none."""
    from diffusers import EulerAncestralDiscreteScheduler

    if not (folder / "scheduler").is_dir():
        return None
    return EulerAncestralDiscreteScheduler.from_pretrained(folder, subfolder="scheduler")
