"""The score of each check: higher means likelier a problem; NaN where the check cannot apply to an edit.

- noop: -log10 of the pair's visible change (grey levels, from its signature).
- mismatch: -z of the pair's own instruction, z being its EC2T standardised over every distinct instruction of
  the index (how far above a typical instruction its own one fits), so no raw cosine is compared across pairs.
- reversed: z of its instruction for the pair read backwards minus z forwards: an edit that undoes itself
  (invert, mirror) reads the same both ways and scores near zero.
- duplicate: -log2(1 + D) for the closest of its pair-vector neighbours, D = max Hamming distance of the before
  and after pHashes (bits) + 2 x the larger mean difference of their 8x8 thumbnails (grey levels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from editsearch.audit.signatures import Signature, hamming

CHECKS = ("noop", "mismatch", "reversed", "duplicate")
NEIGHBOURS = 8  # pair-vector neighbours whose images are compared for the duplicate check
THUMB_WEIGHT = 2.0  # grey levels of thumbnail difference worth one pHash bit
# Bounds the data-derived thresholds stay within (lowest, highest), on each check's score scale.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "noop": (-np.log10(5.0), 0.0),  # never flag a change of 5 grey levels or more; always one under 1 level
    "mismatch": (-1.0, 0.0),  # never flag an instruction 1 sd or more above typical; always one fitting worse
    "reversed": (1.0, 1.5),  # backwards fits at least 1 sd better than forwards; 1.5 sd always flags
    "duplicate": (-np.log2(17.0), -np.log2(3.0)),  # never D over 16 (a quarter of the hash bits); always D under 2
}


def noop_scores(signatures: Sequence[Signature | None]) -> np.ndarray:
    """-log10 of each pair's visible change (NaN without a signature)."""
    return np.asarray([np.nan if s is None else -np.log10(max(s.change, 0.01)) for s in signatures])


class InstructionScorer:
    """EC2T of pairs against every distinct instruction vector: own-instruction z, best instruction."""

    def __init__(self, texts: Sequence[str], matrix: np.ndarray, chunk: int = 256):
        self.texts = list(texts)
        self.rows = {t: i for i, t in enumerate(self.texts)}
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.chunk = chunk

    def own_rows(self, instructions: Sequence[str | None]) -> np.ndarray:
        """Row of each pair's own instruction in the matrix, -1 where it has none (or no vector)."""
        return np.asarray([self.rows.get(t, -1) if t else -1 for t in instructions], dtype=np.int64)

    def z_and_best(self, vectors: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z of the own instruction, NaN where none; row of the best-fitting instruction) for pair vectors."""
        z = np.full(len(vectors), np.nan)
        best = np.zeros(len(vectors), dtype=np.int64)
        for start in range(0, len(vectors), self.chunk):
            sims = vectors[start : start + self.chunk] @ self.matrix.T
            best[start : start + len(sims)] = sims.argmax(axis=1)
            rows = own[start : start + len(sims)]
            has = rows >= 0
            if has.any():
                mean, sd = sims[has].mean(axis=1), sims[has].std(axis=1)
                mine = sims[has, rows[has]]
                z[start : start + len(sims)][has] = (mine - mean) / np.maximum(sd, 1e-6)
        return z, best


def duplicate_distances(signatures: Sequence[Signature | None], neighbours: np.ndarray) -> np.ndarray:
    """D to each neighbour [N, K] (inf where unknown) of pairs given their neighbours' positions (-1: none)."""
    n, k = neighbours.shape
    dist = np.full((n, k), np.inf)
    known = np.asarray([s is not None for s in signatures] + [False])  # position -1 reads the False
    for i, sig in enumerate(signatures):
        if sig is None:
            continue
        js = neighbours[i]
        ok = known[js] & (js >= 0)
        if not ok.any():
            continue
        others = [signatures[j] for j in js[ok]]
        bits = np.maximum(
            hamming(np.full(len(others), sig.before_hash, np.uint64), _hashes(others, "before_hash")),
            hamming(np.full(len(others), sig.after_hash, np.uint64), _hashes(others, "after_hash")),
        )
        thumbs = np.maximum(
            _thumb_diff(sig.before_thumb, others, "before_thumb"), _thumb_diff(sig.after_thumb, others, "after_thumb")
        )
        dist[i, ok] = bits + THUMB_WEIGHT * thumbs
    return dist


def _hashes(sigs: Sequence[Signature], attr: str) -> np.ndarray:
    return np.asarray([getattr(s, attr) for s in sigs], dtype=np.uint64)


def _thumb_diff(mine: np.ndarray, others: Sequence[Signature], attr: str) -> np.ndarray:
    """Mean absolute difference (grey levels) between one thumbnail and each other's."""
    stack = np.stack([getattr(s, attr) for s in others]).astype(np.float32)
    return np.abs(stack - mine.astype(np.float32)).reshape(len(others), -1).mean(axis=1)


def duplicate_score(dist: np.ndarray) -> np.ndarray:
    """The duplicate score of distances D: -log2(1 + D) (NaN where D is unknown)."""
    return np.where(np.isfinite(dist), -np.log2(1 + np.where(np.isfinite(dist), dist, 0)), np.nan)


def duplicate_groups(
    dist: np.ndarray, neighbours: np.ndarray, threshold: float | None, keep_order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(is_duplicate, kept position or -1) per pair: pairs whose link scores over the threshold form groups
    (union-find); each group keeps the pair first in `keep_order` (a rank per position), the others are its
    duplicates."""
    n = len(dist)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if threshold is not None:
        for i, j in zip(*np.nonzero(np.nan_to_num(duplicate_score(dist), nan=-np.inf) > threshold), strict=True):
            a, b = root(int(i)), root(int(neighbours[i, j]))
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = np.asarray([root(i) for i in range(n)])
    kept = np.full(n, -1)
    best: dict[int, int] = {}
    for i in range(n):
        r = int(roots[i])
        if r not in best or keep_order[i] < keep_order[best[r]]:
            best[r] = i
    sizes = np.bincount(roots, minlength=n)
    is_dup = np.zeros(n, dtype=bool)
    for i in range(n):
        if sizes[roots[i]] > 1 and best[int(roots[i])] != i:
            is_dup[i], kept[i] = True, best[int(roots[i])]
    return is_dup, kept
