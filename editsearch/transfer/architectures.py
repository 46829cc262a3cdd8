"""Small IP2P architectures as data: 'test' (diffusers' own tiny test config) and 'tiny' (the shipped 64-px one)."""

from __future__ import annotations

from typing import Any

import torch

from editsearch.core.errors import UsageError

# UNet2DConditionModel kwargs (8 input channels: 4 noisy latents + 4 image latents); cross_attention_dim is also
# the projector's output width. 'tiny' runs 20 steps at 64 px in about a second on 2 CPU cores.
UNET_CONFIGS: dict[str, dict[str, Any]] = {
    "test": {
        "block_out_channels": (32, 64),
        "layers_per_block": 2,
        "sample_size": 32,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
        "cross_attention_dim": 32,
    },
    "tiny": {
        "block_out_channels": (32, 64, 128),
        "layers_per_block": 1,
        "sample_size": 16,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": 8,
        "cross_attention_dim": 128,
    },
}

# AutoencoderKL kwargs: 'test' downsamples 2x (64 px -> 32x32 latents), 'tiny' 4x (64 px -> 16x16 latents).
VAE_CONFIGS: dict[str, dict[str, Any]] = {
    "test": {
        "block_out_channels": (32, 64),
        "down_block_types": ("DownEncoderBlock2D",) * 2,
        "up_block_types": ("UpDecoderBlock2D",) * 2,
    },
    "tiny": {  # 16 channels at full resolution: a 5x cheaper training step than 32 (1.3 s for 16 images on 1 core)
        "block_out_channels": (16, 32, 64),
        "layers_per_block": 1,
        "norm_num_groups": 16,
        "down_block_types": ("DownEncoderBlock2D",) * 3,
        "up_block_types": ("UpDecoderBlock2D",) * 3,
    },
}


def build_unet(kind: str, seed: int = 0) -> Any:
    """A randomly initialised IP2P UNet of a named size (deterministic for a seed)."""
    from diffusers import UNet2DConditionModel

    config = _config(UNET_CONFIGS, kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DConditionModel(in_channels=8, out_channels=4, **config)


def build_vae(kind: str, seed: int = 0) -> Any:
    """A randomly initialised AutoencoderKL of a named size (4 latent channels; train it before use)."""
    from diffusers import AutoencoderKL

    config = _config(VAE_CONFIGS, kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, **config)


def _config(table: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    if kind not in table:
        raise UsageError(f"unknown model size {kind!r}; known: {', '.join(table)}")
    return dict(table[kind])
