"""How far x·y stands above its typical value over a population of vectors y, for many x, without scanning y.

The mean of x·y over the population is x·μ and its variance xᵀMx - (x·μ)², μ being the population's mean and
M its second-moment matrix (d x d), so a z-score against every instruction (or every pair) costs O(d²) per
query instead of O(population x d).
"""

from __future__ import annotations

import numpy as np

BLOCK = 4096  # queries standardised at a time (float64 temporaries of BLOCK x d)


class Moments:
    """The mean and second-moment matrix of a population of vectors, gathered chunk by chunk (float64)."""

    def __init__(self, dim: int):
        self.count = 0
        self.total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    @classmethod
    def of(cls, vectors: np.ndarray) -> Moments:
        """The moments of one matrix of vectors [N, D]."""
        moments = cls(vectors.shape[1])
        moments.add(vectors)
        return moments

    def add(self, vectors: np.ndarray) -> None:
        """Fold more members of the population in."""
        x = np.asarray(vectors, dtype=np.float64)
        self.count += len(x)
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    def z(self, queries: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(value - mean) / sd of each query's dot product with the population (population sd, floored at 1e-6)."""
        out = np.full(len(queries), np.nan)
        if not self.count:
            return out
        mean_vec, second = self.total / self.count, self.outer / self.count
        for start in range(0, len(queries), BLOCK):
            q = np.asarray(queries[start : start + BLOCK], dtype=np.float64)
            mean = q @ mean_vec
            var = np.einsum("nd,nd->n", q @ second, q) - mean**2
            out[start : start + len(q)] = (values[start : start + len(q)] - mean) / np.sqrt(np.maximum(var, 1e-12))
        return out
