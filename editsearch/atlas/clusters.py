"""Clusters of the layout: HDBSCAN (scikit-learn) on the fitted points, the nearest fitted point for the others."""

from __future__ import annotations

import numpy as np

from editsearch.atlas.layout import INSTALL_HINT
from editsearch.core.errors import MissingDependencyError

NOISE = -1
MIN_CLUSTER_FRACTION = 0.002  # a cluster holds at least this share of the fitted edits ...
MIN_CLUSTER_SIZE = 5  # ... and at least this many
MIN_SAMPLES = 5  # HDBSCAN's density neighbourhood: small keeps sparse edges of a clump in it, not noise


def min_cluster_size(n: int) -> int:
    """The smallest group of fitted edits that counts as a cluster."""
    return max(MIN_CLUSTER_SIZE, round(n * MIN_CLUSTER_FRACTION))


def cluster_layout(xy: np.ndarray) -> np.ndarray:
    """Cluster ids (NOISE = -1) of 2-D points by HDBSCAN, numbered by size (0 the largest)."""
    try:
        from sklearn.cluster import HDBSCAN
    except ImportError:
        raise MissingDependencyError(f"`editsearch map` needs scikit-learn: {INSTALL_HINT}") from None
    if len(xy) < MIN_CLUSTER_SIZE:
        return np.full(len(xy), NOISE, dtype=np.int32)
    size = min_cluster_size(len(xy))
    found = HDBSCAN(min_cluster_size=size, min_samples=min(MIN_SAMPLES, size), copy=True).fit(xy).labels_
    return renumber(found)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered by size, largest first (ties by the old id); noise stays NOISE."""
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(c), NOISE) for c in labels], dtype=np.int32)


def nearest_clusters(fitted_xy: np.ndarray, fitted_clusters: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Each point's cluster: that of its nearest fitted point (noise if that one is noise)."""
    from scipy.spatial import cKDTree

    if not len(xy):
        return np.zeros(0, dtype=np.int32)
    _, nearest = cKDTree(fitted_xy).query(xy, k=1)
    return fitted_clusters[nearest].astype(np.int32)
