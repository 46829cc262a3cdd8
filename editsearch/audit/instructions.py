"""Pairs read against the index's distinct instructions (EC2T): how well the own one fits, and the best one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from editsearch.audit.moments import Moments


class InstructionScorer:
    """EC2T of pairs against every distinct instruction vector: own-instruction z, best instruction."""

    def __init__(self, texts: Sequence[str], matrix: np.ndarray):
        self.texts = list(texts)
        self.rows = {t: i for i, t in enumerate(self.texts)}
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.moments = Moments.of(self.matrix)

    def own_rows(self, instructions: Sequence[str | None]) -> np.ndarray:
        """Row of each pair's own instruction in the matrix, -1 where it has none (or no vector)."""
        return np.asarray([self.rows.get(t, -1) if t else -1 for t in instructions], dtype=np.int64)

    def z(self, vectors: np.ndarray, own: np.ndarray) -> np.ndarray:
        """z of each pair's own instruction among all of them (how many sd above a typical one); NaN where none."""
        has = own >= 0
        out = np.full(len(vectors), np.nan)
        if has.any():
            mine = np.einsum("nd,nd->n", vectors[has], self.matrix[own[has]])
            out[has] = self.moments.z(vectors[has], mine)
        return out

    def best(self, vectors: np.ndarray) -> np.ndarray:
        """Row of the best-fitting instruction of each pair vector (FAISS's blocked exact search: no n x m matrix)."""
        import faiss

        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        return faiss.knn(queries, self.matrix, 1, metric=faiss.METRIC_INNER_PRODUCT)[1][:, 0].astype(np.int64)
