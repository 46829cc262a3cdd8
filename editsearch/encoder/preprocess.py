"""Pair preprocessing: each image resized, center-cropped and normalised on its own, then [before, after].

The PIL path splits in two so a build can ship pixels cheaply: `pixels` (decode, resize, crop -> uint8,
in DataLoader workers) and `normalize` (uint8 -> float, on whole batches, on the model's device). Together
they give exactly open_clip's eval transform, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from editsearch.core.errors import UsageError
from editsearch.media.images import ImageLike, load_image


def resize_center_crop(img: Image.Image | torch.Tensor, size: int) -> Image.Image | torch.Tensor:
    """Shorter side to `size` (bicubic, antialiased), then the centre size x size: open_clip's eval geometry."""
    from torchvision.transforms.v2 import functional as TF

    resized = TF.resize(img, [size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    return TF.center_crop(resized, [size, size])


def square_pixels(img: Image.Image, size: int) -> torch.Tensor:
    """An image -> RGB uint8 Tensor[3, size, size], by resize_center_crop."""
    rgb = resize_center_crop(img.convert("RGB"), size)
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)


class PairTransform:
    """Picklable callable (before, after) -> Tensor[6, S, S]; accepts paths, bytes, PIL or [3,H,W] tensors."""

    def __init__(self, image_size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        self.image_size = image_size
        self.mean, self.std = tuple(mean), tuple(std)

    def image_pixels(self, img: ImageLike) -> torch.Tensor:
        """One image -> resized, center-cropped uint8 Tensor[3, S, S] (JPEGs decode at reduced DCT scale)."""
        return square_pixels(load_image(img, min_size=self.image_size), self.image_size)

    def pixels(self, before: ImageLike, after: ImageLike) -> torch.Tensor:
        """A pair -> uint8 Tensor[6, S, S], ready for `normalize`."""
        return torch.cat([self.image_pixels(before), self.image_pixels(after)], dim=0)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels [..., 3 or 6, S, S] -> float32 model input, on x's device (ToTensor then Normalize)."""
        images = x.shape[-3] // 3
        mean = torch.tensor(self.mean * images, dtype=torch.float32, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std * images, dtype=torch.float32, device=x.device).view(-1, 1, 1)
        return x.to(torch.float32).div(255).sub_(mean).div_(std)

    def image(self, img: ImageLike | torch.Tensor) -> torch.Tensor:
        """One image -> normalised Tensor[3, S, S]; a tensor input is float RGB in [0, 1]."""
        if isinstance(img, torch.Tensor):
            if img.ndim != 3 or img.shape[0] != 3:
                raise UsageError(f"expected an RGB tensor [3, H, W] in [0, 1], got shape {tuple(img.shape)}")
            from torchvision.transforms.v2 import functional as TF

            return TF.normalize(resize_center_crop(img.float(), self.image_size), self.mean, self.std)
        return self.normalize(self.image_pixels(img))

    def __call__(self, before: ImageLike | torch.Tensor, after: ImageLike | torch.Tensor) -> torch.Tensor:
        if isinstance(before, torch.Tensor) or isinstance(after, torch.Tensor):
            return torch.cat([self.image(before), self.image(after)], dim=0)
        return self.normalize(self.pixels(before, after))
