"""Pair preprocessing: each image resized, center-cropped and normalised on its own, then [before, after]."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from editsearch.images import ImageLike, load_image


class PairTransform:
    """Picklable callable (before, after) -> Tensor[6, S, S]; accepts paths, bytes, PIL or [3,H,W] tensors."""

    def __init__(self, image_size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        import open_clip
        from torchvision.transforms import v2

        self.image_size = image_size
        self.mean, self.std = tuple(mean), tuple(std)
        self._pil = open_clip.image_transform(image_size, is_train=False, mean=self.mean, std=self.std)
        self._tensor = v2.Compose(
            [
                v2.Resize(image_size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
                v2.CenterCrop(image_size),
                v2.Normalize(self.mean, self.std),
            ]
        )

    def image(self, img: ImageLike | torch.Tensor) -> torch.Tensor:
        """One image -> normalised Tensor[3, S, S]; a tensor input is float RGB in [0, 1]."""
        if isinstance(img, torch.Tensor):
            if img.ndim != 3 or img.shape[0] != 3:
                raise ValueError(f"expected an RGB tensor [3, H, W] in [0, 1], got shape {tuple(img.shape)}")
            return self._tensor(img.float())
        return self._pil(load_image(img, min_size=self.image_size))

    def __call__(self, before: ImageLike | torch.Tensor, after: ImageLike | torch.Tensor) -> torch.Tensor:
        return torch.cat([self.image(before), self.image(after)], dim=0)
