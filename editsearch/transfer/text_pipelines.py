"""Loading stock text-conditioned diffusers pipelines (InstructPix2Pix, Stable Diffusion) and a CLIP, offline-aware."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from editsearch.core.errors import IncompatibleModelError
from editsearch.core.hub import local_folder
from editsearch.transfer.model_folders import (
    SKIPPED_COMPONENTS,
    PipelineKind,
    check_stock_pipeline,
    check_transformers_folder,
)

DEFAULT_IP2P = "timbrooks/instruct-pix2pix"  # the InstructPix2Pix VISII inverts against
DEFAULT_SD = "CompVis/stable-diffusion-v1-4"  # the Stable Diffusion the caption-direction paper found best
DEFAULT_CLIP = "openai/clip-vit-large-patch14"  # the CLIP VISII measures the edit direction with
TEXT_PIPELINE_FILES = [
    "model_index.json",
    "unet/*.json",
    "unet/*.safetensors",
    "vae/*.json",
    "vae/*.safetensors",
    "text_encoder/*.json",
    "text_encoder/*.safetensors",
    "tokenizer/*",
    "scheduler/*",
]
CLIP_FILES = ["*.json", "*.txt", "*.safetensors"]
CLIP_NEEDED = (
    "--method visii with a text-conditioned pipeline needs a transformers CLIP: pass --clip-model "
    f"(e.g. {DEFAULT_CLIP})"
)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


IP2P_KIND = PipelineKind(
    "StableDiffusionInstructPix2PixPipeline",
    8,
    "text-conditioned InstructPix2Pix pipeline",
    "--method visii",
    "--model",
    f"{DEFAULT_IP2P}; or an EditCLIP-IP2P pipeline such as the default editclip-ip2p-mini",
)
SD_KIND = PipelineKind(
    "StableDiffusionPipeline", 4, "text-to-image Stable Diffusion pipeline", "--method caption-direction",
    "--sd-model", DEFAULT_SD,
)  # fmt: skip


def resolve_text_pipeline(name: str, kind: PipelineKind) -> Path:
    """A local stock diffusers folder of `kind` for a folder or hub id (offline: the cache), its JSON checked."""
    folder = local_folder(name, kind.what, kind.option, TEXT_PIPELINE_FILES)
    check_stock_pipeline(folder, kind)
    return folder


def load_text_pipeline(cls: Any, folder: Path, device: torch.device, dtype: torch.dtype) -> Any:
    """`cls.from_pretrained(folder)` with no safety checker and no custom code, frozen, on a device, quiet."""
    from editsearch.transfer.pipeline import _quiet_diffusers

    skipped = dict.fromkeys(SKIPPED_COMPONENTS)
    with _quiet_diffusers(), loading(folder, cls.__name__):
        pipe = cls.from_pretrained(
            folder, torch_dtype=dtype, requires_safety_checker=False, trust_remote_code=False, **skipped
        )
    pipe.to(device)
    for part in (pipe.unet, pipe.vae, pipe.text_encoder):
        part.requires_grad_(False).eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def resolve_clip(name: str) -> Path:
    """A local transformers CLIP folder for a folder or hub id (offline: the cache), its JSON checked."""
    folder = local_folder(name, "CLIP model", "--clip-model", CLIP_FILES)
    check_transformers_folder(folder, {"clip"}, CLIP_NEEDED)
    return folder


def load_clip(folder: Path, device: torch.device) -> Any:
    """A transformers CLIPModel (float32, frozen) from a folder `resolve_clip` gave."""
    from transformers import CLIPModel

    with loading(folder, "CLIPModel"):
        model = CLIPModel.from_pretrained(folder, trust_remote_code=False)
    return model.to(device).eval().requires_grad_(False)


@contextmanager
def loading(folder: Path, what: str) -> Iterator[None]:
    """Turn a loader's failure on a folder that passed the JSON checks (a damaged file) into one clear error."""
    try:
        yield
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise IncompatibleModelError(f"{folder} could not be loaded as a {what}: {first}") from None


def clip_image_embeds(clip: Any, images: list[Image.Image]) -> torch.Tensor:
    """CLIP's projected image embeddings [N, D] (resize to its input size, CLIP's normalisation)."""
    side = int(clip.config.vision_config.image_size)
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    pixels = torch.stack([_to_tensor(img.convert("RGB").resize((side, side), Image.BICUBIC)) for img in images])
    pixels = ((pixels - mean) / std).to(clip.device)
    with torch.no_grad():
        return clip.visual_projection(clip.vision_model(pixel_values=pixels).pooler_output).float()


def image_latents(vae: Any, images: list[Image.Image], size: tuple[int, int], sample: bool = False) -> torch.Tensor:
    """VAE latents [N, C, h, w] of images resized to `size` (the distribution's mode; unscaled)."""
    pixels = torch.stack([_to_tensor(img.convert("RGB").resize(size, Image.BICUBIC)) for img in images]) * 2 - 1
    with torch.no_grad():
        dist = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist
    return dist.sample() if sample else dist.mode()


def decode_latents(vae: Any, latents: torch.Tensor) -> list[Image.Image]:
    """Images from scaled latents (the inverse of `image_latents(...) * scaling_factor`)."""
    with torch.no_grad():
        pixels = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
    arrays = ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a) for a in arrays]


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
