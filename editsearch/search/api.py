"""The search API: search an index by text, exemplar pair or edit id, or weighted combinations of them.

Scores are the cosines of the EditCLIP paper (Wang et al. 2025): EC2T = cos(pair embedding, text
embedding) for a text query and EC2EC = cos(pair embedding A, pair embedding B) for a pair query. A
combined query is the rclip-style sum of weighted, normalised term vectors, negatives subtracted,
renormalised (editsearch.search.terms). `EditSearch` is the facade: `search` ranks, `query` ranks and
judges by the weak-match cue (editsearch.search.cue), `run_batch` does both for many specs
(editsearch.search.batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.encoder.embedder import Embedder, ModelLike
from editsearch.index.errors import EditIndexError
from editsearch.index.store import EditIndex
from editsearch.search import batch, cue, terms
from editsearch.search.ranking import rank_text
from editsearch.search.results import QueryOutcome, SearchResult, ranked_results, to_results
from editsearch.search.specs import QueryLineError, check_rank, positive_int
from editsearch.search.terms import Term, embed_query_texts

if TYPE_CHECKING:
    from editsearch.media.images import ImageLike

__all__ = ["EditSearch", "QueryOutcome", "SearchResult", "Term", "embed_query_texts"]


class EditSearch:
    """Search one index with the model that built it (loaded only when a query needs embedding).

    Queries embed with the model's exported ONNX towers when they exist for the index's fingerprint (no
    torch); otherwise the torch model is loaded once, and its towers are exported for the next process.
    """

    def __init__(self, index: EditIndex, model: ModelLike | Embedder | None = None):
        self.index = index
        self.embedder = model if isinstance(model, Embedder) else index.embedder(model)

    @classmethod
    def open(cls, index_dir: str | Path | None = None, model: ModelLike | Embedder | None = None) -> EditSearch:
        """Open an index for searching; `model` defaults to the index's own (a different one is refused)."""
        index = EditIndex.open(index_dir)
        try:
            if index.model_info is None:
                raise EditIndexError(
                    f"the index at {index.directory} is empty; add edits with `editsearch build-index`"
                )
            return cls(index, model)
        except BaseException:
            index.close()
            raise

    @property
    def model(self) -> Any:
        """The index's torch model: loaded on first use, refused if its fingerprint differs from the index's."""
        return self.embedder.model

    def close(self) -> None:
        """Close the index."""
        self.index.close()

    def __enter__(self) -> EditSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries --------------------------------------------------------------------------------------

    def search_text(self, text: str, k: int = 10, rank: str = "hybrid", **filters: Any) -> list[SearchResult]:
        """Edits ranked against a text instruction by `rank`: pair (EC2T), instruction or hybrid (both fused)."""
        return self.search([text], k=k, rank=rank, **filters)

    def search_pair(self, before: ImageLike, after: ImageLike, k: int = 10, **filters: Any) -> list[SearchResult]:
        """Edits ranked by EC2EC against an exemplar (before, after) pair."""
        return self.search([(before, after)], k=k, **filters)

    def search_edit(self, edit_id: int, k: int = 10, **filters: Any) -> list[SearchResult]:
        """Edits most like an indexed edit (by EC2EC on stored vectors), the edit itself excluded."""
        return self.search([int(edit_id)], k=k, **filters)

    def search(
        self,
        positive: Sequence[Term] = (),
        negative: Sequence[Term] = (),
        weights: Sequence[float] | None = None,
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        rank: str = "hybrid",
        meta: Mapping[str, str] | None = None,
    ) -> list[SearchResult]:
        """Rank edits by a weighted combination of text, pair and edit-id terms.

        `weights` has one entry per positive term, then one per negative term (default 1 each).
        `where` is SQL over the catalog's edits columns (e.g. "source = 'ip2p'"); `contains` is a
        full-text match on instructions, `meta` metadata facets ({KEY: VALUE}, bound). Edit-id terms are
        excluded from the results. A query of text terms only is ranked by `rank` (see
        editsearch.search.ranking); other queries by the pair alone.
        """
        check_rank(rank)
        positive_int(k)
        query = self.query_vector(positive, negative, weights)
        if terms.text_only(positive, negative):
            return self.rank_text_vector(query, k, rank, where, contains, meta)
        exclude = [terms.edit_ids(positive, negative)]
        hits = self.index.search(query, k, where=where, contains=contains, exclude=exclude, meta=meta)
        return to_results(hits[0])

    def query(
        self,
        positive: Sequence[Term] = (),
        negative: Sequence[Term] = (),
        weights: Sequence[float] | None = None,
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        rank: str = "hybrid",
        meta: Mapping[str, str] | None = None,
        echo: Mapping[str, Any] | None = None,
    ) -> QueryOutcome:
        """`search`, as an outcome judged by the weak-match cue of its kind (text, exemplar or edit id: see
        editsearch.search.cue); `echo` is what the outcome's `query` says of it (default: nothing)."""
        results = self.search(positive, negative, weights, k, where, contains, rank, meta)
        outcome = QueryOutcome(dict(echo or {}), results)
        return cue.judge(self.index, self.embedder, outcome, positive, negative, rank)

    def run_batch(
        self,
        specs: Iterable[dict[str, Any] | QueryLineError],
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        base: str | Path | None = None,
        rank: str = "hybrid",
        meta: Mapping[str, str] | None = None,
    ) -> list[QueryOutcome]:
        """Run query specs, each judged by the weak-match cue (see editsearch.search.batch.run_batch)."""
        return batch.run_batch(self.index, self.embedder, specs, k, where, contains, base, rank, meta)

    def rank_text_vector(
        self,
        query: np.ndarray,
        k: int,
        rank: str,
        where: str | None = None,
        contains: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> list[SearchResult]:
        """Results for a text query vector under `rank`, each with its pair and instruction scores."""
        return ranked_results(rank_text(self.index, query, k, check_rank(rank), where, contains, meta=meta))

    def search_vectors(
        self,
        queries: np.ndarray,
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        exclude: Sequence[set[int]] | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> list[list[SearchResult]]:
        """Batch search with ready query vectors [Q, D] (unit norm), one result list per row."""
        found = self.index.search(queries, k, where=where, contains=contains, exclude=exclude, meta=meta)
        return [to_results(h) for h in found]

    # -- the weak-match cue and the query vector ------------------------------------------------------

    def weak_reference(self, kind: str | None, rank: str = "hybrid") -> float | None:
        """The score a query's best result must beat not to be a weak match (search.weak_match): of a text query
        under `rank` (kind "text"), or of an exemplar or edit-id query (kind "exemplar"); None: no reference."""
        return cue.weak_reference(self.index, self.embedder, kind, rank)

    def weak_match(
        self, results: Sequence[SearchResult], rank: str = "hybrid", kind: str | None = "text"
    ) -> bool | None:
        """Whether the best of a query's results scores no higher than the best result of a query that fits nothing in
        the collection usually does (see `weak_reference`); None for no results or no reference."""
        return cue.is_weak(results, self.weak_reference(kind, rank) if results else None)

    def query_vector(
        self, positive: Sequence[Term], negative: Sequence[Term] = (), weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """The unit query vector: sum of weighted normalised term vectors, negatives subtracted (UsageError)."""
        return terms.query_vector(self.index, self.embedder, positive, negative, weights)

    def term_vector(self, term: Term) -> np.ndarray:
        """One term's embedding: text -> text tower, pair -> EditCLIP, edit id -> its stored vector."""
        return terms.term_vector(self.index, self.embedder, term)
