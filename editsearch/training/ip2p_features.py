"""What the frozen VAE and EditCLIP make of IP2P training pairs: computed per batch, or once into a reusable cache."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import torch

from editsearch.core.rng import stream
from editsearch.training.pairs import StepBatches, step_loader

CACHE_DTYPE = torch.float16  # halves the cache; the features are cast back to the training dtype per batch


@torch.no_grad()
def frozen_features(vae: Any, editclip: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The after image's latent posterior (mean, std), the before image's latents (mode), EditCLIP tokens, before."""
    posterior = vae.encode(batch["after"].to(vae.dtype)).latent_dist
    return {
        "after_mean": posterior.mean,
        "after_std": posterior.std,
        "image_latents": vae.encode(batch["before"].to(vae.dtype)).latent_dist.mode(),
        "tokens": editclip.tokens_from_tensors(batch["pair"].to(next(editclip.parameters()).dtype)),
        "before": batch["before"],
    }


class FeatureCache(torch.utils.data.Dataset):
    """Frozen features of a fixed set of pairs; the batch of step s is a slice of epoch-wise shuffles (resumable)."""

    def __init__(
        self,
        features: dict[str, torch.Tensor],
        batch_size: int,
        steps: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.features, self.batch_size, self.steps = features, batch_size, steps
        self.seed, self.rank, self.world = seed, rank, world
        self.count = len(next(iter(features.values())))
        self._perm: tuple[int, np.ndarray] | None = None

    @classmethod
    def build(
        cls,
        batches: StepBatches,
        count: int,
        vae: Any,
        editclip: Any,
        device: torch.device,
        workers: int = 0,
        **kwargs: Any,
    ) -> FeatureCache:
        """Compute the features of the sampler's first `count` pairs (batched like `batches`), kept on the CPU."""
        from tqdm import tqdm

        source = StepBatches(
            batches.sampler, batches.batch_size, math.ceil(count / batches.batch_size), batches.pair_transform
        )
        parts: dict[str, list[torch.Tensor]] = {}
        for batch in tqdm(
            step_loader(source, 0, workers),
            total=len(source),
            desc="caching features",
            unit="batch",
            file=sys.stderr,
            disable=None,
        ):
            feats = frozen_features(vae, editclip, {k: v.to(device) for k, v in batch.items()})
            for key, value in feats.items():
                parts.setdefault(key, []).append(value.to("cpu", CACHE_DTYPE))
        features = {key: torch.cat(values)[:count] for key, values in parts.items()}
        return cls(features, batches.batch_size, len(batches), rank=batches.rank, world=batches.world, **kwargs)

    def __len__(self) -> int:
        return self.steps

    def _order(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, stream(self.seed, "ip2p-feature-order", epoch).permutation(self.count))
        return self._perm[1]

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        first = (step * self.world + self.rank) * self.batch_size
        index = [int(self._order(g // self.count)[g % self.count]) for g in range(first, first + self.batch_size)]
        return {key: value[index].float() for key, value in self.features.items()}
