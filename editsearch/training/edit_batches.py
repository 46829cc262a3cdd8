"""Training batches of edit pairs, a pure function of the step: synthetic edits on the fly or any pair source."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from editsearch.data.records import EditPair
from editsearch.encoder.preprocess import resize_center_crop
from editsearch.images import ImageLoadError
from editsearch.rng import stream
from editsearch.training.sources import load_pairs

MAX_SKIPS = 16  # unreadable pairs skipped in a row before giving up


def to_signed_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float tensor [3, H, W] in [-1, 1] (the VAE's input range)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class PairSampler:
    """Pair i of a run, always the same: a synthetic edit drawn from (seed, i), or the i-th of shuffled sources."""

    def __init__(self, sources: Sequence[str | Path] = (), size: int = 64, seed: int = 0, split: str = "train"):
        self.size, self.seed, self.split = size, seed, split
        self.pairs: list[EditPair] = load_pairs(sources) if sources else []
        self._perms: dict[int, np.ndarray] = {}

    @property
    def synthetic(self) -> bool:
        """True when pairs are generated on the fly."""
        return not self.pairs

    def __call__(self, index: int) -> tuple[Image.Image, Image.Image]:
        """(before, after) of pair `index`, both size x size RGB."""
        if self.synthetic:
            from editsearch.data.synthetic.generator import make_pair

            pair = make_pair(stream(self.seed, "ip2p-pair", index), self.split, self.size)
            return resize_center_crop(pair.before, self.size), resize_center_crop(pair.after, self.size)
        for k in range(MAX_SKIPS):
            try:
                before, after = self._source_pair(index + k).load()
                return resize_center_crop(before, self.size), resize_center_crop(after, self.size)
            except (ImageLoadError, OSError) as e:
                print(f"skipping an unreadable pair: {e}", file=sys.stderr)
        raise RuntimeError(f"{MAX_SKIPS} unreadable pairs in a row near pair {index}; check the sources")

    def _source_pair(self, index: int) -> EditPair:
        epoch, pos = divmod(index, len(self.pairs))
        if epoch not in self._perms:
            self._perms = {epoch: stream(self.seed, "ip2p-source-order", epoch).permutation(len(self.pairs))}
        return self.pairs[int(self._perms[epoch][pos])]


class StepBatches(torch.utils.data.Dataset):
    """Batch of step s (for one process of `world`): before/after in [-1, 1], and EditCLIP's 6-channel input."""

    def __init__(
        self,
        sampler: PairSampler,
        batch_size: int,
        steps: int,
        pair_transform: Callable[[Image.Image, Image.Image], torch.Tensor] | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.sampler, self.batch_size, self.steps = sampler, batch_size, steps
        self.pair_transform, self.rank, self.world = pair_transform, rank, world

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        first = (step * self.world + self.rank) * self.batch_size
        pairs = [self.sampler(first + i) for i in range(self.batch_size)]
        batch = {
            "before": torch.stack([to_signed_tensor(b) for b, _ in pairs]),
            "after": torch.stack([to_signed_tensor(a) for _, a in pairs]),
        }
        if self.pair_transform is not None:
            batch["pair"] = torch.stack([self.pair_transform(b, a) for b, a in pairs])
        return batch


def step_loader(batches: torch.utils.data.Dataset, start: int, workers: int = 0) -> torch.utils.data.DataLoader:
    """Batches start..steps-1 of a per-step dataset (StepBatches, FeatureCache), in order; the global torch RNG
    is not touched (so resumed runs match)."""
    return torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, len(batches)),
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )
