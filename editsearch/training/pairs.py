"""Training pairs, one data path for every trainer: synthetic edits or pair sources, pair i always the same.

`PairSampler` yields pair i of a run. EditCLIP collects pairs into an in-memory `PairPool` and re-crops them
each draw (`augment`, `sample_texts`); IP2P and the VAE take the batch of each step from `StepBatches`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from editsearch.core.errors import DataError
from editsearch.core.rng import stream
from editsearch.data.layouts import parse_columns
from editsearch.data.records import EditPair
from editsearch.data.sources import iter_source
from editsearch.data.synthetic.paraphrase import vary
from editsearch.encoder.preprocess import resize_center_crop
from editsearch.media.images import ImageLoadError

MAX_SKIPS = 16  # unreadable pairs skipped in a row before giving up


def load_pairs(
    sources: Sequence[str | Path], require_instruction: bool = False, columns: str | None = None
) -> list[EditPair]:
    """Every usable pair of the sources, in order; unusable items are counted on stderr, none usable is an error.

    `columns` names a table's columns where no preset fits (`before=C,after=C,...`, see data.layouts).
    """
    named = parse_columns(columns) if columns else None
    pairs: list[EditPair] = []
    skipped = 0
    for src in sources:
        for item in iter_source(src, require_instruction=require_instruction, columns=named):
            if isinstance(item, EditPair):
                pairs.append(item)
            else:
                skipped += 1
    if not pairs:
        raise DataError(f"no usable edit pairs in {', '.join(map(str, sources))}")
    if skipped:
        print(f"skipped {skipped} unusable items in the sources", file=sys.stderr)
    return pairs


@dataclass
class SampledPair:
    """One training pair at the run's size: images, a label (edit family or instruction), params, stored text."""

    before: Image.Image
    after: Image.Image
    label: str
    params: dict
    instruction: str | None  # the source's own text; None for synthetic edits (phrased afresh at each draw)


class PairSampler:
    """Pair i of a run, always the same: a synthetic edit drawn from (seed, i), or the i-th of the sources.

    `pair_stream` names the random stream of synthetic pairs (each trainer keeps its own, so its runs are
    reproduced exactly); `shuffle` visits the sources in a fresh seeded order every epoch, else in order.
    """

    def __init__(
        self,
        sources: Sequence[str | Path] = (),
        size: int = 64,
        seed: int = 0,
        split: str = "train",
        *,
        require_instruction: bool = False,
        shuffle: bool = True,
        pair_stream: str = "ip2p-pair",
        columns: str | None = None,
        variety: str = "canonical",
    ) -> None:
        self.size, self.seed, self.split, self.variety = size, seed, split, variety
        self.shuffle, self.pair_stream = shuffle, pair_stream
        self.pairs: list[EditPair] = load_pairs(sources, require_instruction, columns) if sources else []
        self._perms: dict[int, np.ndarray] = {}

    @property
    def synthetic(self) -> bool:
        """True when pairs are generated on the fly."""
        return not self.pairs

    def pair(self, index: int) -> SampledPair:
        """Pair `index` with its label and text; raises ImageLoadError/OSError for an unreadable source pair."""
        if self.synthetic:
            from editsearch.data.synthetic.generator import make_pair
            from editsearch.data.synthetic.variety import make_wide_pair

            make = make_wide_pair if self.variety == "wide" else make_pair
            made = make(stream(self.seed, self.pair_stream, index), self.split, self.size)
            return SampledPair(self._crop(made.before), self._crop(made.after), made.family, made.params, None)
        source = self._source_pair(index)
        before, after = source.load()
        label = str(source.metadata.get("family") or source.instruction)
        return SampledPair(self._crop(before), self._crop(after), label, {}, source.instruction)

    def __call__(self, index: int) -> tuple[Image.Image, Image.Image]:
        """(before, after) of pair `index`, both size x size RGB; an unreadable source pair gives way to the next."""
        if self.synthetic:
            sampled = self.pair(index)
            return sampled.before, sampled.after
        for k in range(MAX_SKIPS):
            try:
                sampled = self.pair(index + k)
                return sampled.before, sampled.after
            except (ImageLoadError, OSError) as e:
                print(f"skipping an unreadable pair: {e}", file=sys.stderr)
        raise DataError(
            f"{MAX_SKIPS} unreadable pairs in a row near pair {index}: check that the sources' image files "
            "exist and open (editsearch build-index reports each bad pair), or remove those pairs"
        )

    def _crop(self, img: Image.Image) -> Image.Image:
        return resize_center_crop(img.convert("RGB"), self.size)

    def _source_pair(self, index: int) -> EditPair:
        epoch, pos = divmod(index, len(self.pairs))
        if not self.shuffle:
            return self.pairs[pos]
        if epoch not in self._perms:
            self._perms = {epoch: stream(self.seed, "ip2p-source-order", epoch).permutation(len(self.pairs))}
        return self.pairs[int(self._perms[epoch][pos])]


# ----- EditCLIP: an in-memory pool, re-cropped at each draw ------------------------------------------
@dataclass
class PairPool:
    """N pairs as uint8 [N, 6, S, S] (before ⊕ after), each with a label (edit family) and text options."""

    pixels: torch.Tensor
    labels: list[str]
    params: list[dict]
    instructions: list[str | None]

    def __len__(self) -> int:
        return len(self.labels)


class _PoolItems(Dataset):
    """The first `count` pairs of a sampler as (uint8 pixels, label, params, instruction); None if unreadable."""

    def __init__(self, sampler: PairSampler, count: int) -> None:
        self.sampler, self.count = sampler, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int):
        try:
            p = self.sampler.pair(i)
        except (ImageLoadError, OSError):
            if self.sampler.synthetic:
                raise
            return None
        pix = torch.cat([_uint8_pixels(p.before), _uint8_pixels(p.after)])
        return pix, p.label, p.params, p.instruction


def _uint8_pixels(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)


def pair_pool(
    sources: Sequence[str],
    count: int,
    seed: int,
    size: int,
    workers: int = 2,
    columns: str | None = None,
    variety: str = "canonical",
) -> PairPool:
    """`count` training-split synthetic pairs of a `variety` (no sources), else every usable pair with an instruction
    of the sources (manifests, folders, tables, tars; `columns` as load_pairs), at `size` px, read in parallel."""
    from tqdm import tqdm

    if sources:
        sampler = PairSampler(sources, size, seed, require_instruction=True, shuffle=False, columns=columns)
        items, desc = _PoolItems(sampler, len(sampler.pairs)), "loading pairs"
    else:
        synthetic = PairSampler((), size, seed, pair_stream="synth-pair", variety=variety)
        items, desc = _PoolItems(synthetic, count), "generating pairs"
    loader = DataLoader(items, batch_size=None, num_workers=workers, collate_fn=lambda x: x)
    pix, labels, params, instr = [], [], [], []
    for item in tqdm(loader, total=len(items), desc=desc, unit="pair", disable=None):
        if item is None:
            continue
        pix.append(item[0].clone())  # a private copy: a worker's shared tensor holds a file descriptor
        labels.append(item[1])
        params.append(item[2])
        instr.append(item[3])
    if not pix:
        raise DataError("no usable training pairs: none of the sources' images could be read")
    return PairPool(torch.stack(pix), labels, params, instr)


def sample_texts(pool: PairPool, idx: torch.Tensor, rng: np.random.Generator, varied: bool = True) -> list[str]:
    """An instruction per sampled pair: the stored one, else a fresh train phrasing (re-worded when `varied`)."""
    from editsearch.data.synthetic.variety import describe

    out = []
    for i in idx.tolist():
        stored = pool.instructions[i]
        out.append(stored or describe(pool.labels[i], pool.params[i], "train", rng, vary if varied else None))
    return out


def augment(batch: torch.Tensor, out_size: int, mean, std, gen: torch.Generator, min_scale: float = 0.6):
    """Same random resized crop for before and after (the edit is kept), then normalise each half."""
    from torchvision.transforms.v2 import functional as TF

    n, _, h, w = batch.shape
    crops = []
    scales = torch.empty(n).uniform_(min_scale, 1.0, generator=gen)
    for i in range(n):
        ch, cw = max(8, int(h * scales[i].sqrt())), max(8, int(w * scales[i].sqrt()))
        top = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
        crops.append(TF.resized_crop(batch[i], top, left, ch, cw, [out_size, out_size], antialias=True))
    x = torch.stack(crops).float() / 255.0
    m = torch.tensor(list(mean) * 2).view(1, 6, 1, 1)
    s = torch.tensor(list(std) * 2).view(1, 6, 1, 1)
    return (x - m) / s


# ----- IP2P and the VAE: the batch of each step ------------------------------------------------------
def to_signed_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float tensor [3, H, W] in [-1, 1] (the VAE's input range)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class StepBatches(Dataset):
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


def step_loader(batches: Dataset, start: int, workers: int = 0) -> DataLoader:
    """Batches start..steps-1 of a per-step dataset (StepBatches, FeatureCache), in order; the global torch RNG
    is not touched (so resumed runs match)."""
    return DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, len(batches)),
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )
