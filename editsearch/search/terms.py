"""A query's terms (texts, exemplar pairs, edit ids) and its vector: the rclip-style sum of their weighted, normalised
embeddings, negatives subtracted, renormalised."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.core.limits import MAX_WEIGHT, check_query_size, check_text
from editsearch.encoder.embedder import Embedder
from editsearch.index.store import EditIndex

if TYPE_CHECKING:
    from editsearch.search.inputs import PairLike

Term = Union[str, int, "PairLike"]  # text, edit id, or a (before, after) pair


def query_vector(
    index: EditIndex,
    embedder: Embedder,
    positive: Sequence[Term],
    negative: Sequence[Term] = (),
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """The unit query vector: sum of weighted normalised term vectors, negatives subtracted (UsageError)."""
    terms = [*positive, *negative]
    query_texts(terms)
    weights = check_weights(weights, len(terms))
    signs = [1.0] * len(positive) + [-1.0] * len(negative)
    total = np.zeros(index.model_info["dim"], dtype=np.float64)  # type: ignore[index]
    for term, weight, sign in zip(terms, weights, signs, strict=True):
        total += sign * float(weight) * unit(term_vector(index, embedder, term))
    norm = np.linalg.norm(total)
    if norm < 1e-8:
        raise UsageError("the query terms cancel out (their weighted sum is zero)")
    return (total / norm).astype(np.float32)


def term_vector(index: EditIndex, embedder: Embedder, term: Term) -> np.ndarray:
    """One term's embedding: text -> text tower, pair -> EditCLIP, edit id -> its stored vector."""
    if isinstance(term, str):
        if not term.strip():
            raise UsageError("a text term is empty: give words to search for")
        return embed_texts(embedder, [term])[0]
    if is_edit_id(term):
        return index.stored_vector(int(term))  # type: ignore[arg-type]
    from editsearch.search.inputs import load_pairs  # images: a text query needs none of it

    return embedder.pair_vectors(load_pairs([term]))[0]


def check_weights(weights: Sequence[float] | None, n_terms: int) -> list[float]:
    """One finite weight within ±MAX_WEIGHT per term (default 1 each), else UsageError."""
    weights = [1.0] * n_terms if weights is None else list(weights)
    if len(weights) != n_terms:
        raise UsageError(f"{len(weights)} weights for {n_terms} query terms")
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise UsageError(f"a weight must be a finite number, got {weight!r}")
        if abs(weight) > MAX_WEIGHT:
            raise UsageError(f"a weight must lie within ±{MAX_WEIGHT:g}, got {weight!r}")
    return weights


def query_texts(terms: Sequence[Term]) -> list[str]:
    """The text terms of a query, checked (UsageError: no term, a text too long, a query too large)."""
    if not terms:
        raise UsageError("a query needs at least one term (text, (before, after) pair or edit id)")
    texts = [check_text(t, "a text term") for t in terms if isinstance(t, str)]
    check_query_size(texts, len(terms))
    return texts


def embed_texts(embedder: Embedder, texts: Sequence[str]) -> list[np.ndarray]:
    """Text embeddings, the ones not cached in one batch (UsageError: a text over MAX_TEXT_CHARS)."""
    return embedder.cached_text_vectors([check_text(t, "a text query") for t in texts])


def embed_query_texts(embedder: Embedder, terms: Sequence[Term]) -> None:
    """Embed a query's text terms into the embedder's shared cache, before a searcher is taken (a server's
    concurrent requests then share the text tower's batches instead of waiting for a reader first)."""
    texts = [t for t in query_texts(terms) if t.strip()]
    if texts:
        embedder.cached_text_vectors(texts)


def text_only(positive: Sequence[Term], negative: Sequence[Term] = ()) -> bool:
    """Whether every term of a query is a text (such a query is ranked by `rank`; the others by the pair alone)."""
    return all(isinstance(t, str) for t in [*positive, *negative])


def is_edit_id(term: object) -> bool:
    """Whether a term is an edit id (an integer, not a bool)."""
    return isinstance(term, (int, np.integer)) and not isinstance(term, bool)


def edit_ids(positive: Sequence[Term], negative: Sequence[Term]) -> set[int]:
    """The edit-id terms of a query (excluded from its results)."""
    return {int(t) for t in [*positive, *negative] if is_edit_id(t)}  # type: ignore[arg-type]


def unit(v: np.ndarray) -> np.ndarray:
    """`v` as a flat float64 vector of norm 1 (a zero vector stays zero)."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v
