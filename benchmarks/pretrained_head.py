"""Frozen EfficientNet-Lite0 features of a pair's two images, and the small head trained on them (pretrained_pair.py).

Features per image at S px: the backbone's last map [1280, S/32, S/32] and, on the same grid, the mean and std
of each RGB channel (the colour that ImageNet features are built to ignore). They are extracted once per pair
view and cached; only the head learns, with train_editclip's loss plus the reversed pair as a hard negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.lite0 import FEATURES, normalize
from editsearch.training.train_editclip import clip_loss, lr_multiplier, pair_contrastive

PIX = 6  # per-cell RGB mean and std


@dataclass
class PairFeatures:
    """Cached features of N pair views: maps [N, 2, C, T] (fp16), pixel stats [N, 2, 6, T], mini [N, 2, 384]."""

    maps: torch.Tensor
    pix: torch.Tensor
    mini: torch.Tensor  # editclip-mini's embedding of the view, forwards [:, 0] and reversed [:, 1]

    def rows(self, idx: torch.Tensor, reverse: bool = False) -> tuple[torch.Tensor, ...]:
        """(maps_b, maps_a, pix_b, pix_a, mini) of rows `idx` in float32, before and after swapped if `reverse`."""
        b, a = (1, 0) if reverse else (0, 1)
        m, p = self.maps[idx].float(), self.pix[idx]
        return m[:, b], m[:, a], p[:, b], p[:, a], self.mini[idx, int(reverse)]


def extract(backbone: nn.Module, mini: nn.Module | None, x: torch.Tensor, batch: int = 64) -> PairFeatures:
    """Features of pairs x ([N, 6, S, S] floats in [0, 1]): backbone maps, pixel stats, mini embeddings."""
    maps, pix, minis = [], [], []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch]
        imgs = xb.reshape(-1, 3, *xb.shape[-2:])  # before_0, after_0, before_1, ...
        with torch.inference_mode():
            f = backbone.forward_features(normalize(imgs))
        n, c, h, w = f.shape
        maps.append(f.reshape(-1, 2, c, h * w).half())
        mean = F.adaptive_avg_pool2d(imgs, (h, w))
        std = (F.adaptive_avg_pool2d(imgs * imgs, (h, w)) - mean * mean).clamp_min(0).sqrt()
        pix.append(torch.cat([mean, std], 1).reshape(-1, 2, PIX, h * w))
        minis.append(mini_pairs(mini, xb) if mini is not None else torch.zeros(len(xb), 2, 384))
    return PairFeatures(torch.cat(maps), torch.cat(pix), torch.cat(minis))


def mini_pairs(mini: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """editclip-mini's embeddings [B, 2, 384] of pairs in [0, 1] (forwards, reversed), resized to its input."""
    from torchvision.transforms.v2 import functional as TF

    size = mini.config.image_size
    small = TF.resize(xb, [size, size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True).clamp(0, 1)
    fwd = mini.pair_transform.normalize((small * 255).round().to(torch.uint8))
    rev = torch.cat([fwd[:, 3:], fwd[:, :3]], 1)
    return torch.stack([mini.embed_pair_tensors(fwd), mini.embed_pair_tensors(rev)], 1)


class PairHead(nn.Module):
    """Frozen-feature head: `spatial` (a small transformer over per-cell before/after/difference tokens),
    `pooled` (an MLP over pooled features) or `delta` (the same MLP over their difference alone); `use_mini`
    adds editclip-mini's embedding as an input."""

    def __init__(
        self, mode: str, cells: int, use_mini: bool = False, reduce: int = 128, width: int = 192, layers: int = 2
    ) -> None:
        super().__init__()
        self.mode, self.use_mini = mode, use_mini
        per_cell = FEATURES + PIX if mode == "spatial" else FEATURES + PIX * cells
        self.reduce = nn.Sequential(nn.LayerNorm(per_cell), nn.Linear(per_cell, reduce))
        self.mini_in = nn.Linear(384, width) if use_mini else None
        if mode == "spatial":
            self.cell_in = nn.Linear(3 * reduce, width)
            self.pos = nn.Parameter(torch.randn(cells + 1, width) * 0.02)
            layer = nn.TransformerEncoderLayer(width, 4, 2 * width, 0.0, "gelu", batch_first=True, norm_first=True)
            self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        else:  # pooled: [b, a, a - b]; delta: a - b alone (the photo's content cancels, direction stays)
            self.cell_in = nn.Linear(reduce if mode == "delta" else 3 * reduce, width)
            self.body = nn.Sequential(nn.GELU(), nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 384))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, mb, ma, pb, pa, mini) -> torch.Tensor:
        """Unnormalised [N, 384] from (maps_b, maps_a, pix_b, pix_a, mini)."""
        if self.mode == "spatial":
            b = self.reduce(torch.cat([mb, pb], 1).transpose(1, 2))  # [N, T, reduce]
            a = self.reduce(torch.cat([ma, pa], 1).transpose(1, 2))
            cells = self.cell_in(torch.cat([b, a, a - b], -1))
            first = self.mini_in(mini) if self.mini_in is not None else torch.zeros_like(cells[:, 0])
            tokens = torch.cat([first[:, None], cells], 1) + self.pos
            return self.out(self.body(tokens)[:, 0])
        b = self.reduce(torch.cat([mb.mean(-1), pb.flatten(1)], 1))
        a = self.reduce(torch.cat([ma.mean(-1), pa.flatten(1)], 1))
        h = self.cell_in(a - b if self.mode == "delta" else torch.cat([b, a, a - b], -1))
        if self.mini_in is not None:
            h = h + self.mini_in(mini)
        return self.out(h + self.body(h))


@dataclass
class TrainData:
    """What the head learns from: features, family ids, each view's text choices and the embedded texts."""

    feats: PairFeatures
    labels: torch.Tensor  # [N] family ids
    self_inverse: torch.Tensor  # [N] bool: the reversed pair is an edit of the same family
    text_idx: torch.Tensor  # [N, K] rows of text_emb
    text_emb: torch.Tensor  # [U, 384], L2-normalised


def batch_loss(head: PairHead, data: TrainData, idx: torch.Tensor, gen: torch.Generator, hard: int) -> torch.Tensor:
    """Loss of one batch: its views and sampled texts, plus the reversed views of the first `hard` as negatives."""
    k = torch.randint(0, data.text_idx.shape[1], (len(idx),), generator=gen)
    tid = data.text_idx[idx, k]
    uniq, first = _first_rows(tid)
    txt = data.text_emb[uniq]
    labels = data.labels[idx]
    fwd = F.normalize(head(*data.feats.rows(idx)), dim=-1)
    rev_idx = idx[:hard]
    rev = F.normalize(head(*data.feats.rows(rev_idx, reverse=True)), dim=-1)
    rev_labels = torch.where(data.self_inverse[rev_idx], data.labels[rev_idx], -1)
    img = torch.cat([fwd, rev])
    pos = torch.cat([labels, rev_labels])[:, None] == labels[first][None, :]
    scale = head.logit_scale.exp().clamp(max=100)
    return clip_loss(img, txt, pos, scale) + 0.5 * pair_contrastive(fwd, labels, scale)


def _first_rows(tid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique text ids and, for each, the first batch row that drew it."""
    uniq, inverse = torch.unique(tid, return_inverse=True)
    first = torch.full((len(uniq),), len(tid), dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(len(tid)), "amin"
    )
    return uniq, first


def train_head(head: PairHead, data: TrainData, steps: int, batch: int, lr: float, seed: int) -> list[float]:
    """AdamW (train_editclip's betas, eps and decay), warmup then cosine, grad clip 1; returns the loss curve."""
    decay = [p for n, p in head.named_parameters() if p.ndim >= 2 and "pos" not in n]
    rest = [p for n, p in head.named_parameters() if not (p.ndim >= 2 and "pos" not in n)]
    groups = [{"params": decay, "weight_decay": 0.02}, {"params": rest, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_multiplier(s, warmup, steps))
    gen = torch.Generator().manual_seed(seed)
    losses = []
    head.train()
    for _ in range(steps):
        idx = torch.randint(0, len(data.labels), (batch,), generator=gen)
        loss = batch_loss(head, data, idx, gen, hard=batch // 4)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            head.logit_scale.clamp_(max=math.log(100))
        losses.append(loss.item())
    head.eval()
    return losses
