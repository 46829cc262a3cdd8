"""Retrieval metrics over a score matrix and a relevance mask: top-1, hit@k / R@k, mAP."""

from __future__ import annotations

import torch


def ranks_of_relevant(scores: torch.Tensor, relevant: torch.Tensor) -> list[torch.Tensor]:
    """For each query row, the 0-based ranks of its relevant items (sorted by descending score)."""
    order = scores.argsort(dim=1, descending=True)
    hits = torch.gather(relevant, 1, order)
    return [row.nonzero().flatten() for row in hits]


def hit_at_k(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """Fraction of queries with at least one relevant item in the top k (R@k for one-positive tasks)."""
    ranks = ranks_of_relevant(scores, relevant)
    return float(sum(bool(len(r)) and int(r[0]) < k for r in ranks) / max(len(ranks), 1))


def mean_average_precision(scores: torch.Tensor, relevant: torch.Tensor) -> float:
    """mAP: mean over queries of the average precision of the full ranking."""
    aps = []
    for r in ranks_of_relevant(scores, relevant):
        if len(r) == 0:
            continue
        precision = torch.arange(1, len(r) + 1, dtype=torch.float64) / (r.double() + 1)
        aps.append(float(precision.mean()))
    return float(sum(aps) / len(aps)) if aps else 0.0


def retrieval_metrics(scores: torch.Tensor, relevant: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict:
    """{'top1', 'hit@k'..., 'mAP', 'queries'} for a [Q, N] score matrix and boolean relevance mask."""
    out = {f"hit@{k}": hit_at_k(scores, relevant, k) for k in ks}
    out["top1"] = out.pop("hit@1") if 1 in ks else hit_at_k(scores, relevant, 1)
    out["mAP"] = mean_average_precision(scores, relevant)
    out["queries"] = int(scores.shape[0])
    return out


def chance_metrics(relevant: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10), trials: int = 20) -> dict:
    """Expected metrics of random scores (mean over `trials` draws), for the results tables."""
    gen = torch.Generator().manual_seed(0)
    runs = [retrieval_metrics(torch.rand(relevant.shape, generator=gen), relevant, ks) for _ in range(trials)]
    return {k: sum(r[k] for r in runs) / trials for k in runs[0]}
