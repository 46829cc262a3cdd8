"""Instruction peers: does a pair lie near the other pairs that carry its instruction, or the nearest instructions?

Reading a pair against text (EC2T) fails where the model misreads a kind of edit: every pair of that kind then
fits its true instruction poorly, as a mislabelled pair does. The peer score reads the pair against the other
examples of its label instead of the text tower: its cosine to the mean vector of its peers (the other pairs with
its own instruction, then those with the nearest instructions by text vector, until at least PEERS of them), as a
z-score against its cosine to every live pair. A misread tilt pair still lies among the other tilt pairs; a tilt
pair labelled "make it sepia" lies far from the sepia pairs. This is confident learning's out-of-sample fit of the
given label (cleanlab; Northcutt et al., 2021) for free-text labels: the label's other examples, gathered by text
similarity, stand in for a trained classifier's class.
"""

from __future__ import annotations

import numpy as np

from editsearch.audit.moments import Moments
from editsearch.audit.neighbours import nearest_rows

PEERS = 8  # other pairs, at least, whose mean vector a pair is compared with


class InstructionPeers:
    """The peer score of every audited pair, from one pass over the pair vectors (`add`), `settle`, then `z`."""

    def __init__(self, own: np.ndarray, dim: int):
        has = own >= 0
        self.texts, inverse = np.unique(own[has], return_inverse=True)  # instruction-matrix rows in use
        self.group = np.full(len(own), -1, dtype=np.int64)  # position -> index into self.texts
        self.group[has] = inverse
        self.counts = np.bincount(inverse, minlength=len(self.texts))
        self.sums = np.zeros((len(self.texts), dim), dtype=np.float32)
        self.population = Moments(dim)
        self.peer_sums = self.sums
        self.peer_counts = self.counts
        self.chosen = np.arange(len(self.texts))[:, None]  # each instruction's peer instructions (-1: none) ...
        self.used = np.ones(self.chosen.shape, dtype=bool)  # ... and which of them its peers are drawn from

    def add(self, positions: np.ndarray, vectors: np.ndarray) -> None:
        """Fold a chunk of pair vectors in: each instruction's sum of vectors, and every pair's moments."""
        self.population.add(vectors)
        g = self.group[positions]
        has = g >= 0
        if not has.any():
            return
        g, v = g[has], vectors[has]
        order = np.argsort(g, kind="stable")
        g = g[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        self.sums[g[starts]] += np.add.reduceat(v[order], starts, axis=0)

    def settle(self, matrix: np.ndarray, target: float) -> None:
        """Each instruction's peers: itself, then its nearest instructions until PEERS other pairs carry them."""
        if not len(self.texts):
            return
        chosen = np.concatenate(
            [np.arange(len(self.texts))[:, None], nearest_rows(matrix[self.texts], PEERS, target)], axis=1
        )
        counts = np.where(chosen >= 0, self.counts[np.maximum(chosen, 0)], 0)
        enough = np.cumsum(counts, axis=1) - 1 >= PEERS
        take = np.where(enough.any(axis=1), enough.argmax(axis=1) + 1, chosen.shape[1])
        used = (np.arange(chosen.shape[1])[None, :] < take[:, None]) & (chosen >= 0)
        self.peer_sums = np.zeros_like(self.sums)
        for j in range(chosen.shape[1]):
            rows = np.flatnonzero(used[:, j])
            self.peer_sums[rows] += self.sums[chosen[rows, j]]
        self.peer_counts = (counts * used).sum(axis=1)
        self.chosen, self.used = chosen, used

    def z(self, positions: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Peer z of these pairs (after `settle`); NaN for a pair with no instruction or no other pair to compare."""
        return self.z_as(positions, vectors, self.group[positions])

    def z_as(self, positions: np.ndarray, vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Peer z of these pairs read as if they carried the instructions of `groups` (indices into `texts`, -1:
        none): each pair against those instructions' peers, itself left out where it is one of them."""
        out = np.full(len(positions), np.nan)
        ok = groups >= 0
        if not ok.any():
            return out
        v, g, mine = vectors[ok], groups[ok], self.group[positions[ok]]
        inside = ((self.chosen[g] == mine[:, None]) & (mine[:, None] >= 0) & self.used[g]).any(axis=1)
        count = self.peer_counts[g] - inside
        own = np.einsum("nd,nd->n", v, v) * inside  # a pair among its peers is in their sum: taken out again
        mean_cos = (np.einsum("nd,nd->n", v, self.peer_sums[g]) - own) / np.maximum(count, 1)
        out[np.flatnonzero(ok)[count > 0]] = self.population.z(v[count > 0], mean_cos[count > 0])
        return out
