"""Cluster names: the text whose vector best matches a cluster's mean pair vector (EC2T).

A cluster whose edits carry instructions is named by the index's stored instructions (one text-tower
vector per distinct instruction); one whose edits carry none by the shipped vocabulary of edit phrases,
embedded with the index's model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from editsearch.atlas.clusters import NOISE
from editsearch.vocabulary import EDIT_PHRASES


def cluster_means(vectors: np.ndarray, clusters: np.ndarray) -> dict[int, np.ndarray]:
    """cluster id -> the unit mean of its members' vectors (noise left out)."""
    out = {}
    for c in np.unique(clusters[clusters != NOISE]):
        mean = np.asarray(vectors[clusters == c], dtype=np.float64).mean(axis=0)
        out[int(c)] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return out


def name_clusters(
    means: dict[int, np.ndarray],
    instructed: set[int],
    instructions: tuple[Sequence[str], np.ndarray],
    embed_texts: Callable[[Sequence[str]], np.ndarray],
) -> dict[int, str]:
    """cluster id -> its name: the best instruction for `instructed` clusters, else the best vocabulary phrase.

    `instructions` is (texts, [T, D] vectors) of the index; `embed_texts` embeds the vocabulary, called
    only when some cluster needs it.
    """
    texts, matrix = instructions
    vocabulary: np.ndarray | None = None
    names = {}
    for c, mean in sorted(means.items()):
        if c in instructed and len(texts):
            names[c] = texts[int(np.argmax(matrix @ mean))]
            continue
        if vocabulary is None:
            vocabulary = _unit(np.asarray(embed_texts(list(EDIT_PHRASES)), dtype=np.float32))
        names[c] = EDIT_PHRASES[int(np.argmax(vocabulary @ mean))]
    return names


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
