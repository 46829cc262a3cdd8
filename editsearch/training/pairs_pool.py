"""Training data as an in-memory pool of uint8 pairs, plus the edit-preserving augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from editsearch.data.synthetic.paraphrase import vary
from editsearch.encoder.preprocess import square_pixels
from editsearch.errors import DataError
from editsearch.training.sources import load_pairs


@dataclass
class PairPool:
    """N pairs as uint8 [N, 6, S, S] (before ⊕ after), each with a label (edit family) and text options."""

    pixels: torch.Tensor
    labels: list[str]
    params: list[dict]
    instructions: list[str | None]

    def __len__(self) -> int:
        return len(self.labels)


class _SynthDataset(Dataset):
    def __init__(self, count: int, seed: int, size: int) -> None:
        self.count, self.seed, self.size = count, seed, size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int):
        from editsearch.data.synthetic.generator import make_pair, pair_rng

        p = make_pair(pair_rng(self.seed, i), "train", self.size)
        pix = torch.cat([square_pixels(p.before, self.size), square_pixels(p.after, self.size)])
        return pix, p.family, p.params, None


class _SourceDataset(Dataset):
    def __init__(self, pairs: list, size: int) -> None:
        self.pairs, self.size = pairs, size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        from editsearch.images import ImageLoadError

        pair = self.pairs[i]
        try:
            before, after = pair.load()
        except (ImageLoadError, OSError):
            return None
        pix = torch.cat([square_pixels(before, self.size), square_pixels(after, self.size)])
        label = str(pair.metadata.get("family") or pair.instruction)
        return pix, label, {}, pair.instruction


def _collect(dataset: Dataset, workers: int, desc: str) -> PairPool:
    from tqdm import tqdm

    loader = DataLoader(dataset, batch_size=None, num_workers=workers, collate_fn=lambda x: x)
    pix, labels, params, instr = [], [], [], []
    for item in tqdm(loader, total=len(dataset), desc=desc, unit="pair", disable=None):
        if item is None:
            continue
        pix.append(item[0].clone())  # a private copy: a worker's shared tensor holds a file descriptor
        labels.append(item[1])
        params.append(item[2])
        instr.append(item[3])
    if not pix:
        raise DataError("no usable training pairs")
    return PairPool(torch.stack(pix), labels, params, instr)


def synthetic_pool(count: int, seed: int, size: int, workers: int = 2) -> PairPool:
    """`count` training-split synthetic pairs (train photos only) at `size` px, generated in parallel."""
    return _collect(_SynthDataset(count, seed, size), workers, "generating pairs")


def source_pool(sources: Sequence[str], size: int, workers: int = 2) -> PairPool:
    """Every usable pair with an instruction of the sources (manifests, folders, IP2P parquets)."""
    return _collect(_SourceDataset(load_pairs(sources, require_instruction=True), size), workers, "loading pairs")


def sample_texts(pool: PairPool, idx: torch.Tensor, rng: np.random.Generator, varied: bool = True) -> list[str]:
    """An instruction per sampled pair: the stored one, else a fresh train phrasing (re-worded when `varied`)."""
    from editsearch.data.synthetic.generator import FAMILIES

    out = []
    for i in idx.tolist():
        if stored := pool.instructions[i]:
            out.append(stored)
            continue
        label, params = pool.labels[i], pool.params[i]
        base = FAMILIES[label].instruction("train", params, rng)
        out.append(vary(label, base, params, rng) if varied else base)
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
