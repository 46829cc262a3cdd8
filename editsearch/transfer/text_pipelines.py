"""Loading stock text-conditioned diffusers pipelines (InstructPix2Pix, Stable Diffusion) and a CLIP, offline-aware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from editsearch.errors import WeightsNotFoundError
from editsearch.hub import local_folder

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
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resolve_text_pipeline(name: str, what: str, option: str) -> Path:
    """A local diffusers folder with tokenizer/ and text_encoder/ for a folder or hub id (offline: the cache)."""
    folder = local_folder(name, what, option, TEXT_PIPELINE_FILES)
    missing = [part for part in ("unet", "vae", "text_encoder", "tokenizer") if not (folder / part).is_dir()]
    if missing:
        raise WeightsNotFoundError(
            f"{folder} is not a text-conditioned {what} folder (it lacks {', '.join(missing)}/); pass {option} "
            f"with a diffusers folder or hub id that has them (e.g. {DEFAULT_IP2P} or {DEFAULT_SD})"
        )
    return folder


def load_text_pipeline(cls: Any, folder: Path, device: torch.device, dtype: torch.dtype) -> Any:
    """`cls.from_pretrained(folder)` without safety checker, frozen, on a device, progress bars off."""
    from editsearch.transfer.pipeline import _quiet_diffusers

    with _quiet_diffusers():
        pipe = cls.from_pretrained(folder, torch_dtype=dtype, safety_checker=None, requires_safety_checker=False)
    pipe.to(device)
    for part in (pipe.unet, pipe.vae, pipe.text_encoder):
        part.requires_grad_(False).eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_clip(name: str, device: torch.device) -> Any:
    """A transformers CLIPModel (float32, frozen) by folder or hub id; WeightsNotFoundError with a how-to."""
    from transformers import CLIPModel

    folder = local_folder(name, "CLIP model", "--clip-model", CLIP_FILES)
    if not (folder / "config.json").is_file():
        raise WeightsNotFoundError(f"{folder} is not a transformers CLIP folder (no config.json); pass --clip-model")
    return CLIPModel.from_pretrained(folder).to(device).eval().requires_grad_(False)


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
