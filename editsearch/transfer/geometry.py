"""What a diffusers pipeline's parts say about where and at what size it works: shared by every apply method."""

from __future__ import annotations

import math
from typing import Any

import torch


class PipelineGeometry:
    """Device, dtype and working sizes of an object holding a diffusers pipeline as `self.pipe`."""

    pipe: Any

    @property
    def device(self) -> torch.device:
        """Device of the UNet."""
        return self.pipe.unet.device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the UNet."""
        return self.pipe.unet.dtype

    @property
    def resolution(self) -> int:
        """Native working resolution: the UNet's sample size times the VAE's downscale factor."""
        return int(self.pipe.unet.config.sample_size) * self.pipe.vae_scale_factor

    @property
    def size_multiple(self) -> int:
        """Working sizes are multiples of this, so every UNet level gets whole latent pixels."""
        return self.pipe.vae_scale_factor * 2 ** (len(self.pipe.unet.config.block_out_channels) - 1)

    def working_size(self, width: int, height: int, size: int | None = None) -> tuple[int, int]:
        """(w, h) an image is processed at: about size x size pixels in area, same aspect, rounded to the multiple."""
        size = size or self.resolution
        m = self.size_multiple
        scale = size / math.sqrt(width * height)
        return max(m, round(width * scale / m) * m), max(m, round(height * scale / m) * m)
