"""The 2-D layout: UMAP fitted on (a sample of) the pair vectors; every other edit placed among its nearest fitted ones.

umap-learn (and scikit-learn, for the clusters) are the `map` extra: imported here only, on first use.
Nothing but data is kept of a fit: the fitted edits' positions, in the catalog beside their vectors. An
edit outside the fit is placed as UMAP's `transform` begins: at the mean position of its nearest fitted
edits, weighted by UMAP's membership strengths. No fitted model object is stored or loaded, so an index
folder holds nothing that could run code when it is read.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from editsearch.core.errors import MissingDependencyError

LEGACY_MODEL_FILE = "atlas.umap"  # where older versions pickled the fitted model: never read, removed by `map`
N_NEIGHBORS = 15  # UMAP's default: local structure of ~15 neighbours per edit (fewer in a small fit, see below)
MIN_DIST = 0.05  # tight clumps for density clustering on the layout, yet each still a visible patch
PLACE_BATCH = 4_096  # edits placed at once (their neighbour search holds this many rows)
INSTALL_HINT = 'pip install "editsearch[map]"  (umap-learn, scikit-learn, matplotlib)'


def require_umap() -> Any:
    """The umap module, or MissingDependencyError naming the pip command."""
    try:
        import umap
    except ImportError:
        raise MissingDependencyError(f"`editsearch map` needs umap-learn: {INSTALL_HINT}") from None
    return umap


def neighbours(fitted: int) -> int:
    """UMAP's n_neighbors for a fit of this many edits: a tenth of a small fit (its groups stay apart), at most 15."""
    return min(N_NEIGHBORS, max(2, fitted // 10))


def fit_layout(vectors: np.ndarray, seed: int) -> np.ndarray:
    """[N, 2] UMAP layout of unit pair vectors, by cosine; reproducible for a seed."""
    umap = require_umap()
    model = umap.UMAP(
        n_neighbors=neighbours(len(vectors)), min_dist=MIN_DIST, metric="cosine", random_state=seed, low_memory=True
    )
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": chosen, reproducible maps
        warnings.simplefilter("ignore", UserWarning)
        xy = model.fit_transform(np.ascontiguousarray(vectors, dtype=np.float32))
    return np.asarray(xy, dtype=np.float32)


@dataclass
class FittedLayout:
    """The fitted edits' unit vectors [N, D] and their 2-D positions [N, 2]: all it takes to place other edits."""

    vectors: np.ndarray
    xy: np.ndarray
    k: int  # neighbours a placed edit is put among

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """[M, 2] positions of unit vectors: the membership-weighted mean position of their k nearest fitted edits."""
        import faiss

        smooth_knn_dist = require_umap().umap_.smooth_knn_dist
        k = min(self.k, len(self.vectors))
        search = faiss.IndexFlatIP(self.vectors.shape[1])
        search.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
        parts = [np.zeros((0, 2), dtype=np.float32)]
        for batch in _batches(vectors, PLACE_BATCH):
            similar, nearest = search.search(np.ascontiguousarray(batch, dtype=np.float32), k)
            dist = np.clip(1.0 - similar, 0.0, 2.0).astype(np.float32)  # cosine distance, nearest first
            sigma, rho = smooth_knn_dist(dist, float(k), local_connectivity=0.0)  # as UMAP's transform asks
            gap = np.maximum(dist - rho[:, None], 0.0)
            strength = np.exp(-np.divide(gap, sigma[:, None], out=np.zeros_like(gap), where=sigma[:, None] > 0))
            parts.append(_weighted_mean(self.xy, nearest, strength))
        return np.concatenate(parts)


def _weighted_mean(xy: np.ndarray, nearest: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Each row's strength-weighted mean of its neighbours' positions; at a full-strength neighbour (a duplicate)
    its position, as umap's init_graph_transform does."""
    strength[strength.sum(axis=1) == 0, 0] = 1.0  # every strength underflowed: the nearest one's position
    placed = np.einsum("mk,mkd->md", strength / strength.sum(axis=1, keepdims=True), xy[nearest])
    full = strength >= 1.0
    rows = full.any(axis=1)
    placed[rows] = xy[nearest[rows, np.argmax(full[rows], axis=1)]]
    return placed.astype(np.float32)


def trivial_layout(vectors: np.ndarray) -> np.ndarray:
    """[N, 2] layout of a handful of vectors: their two principal axes (the origin for one edit)."""
    centred = np.asarray(vectors, dtype=np.float64) - np.mean(vectors, axis=0)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    xy = np.zeros((len(vectors), 2))
    k = min(2, len(s))
    xy[:, :k] = u[:, :k] * s[:k]
    return xy.astype(np.float32)


def _batches(items: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
