"""Every vector's nearest others, for the audit's passes: pair vectors and pair signatures (duplicates) and
instruction vectors (peers).

Up to EXACT_MAX vectors the search is exact. Beyond, an all-against-all exact search grows with n² (a 100k-edit
Flat index: 25 times the 6 CPU-seconds of 20k), so the audit searches an approximate index: the pair cache when
it is one, with its tuned settings, else an IVF built in memory and tuned to the index's target recall like
every cache (editsearch.index.tuning), kept only when it probes at most MAX_PROBED of its lists (past that its
scan, which uses no BLAS, costs more than the exact search). Duplicates are near-identical vectors, which an
IVF finds in the first list it probes, whatever the model reads of them; where a model is nearly blind to a
collection's photos, many pairs' vectors are near-identical too, and a copy can fall outside its original's
nearest few. So duplicates are also proposed by their signatures: the nearest pairs by the Hamming distance of
their before and after pHashes (FAISS's binary indexes: exact up to BINARY_EXACT_MAX pairs, HNSW beyond).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from editsearch.index.vectors import VectorIndex

PAIR_NEIGHBOURS = 8  # nearest other pair vectors found for each edit (their images are compared for duplicates)
EXACT_MAX = 20_000  # vectors up to which an audit's neighbour search is exact
MAX_PROBED = 0.25  # an IVF probing more of its lists than this share scans slower than an exact (BLAS) search
SIGNATURE_NEIGHBOURS = 8  # nearest other pairs by their pHashes, also compared for duplicates
BINARY_EXACT_MAX = 200_000  # pairs up to which the pHash search is exact (16-byte codes: a fast popcount scan)


def cheaper_than_exact(vi: VectorIndex) -> bool:
    """False for an IVF whose tuned search probes so many lists that an exact search costs less."""
    return vi.kind != "ivf" or vi.params.ivf_nprobe <= MAX_PROBED * vi.nlist


def without_self(found: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each row's hits [N, >=k] (-1: none) without its own id `own[row]`, the first k kept in order (-1 padded)."""
    keep = (found >= 0) & (found != own[:, None])
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    out = np.take_along_axis(np.where(keep, found, -1), order, axis=1)
    return np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1) if out.shape[1] < k else out


def nearest_rows(matrix: np.ndarray, k: int, target: float) -> np.ndarray:
    """[N, k] positions of each row's k nearest other rows by inner product, best first (-1 where fewer)."""
    from editsearch.index.tuning import build_tuned
    from editsearch.index.vectors import VectorIndex

    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    ids = np.arange(len(matrix), dtype=np.int64)
    vi = None
    if len(matrix) > EXACT_MAX:
        vi = build_tuned("ivf", matrix.shape[1], ids, lambda i: (i, matrix[i]), [(ids, matrix)], target)
    if vi is None or not cheaper_than_exact(vi):
        vi = VectorIndex.build("flat", matrix.shape[1], ids, matrix)
    return without_self(vi.search(matrix, k + 1)[1], ids, k)


def signature_neighbours(hashes: np.ndarray, known: np.ndarray, k: int) -> np.ndarray:
    """[N, k] positions of each pair's k nearest other pairs by the Hamming distance of their (before, after)
    pHashes [N, 2] uint64, nearest first; -1 where fewer, and for pairs without a signature (`known` False)."""
    import faiss

    out = np.full((len(hashes), k), -1, dtype=np.int64)
    rows = np.flatnonzero(known)
    if len(rows) < 2:
        return out
    codes = np.ascontiguousarray(hashes[rows].astype("<u8")).view(np.uint8).reshape(len(rows), 16)
    index = faiss.IndexBinaryFlat(128) if len(rows) <= BINARY_EXACT_MAX else faiss.IndexBinaryHNSW(128, 16)
    index.add(codes)
    found = index.search(codes, min(k + 1, len(rows)))[1]
    local = without_self(found, np.arange(len(rows)), k)
    out[rows] = np.where(local >= 0, rows[np.maximum(local, 0)], -1)
    return out


class PositionMap:
    """Positions (0..N-1) of the audit's edits from their vector ids, for whole arrays at once (-1: not audited)."""

    def __init__(self, vector_ids: Sequence[int]):
        vids = np.asarray(vector_ids, dtype=np.int64)
        self.order = np.argsort(vids, kind="stable")
        self.sorted = vids[self.order]

    def __call__(self, vector_ids: np.ndarray) -> np.ndarray:
        """The positions of these vector ids (any shape), -1 for an id that is none of the audit's."""
        if not len(self.sorted):
            return np.full(np.shape(vector_ids), -1, dtype=np.int64)
        at = np.clip(np.searchsorted(self.sorted, vector_ids), 0, len(self.sorted) - 1)
        return np.where(self.sorted[at] == vector_ids, self.order[at], -1)


def pair_neighbours(
    vi: VectorIndex, vectors: np.ndarray, positions: np.ndarray, where: PositionMap, k: int
) -> np.ndarray:
    """[len(vectors), k] positions of the nearest other audited edits of these pair vectors (at `positions`); a
    cache holding removed vectors (HNSW, PQ keep them) is over-fetched by their share, as EditIndex.search does."""
    fetch = int((k + 1) * max(vi.ntotal, 1) / max(len(where.sorted), 1)) + 1
    return without_self(where(vi.search(vectors, max(fetch, k + 1))[1]), positions, k)
