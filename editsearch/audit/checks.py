"""The score of each check: higher means likelier a problem; NaN where the check cannot apply to an edit.

- noop: -log10 of the pair's visible change (grey levels, from its signature).
- mismatch: minus the mean of two z-scores of the pair's own instruction, so no raw cosine is compared across
  pairs: its EC2T standardised over every distinct instruction of the index (how far above a typical instruction
  its own one fits; instructions.py), and its peer z, the pair's cosine to the other pairs with that instruction or
  the nearest ones, standardised over every live pair (peers.py), which holds where the model misreads a kind of
  edit. The EC2T z alone for a pair with no peers.
- reversed: z of its instruction for the pair read backwards minus z forwards: an edit that undoes itself
  (invert, mirror) reads the same both ways and scores near zero.
- duplicate: -log2(1 + D) for the closest of its pair-vector neighbours, D = max Hamming distance of the before
  and after pHashes (bits) + 2 x the larger mean difference of their 8x8 thumbnails (grey levels).
"""

from __future__ import annotations

import numpy as np

from editsearch.audit.signatures import SignatureTable, hamming

CHECKS = ("noop", "mismatch", "reversed", "duplicate")
NEIGHBOURS = 8  # pair-vector neighbours whose images are compared for the duplicate check
THUMB_WEIGHT = 2.0  # grey levels of thumbnail difference worth one pHash bit
BLOCK = 4096  # pairs whose neighbour distances are computed at a time
# Bounds the data-derived thresholds stay within (lowest, highest), on each check's score scale.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "noop": (-np.log10(5.0), 0.0),  # never flag a change of 5 grey levels or more; always one under 1 level
    "mismatch": (-1.0, 0.0),  # never flag an instruction 1 sd or more above typical; always one fitting worse
    "reversed": (1.0, 1.5),  # backwards fits at least 1 sd better than forwards; 1.5 sd always flags
    "duplicate": (-np.log2(17.0), -np.log2(3.0)),  # never D over 16 (a quarter of the hash bits); always D under 2
}


def noop_scores(signatures: SignatureTable) -> np.ndarray:
    """-log10 of each pair's visible change (NaN without a signature)."""
    return -np.log10(np.maximum(signatures.change, 0.01))


def mismatch_scores(text_z: np.ndarray, peer_z: np.ndarray | None) -> np.ndarray:
    """Minus the mean of the two readings of each pair's own instruction (the EC2T z alone where it has no peers)."""
    if peer_z is None:
        return -text_z
    return -np.where(np.isfinite(peer_z), (text_z + peer_z) / 2, text_z)


def duplicate_distances(signatures: SignatureTable, neighbours: np.ndarray) -> np.ndarray:
    """D to each neighbour [N, K] (inf where unknown) of pairs given their neighbours' positions (-1: none)."""
    dist = np.full(neighbours.shape, np.inf)
    known = np.append(signatures.known, False)  # position -1 reads the False
    thumbs = signatures.thumbs.reshape(len(signatures.known), 2, -1)
    for start in range(0, len(neighbours), BLOCK):
        nb = neighbours[start : start + BLOCK]
        rows = np.arange(start, start + len(nb))
        ok = known[rows][:, None] & known[nb] & (nb >= 0)
        others = np.where(ok, nb, 0)
        bits = hamming(signatures.hashes[rows][:, None, :], signatures.hashes[others]).max(axis=2)
        mine = thumbs[rows][:, None].astype(np.int16)
        diff = np.abs(mine - thumbs[others].astype(np.int16)).mean(axis=3).max(axis=2)
        dist[start : start + len(nb)] = np.where(ok, bits + THUMB_WEIGHT * diff, np.inf)
    return dist


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
    roots = parent
    while not np.array_equal(roots[roots], roots):  # every pair to its group's root, whole array at once
        roots = roots[roots]
    order = np.lexsort((keep_order, roots))  # by group, then the rank to keep
    first = np.r_[True, roots[order][1:] != roots[order][:-1]]
    keeper = np.full(n, -1)
    keeper[roots[order][first]] = order[first]
    keeper = keeper[roots]
    is_dup = keeper != np.arange(n)
    return is_dup, np.where(is_dup, keeper, -1)
