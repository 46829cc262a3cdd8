"""Non-learned and ablated baselines for retrieval: Δ colour/geometry statistics, after-only EditCLIP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from editsearch.media.images import load_image

_SIZE = 96


def _arr(img: Any) -> np.ndarray:
    return np.asarray(load_image(img).resize((_SIZE, _SIZE), Image.BILINEAR), dtype=np.float32) / 255.0


def _stats(x: np.ndarray) -> np.ndarray:
    hsv = np.asarray(Image.fromarray((x * 255).astype(np.uint8)).convert("HSV"), dtype=np.float32) / 255.0
    gray = x.mean(-1)
    gy, gx = np.abs(np.diff(gray, axis=0)).mean(), np.abs(np.diff(gray, axis=1)).mean()
    lap = np.abs(4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]).mean()
    h, w = gray.shape
    border = np.concatenate([gray[:4].ravel(), gray[-4:].ravel(), gray[:, :4].ravel(), gray[:, -4:].ravel()])
    center = gray[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    return np.concatenate(
        [
            x.mean((0, 1)),
            x.std((0, 1)),
            hsv.mean((0, 1)),
            hsv.std((0, 1)),
            [
                gy,
                gx,
                lap,
                border.mean() - center.mean(),
                len(np.unique((x * 7).astype(int).reshape(-1, 3), axis=0)) / 512,
            ],
        ]
    )


def _geometry(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    gb, ga = b.mean(-1), a.mean(-1)

    def corr(u: np.ndarray) -> float:
        u, v = u - u.mean(), ga - ga.mean()
        return float((u * v).sum() / (np.sqrt((u * u).sum() * (v * v).sum()) + 1e-8))

    return np.array(
        [
            corr(gb),
            corr(gb[:, ::-1]),
            corr(gb[::-1]),
            corr(np.rot90(gb, 1)),
            corr(np.rot90(gb, -1)),
            corr(np.rot90(gb, 2)),
        ]
    )


def delta_stats(before: Any, after: Any) -> np.ndarray:
    """Hand-made edit descriptor: after-minus-before colour/texture statistics plus geometry checks."""
    b, a = _arr(before), _arr(after)
    return np.concatenate([_stats(a) - _stats(b), _geometry(b, a)])


class DeltaStatsEmbedder:
    """The Δ-statistics baseline as an embedder: z-scored descriptors, L2-normalised (no text side)."""

    name = "delta-stats"

    def embed_pairs(self, befores: Sequence[Any], afters: Sequence[Any], batch_size: int = 0) -> torch.Tensor:
        """[N, 27] standardised over the given set, then L2-normalised."""
        feats = torch.tensor(np.stack([delta_stats(b, a) for b, a in zip(befores, afters, strict=True)]))
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
        return F.normalize(feats.float(), dim=-1)


class AfterOnly:
    """Ablation: EditCLIP shown a blank 'before', so only the after image informs the embedding."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = f"{model.name} (after only)"

    def embed_pairs(self, befores: Sequence[Any], afters: Sequence[Any], batch_size: int = 32) -> torch.Tensor:
        """Embed (gray, after) instead of (before, after)."""
        gray = [Image.new("RGB", load_image(a).size, (128, 128, 128)) for a in afters]
        return self.model.embed_pairs(gray, afters, batch_size=batch_size)

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """The wrapped model's text embeddings."""
        return self.model.embed_texts(texts)
