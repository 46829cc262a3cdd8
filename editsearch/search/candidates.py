"""Ranking a given list of pairs against a text or an exemplar pair, with no index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from editsearch.encoder.embedder import Embedder
from editsearch.search.inputs import PairLike, describe, load_pairs
from editsearch.search.results import SearchResult
from editsearch.search.terms import unit


def rank_edits(
    candidates: Sequence[PairLike], query: str | PairLike, model: str | Path | Any = None
) -> list[SearchResult]:
    """Rank pairs (EditPair or (before, after)) against a text (EC2T) or a pair (EC2EC); `id` is the list position."""
    if not candidates:
        return []
    embedder = Embedder(model)
    pair_vecs = embedder.pair_vectors(load_pairs(candidates))
    if isinstance(query, str):
        qvec = embedder.text_vectors([query])[0]
    else:
        qvec = embedder.pair_vectors(load_pairs([query]))[0]
    scores = pair_vecs @ unit(qvec)
    order = sorted(range(len(candidates)), key=lambda i: (-round(float(scores[i]), 6), i))
    results = []
    for rank, i in enumerate(order, start=1):
        before, after, instruction, metadata = describe(candidates[i])
        results.append(SearchResult(rank, i, float(scores[i]), instruction, before, after, metadata))
    return results
