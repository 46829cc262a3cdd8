"""duplicate: the same edit of the same photo as another pair (resized or re-encoded).

The score is -log2(1 + D) for the closest of the pair's candidates, its nearest pair vectors
(neighbours.PAIR_NEIGHBOURS) and its nearest pairs by pHash (neighbours.SIGNATURE_NEIGHBOURS); D = max Hamming
distance of the before and after pHashes (bits) + THUMB_WEIGHT x the larger mean difference of their 8x8
thumbnails (grey levels). A pair that shows no change and one that does are not the same edit, whatever their D:
that tells a small local edit (a smile, a logo) from the same photo left as it was, which hashes and thumbnails
barely see. The line between them is the noop check's: where the collection's re-saved befores land (copies.py),
within that check's bounds. Pairs linked over the threshold form groups; each keeps its largest pair.

Threshold: from the scores (thresholds.py), and no stricter than where the farthest of the collection's own
duplicate copies lands (copies.py): a pair whose nearest pair lies within that distance is as close as a copy of
it can be. Photos whose hashes or thumbnails move further under a resize so lift the threshold, within the
check's bounds.

Reliability: coverage. The distances are measured on the pixels (the pair vectors and pHashes only propose the
candidates), so the check is as reliable as the share of pairs it could compare with a neighbour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks.base import (
    COPIES,
    NEIGHBOURS,
    SIGNATURES,
    Check,
    Reliability,
    copied,
    copies_threshold,
    coverage,
)
from editsearch.audit.checks.noop import ALWAYS, NEVER
from editsearch.audit.neighbours import SIGNATURE_NEIGHBOURS, signature_neighbours
from editsearch.audit.thresholds import Threshold
from editsearch.pairs.signatures import SignatureTable, hamming

if TYPE_CHECKING:
    from editsearch.audit.state import AuditState

THUMB_WEIGHT = 2.0  # grey levels of thumbnail difference worth one pHash bit
BLOCK = 4096  # pairs whose neighbour distances are computed at a time


def noop_line(state: AuditState) -> float:
    """The visible change (grey levels) at or under which a pair shows nothing: where the largest change of the
    collection's re-saved befores lands, within the noop check's bounds (its surest level without copies)."""
    landed = copied(state, "noop")
    largest = float(np.max(landed)) if len(landed) else ALWAYS
    return min(max(largest, ALWAYS), NEVER)


def duplicate_distances(signatures: SignatureTable, neighbours: np.ndarray, line: float | None = None) -> np.ndarray:
    """D to each neighbour [N, K] of pairs given their neighbours' positions (-1: none); inf where either has no
    signature or, given a no-op `line` (grey levels), one shows a change over it and the other none."""
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
        alike = (
            True if line is None else (signatures.change[rows][:, None] > line) == (signatures.change[others] > line)
        )
        dist[start : start + len(nb)] = np.where(ok & alike, bits + THUMB_WEIGHT * diff, np.inf)
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


def keep_order(state: AuditState) -> np.ndarray:
    """Rank of each edit as the one a duplicate group keeps: the largest image files first, then the lowest id."""
    edits = state.edits
    sizes = np.asarray([(b or 0) + (a or 0) for b, a in zip(edits.before_size, edits.after_size, strict=True)])
    order = np.lexsort((np.asarray(edits.id), -sizes.astype(np.float64)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


class Duplicate(Check):
    """Pairs that repeat another pair's edit of the same photo."""

    name = "duplicate"
    explains = "the same edit of the same photo as another pair (resized or re-encoded)"
    colour = "#0c8599"
    needs = frozenset({NEIGHBOURS, SIGNATURES, COPIES})
    bounds = (-np.log2(17.0), -np.log2(3.0))  # never D over 16 (a quarter of the hash bits); always D under 2

    def score(self, state: AuditState) -> np.ndarray:
        n = len(state.edits)
        if n < 2:
            return np.full(n, np.nan)
        candidates = signature_neighbours(state.signatures.hashes, state.signatures.known, SIGNATURE_NEIGHBOURS)
        if state.neighbours is not None:
            candidates = np.concatenate([state.neighbours, candidates], axis=1)
        dist = duplicate_distances(state.signatures, candidates, noop_line(state))
        state.extra[self.name] = (candidates, dist)
        return duplicate_score(dist.min(axis=1))

    def threshold(self, state: AuditState, scores: np.ndarray) -> Threshold:
        what = (
            "where the farthest of {n} resized, re-encoded copies of the collection's own pairs lands (D {value:.2f})"
        )
        return copies_threshold(self, state, scores, "duplicate", lambda d: float(duplicate_score(np.asarray(d))), what)

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        if len(scores) == 1:
            return Reliability(False, None, "a single edit has nothing to duplicate")
        return coverage(int(np.isfinite(scores).sum()), len(scores), "likeness to the nearest pairs")

    def flags(self, state: AuditState, scores: np.ndarray, threshold: Threshold) -> np.ndarray:
        """The pairs of each duplicate group but the one it keeps; `state.kept` names that one."""
        found = state.extra.get(self.name)
        if found is None:
            return np.zeros(len(scores), dtype=bool)
        candidates, dist = found
        is_dup, state.kept = duplicate_groups(dist, candidates, threshold.value, keep_order(state))
        return is_dup

    def card(self, row: dict[str, Any]) -> list[str]:
        kept = row.get("duplicate_of")
        return [f"A duplicate of id {int(kept)}"] if kept is not None else []
