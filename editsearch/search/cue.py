"""The weak-match cue of a query, decided in one place: the reference its terms call for, and whether its best
result beats it. `EditSearch.query` and `run_batch` judge every outcome here; the references themselves are
computed and kept by editsearch.search.weak_match."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from editsearch.core.errors import UsageError
from editsearch.encoder.embedder import Embedder
from editsearch.index.store import EditIndex
from editsearch.search.results import QueryOutcome, SearchResult
from editsearch.search.specs import check_rank
from editsearch.search.weak_match import KINDS, reference


def judge(
    index: EditIndex,
    embedder: Embedder,
    outcome: QueryOutcome,
    positive: Sequence[Any],
    negative: Sequence[Any] = (),
    rank: str = "hybrid",
) -> QueryOutcome:
    """Fill in an outcome's weak_match and weak_reference: its best result against the reference of its terms' kind
    (`query_kind`; a text query's under `rank`); both None for no results or a query no reference fits."""
    found = weak_reference(index, embedder, query_kind(positive, negative), rank) if outcome.results else None
    outcome.weak_reference = found
    outcome.weak_match = is_weak(outcome.results, found)
    return outcome


def query_kind(positive: Sequence[Any], negative: Sequence[Any]) -> str | None:
    """Which reference a query is judged by: "text" (text terms only), "exemplar" (pairs and edit ids, nothing
    subtracted), or None (a mix of texts and pairs, or pairs with terms subtracted: no reference fits)."""
    terms = [*positive, *negative]
    if terms and all(isinstance(t, str) for t in terms):
        return "text"
    if positive and not negative and not any(isinstance(t, str) for t in positive):
        return "exemplar"
    return None


def weak_reference(index: EditIndex, embedder: Embedder, kind: str | None, rank: str = "hybrid") -> float | None:
    """The score a query's best result must beat not to be a weak match: of a text query under `rank` (kind "text"),
    or of an exemplar or edit-id query (kind "exemplar"); None: no reference (no kind, or none computable here)."""
    if kind is None:
        return None
    if kind not in KINDS:
        raise UsageError(f"a weak-match kind is one of {', '.join(KINDS)}, got {kind!r}")
    return reference(index, embedder, kind, check_rank(rank))


def is_weak(results: Sequence[SearchResult], reference: float | None) -> bool | None:
    """Whether the best result scores no higher than the reference; None for no results or no reference."""
    return None if reference is None or not results else results[0].score <= reference
