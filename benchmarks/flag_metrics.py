"""How well a score or its flags pick out planted problems: AUROC, precision and recall, and the best any threshold
could do (an oracle: chosen with the labels, which no audit or cue has)."""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes. NaN scores rank lowest."""
    from scipy.stats import rankdata

    s = np.where(np.isfinite(scores), scores, -np.inf)
    pos, neg = labels.sum(), (~labels).sum()
    if not pos or not neg:
        return None
    ranks = rankdata(s)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def pr(flags: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """(precision, recall) of boolean flags."""
    tp = int((flags & labels).sum())
    return (tp / flags.sum() if flags.sum() else None), (tp / labels.sum() if labels.sum() else None)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> dict[str, float] | None:
    """The threshold (flag score >= it; NaN never flagged) with the highest min(precision, recall), and both;
    None without a positive."""
    s = np.asarray(scores, dtype=np.float64)
    if not labels.any():
        return None
    best: dict[str, float] = {"min_pr": -1.0}
    for t in np.unique(s[np.isfinite(s)]):
        precision, recall = pr(np.isfinite(s) & (np.nan_to_num(s, nan=-np.inf) >= t), labels)
        low = min(precision or 0.0, recall or 0.0)
        if low > best["min_pr"]:
            best = {"min_pr": low, "threshold": float(t), "precision": precision or 0.0, "recall": recall or 0.0}
    return best if best["min_pr"] >= 0 else None
