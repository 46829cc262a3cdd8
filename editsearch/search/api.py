"""The ranking API: search an index by text, exemplar pair or edit id, or weighted combinations of them.

Scores are the cosines of the EditCLIP paper (Wang et al. 2025): EC2T = cos(pair embedding, text
embedding) for a text query and EC2EC = cos(pair embedding A, pair embedding B) for a pair query. A
combined query is the rclip-style sum of weighted, normalised term vectors (negatives subtracted),
renormalised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.core.errors import EditSearchError, UsageError
from editsearch.core.limits import MAX_TEXT_CHARS, MAX_WEIGHT, check_query_size, check_text
from editsearch.encoder.embedder import Embedder, ModelLike
from editsearch.index.errors import EditIndexError
from editsearch.index.store import EditIndex, Hit
from editsearch.media.images import ImageLike
from editsearch.search.inputs import PairLike, load_pairs
from editsearch.search.ranking import rank_text
from editsearch.search.specs import QueryLineError, check_rank, positive_int, spec_meta, spec_terms, spec_values
from editsearch.search.weak_match import KINDS, query_kind, reference

Term = str | int | PairLike  # text, edit id, or a (before, after) pair


@dataclass
class SearchResult:
    """One ranked edit: rank, id, score, instruction, locators, metadata; text queries add component `scores`."""

    rank: int
    id: int | None
    score: float
    instruction: str | None
    before: str
    after: str
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float | None] | None = None  # {"pair": EC2T, "instruction": text↔instruction or None}

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the CLI contract (its dicts copied, not shared with the result)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(metadata=dict(self.metadata), scores=None if self.scores is None else dict(self.scores))
        return out


@dataclass
class QueryOutcome:
    """One query of a batch: the query as run (k and filters filled in), its results, or why it failed."""

    query: dict[str, Any]
    results: list[SearchResult] = field(default_factory=list)
    error: str | None = None
    weak_match: bool | None = (
        None  # the best result fits no better than a query that fits nothing (editsearch.search.weak_match)
    )
    weak_reference: float | None = None  # the score that best result had to beat

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `query --json`: {"query", "results", "weak_match", "weak_reference"} (+ "error")."""
        out: dict[str, Any] = {"query": self.query, "results": [r.to_dict() for r in self.results]}
        out.update(weak_match=self.weak_match, weak_reference=self.weak_reference)
        if self.error is not None:
            out["error"] = self.error
        return out


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

    def _embed_texts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Text embeddings, the ones not cached in one batch (UsageError: a text over MAX_TEXT_CHARS)."""
        return self.embedder.cached_text_vectors([check_text(t, "a text query") for t in texts])

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
        if all(isinstance(t, str) for t in [*positive, *negative]):
            return self.rank_text_vector(query, k, rank, where, contains, meta)
        exclude = [_edit_ids(positive, negative)]
        hits = self.index.search(query, k, where=where, contains=contains, exclude=exclude, meta=meta)
        return to_results(hits[0])

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
        ranked = rank_text(self.index, query, k, check_rank(rank), where, contains, meta=meta)
        return [
            SearchResult(
                n,
                r.edit["id"],
                r.score,
                r.edit["instruction"],
                r.edit["before"],
                r.edit["after"],
                r.edit["metadata"],
                {"pair": r.pair, "instruction": r.instruction},
            )
            for n, r in enumerate(ranked, start=1)
        ]

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
        """Run query specs ({text} | {before, after} | {edit_id}, plus not_text, k, where, contains, meta, rank).

        Texts are embedded in one batch and pair queries sharing (k, where, contains) are searched together;
        text-only queries are ranked one by one by their `rank`. A spec that fails gets an `error` and no
        results; the others still run. Relative image paths are taken from `base`. `k`, `where`, `contains`,
        `meta` and `rank` are the defaults a spec may override. Results come in the specs' order.
        """
        specs = list(specs)
        self._prepare_batch([s for s in specs if isinstance(s, dict)])
        outcomes: list[QueryOutcome] = []
        groups: dict[tuple[Any, ...], list[tuple[QueryOutcome, np.ndarray, set[int], str | None]]]
        groups = {}
        for spec in specs:
            if isinstance(spec, QueryLineError):
                outcomes.append(QueryOutcome({}, error=spec.error))
                continue
            outcome = QueryOutcome(dict(spec))
            outcomes.append(outcome)
            try:
                facets = spec_meta(spec.get("meta", meta))
                filters = (spec.get("where", where), spec.get("contains", contains), facets)
                options = (positive_int(spec.get("k", k)), *filters[:2], tuple(sorted((facets or {}).items())))
                outcome.query["k"] = options[0]
                named = zip(("where", "contains", "meta"), filters, strict=True)
                outcome.query.update({name: v for name, v in named if v})
                positive, negative = spec_terms(spec, Path(base) if base is not None else None)
                vector = self.query_vector(positive, negative)
                if all(isinstance(t, str) for t in positive + negative):
                    how = check_rank(spec.get("rank", rank))
                    outcome.results = self.rank_text_vector(vector, options[0], how, *filters)
                    self.judge(outcome, "text", how)
                else:
                    kind = query_kind(positive, negative)
                    groups.setdefault(options, []).append((outcome, vector, _edit_ids(positive, negative), kind))
            except EditSearchError as e:
                outcome.error = str(e)
        for (gk, gwhere, gcontains, gmeta), members in groups.items():
            matrix = np.stack([vector for _, vector, _, _ in members])
            excludes = [ids for _, _, ids, _ in members]
            try:
                found = self.search_vectors(matrix, gk, gwhere, gcontains, excludes, dict(gmeta) or None)
            except EditIndexError as e:  # a bad where/contains: every query that used it fails
                found = [[] for _ in members]
                for outcome, _, _, _ in members:
                    outcome.error = str(e)
            for (outcome, _, _, kind), results in zip(members, found, strict=True):
                outcome.results = results
                self.judge(outcome, kind)
        return outcomes

    def _prepare_batch(self, specs: list[dict[str, Any]]) -> None:
        """Embed a batch's texts in one forward and load the model once where pairs need it (a wrong one fails all)."""
        texts = {t for s in specs for t in spec_values(s, "text") + spec_values(s, "not_text") if isinstance(t, str)}
        texts = {t for t in texts if t.strip() and len(t) <= MAX_TEXT_CHARS}  # the others fail their own line
        if texts:
            self._embed_texts(sorted(texts))
        if any("before" in s for s in specs) and self.embedder.tower("vision") is None:
            _ = self.model

    def weak_reference(self, kind: str | None, rank: str = "hybrid") -> float | None:
        """The score a query's best result must beat not to be a weak match (search.weak_match): of a text query
        under `rank` (kind "text"), or of an exemplar or edit-id query (kind "exemplar"); None: no reference."""
        if kind is None:
            return None
        if kind not in KINDS:
            raise UsageError(f"a weak-match kind is one of {', '.join(KINDS)}, got {kind!r}")
        return reference(self.index, self.embedder, kind, check_rank(rank))

    def weak_match(
        self, results: Sequence[SearchResult], rank: str = "hybrid", kind: str | None = "text"
    ) -> bool | None:
        """Whether the best of a query's results scores no higher than the best result of a query that fits nothing in
        the collection usually does (see `weak_reference`); None for no results or no reference."""
        reference = self.weak_reference(kind, rank) if results else None
        return None if reference is None else results[0].score <= reference

    def judge(self, outcome: QueryOutcome, kind: str | None, rank: str = "hybrid") -> QueryOutcome:
        """Fill in an outcome's weak_match and weak_reference (a query of this kind, ranked by `rank`)."""
        reference = self.weak_reference(kind, rank) if outcome.results else None
        outcome.weak_reference = reference
        outcome.weak_match = None if reference is None else outcome.results[0].score <= reference
        return outcome

    def query_vector(
        self, positive: Sequence[Term], negative: Sequence[Term] = (), weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """The unit query vector: sum of weighted normalised term vectors, negatives subtracted (UsageError)."""
        terms = [*positive, *negative]
        query_texts(terms)
        weights = [1.0] * len(terms) if weights is None else list(weights)
        if len(weights) != len(terms):
            raise UsageError(f"{len(weights)} weights for {len(terms)} query terms")
        for weight in weights:
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise UsageError(f"a weight must be a finite number, got {weight!r}")
            if abs(weight) > MAX_WEIGHT:
                raise UsageError(f"a weight must lie within ±{MAX_WEIGHT:g}, got {weight!r}")
        signs = [1.0] * len(positive) + [-1.0] * len(negative)
        total = np.zeros(self.index.model_info["dim"], dtype=np.float64)  # type: ignore[index]
        for term, weight, sign in zip(terms, weights, signs, strict=True):
            total += sign * float(weight) * unit(self.term_vector(term))
        norm = np.linalg.norm(total)
        if norm < 1e-8:
            raise UsageError("the query terms cancel out (their weighted sum is zero)")
        return (total / norm).astype(np.float32)

    def term_vector(self, term: Term) -> np.ndarray:
        """One term's embedding: text -> text tower, pair -> EditCLIP, edit id -> its stored vector."""
        if isinstance(term, str):
            if not term.strip():
                raise UsageError("a text term is empty: give words to search for")
            return self._embed_texts([term])[0]
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            return self.index.stored_vector(int(term))
        return self.embedder.pair_vectors(load_pairs([term]))[0]


def query_texts(terms: Sequence[Term]) -> list[str]:
    """The text terms of a query, checked (UsageError: no term, a text too long, a query too large)."""
    if not terms:
        raise UsageError("a query needs at least one term (text, (before, after) pair or edit id)")
    texts = [check_text(t, "a text term") for t in terms if isinstance(t, str)]
    check_query_size(texts, len(terms))
    return texts


def embed_query_texts(embedder: Embedder, terms: Sequence[Term]) -> None:
    """Embed a query's text terms into the embedder's shared cache, before a searcher is taken (a server's
    concurrent requests then share the text tower's batches instead of waiting for a reader first)."""
    texts = [t for t in query_texts(terms) if t.strip()]
    if texts:
        embedder.cached_text_vectors(texts)


def _edit_ids(positive: Sequence[Term], negative: Sequence[Term]) -> set[int]:
    """The edit-id terms of a query (excluded from its results)."""
    return {int(t) for t in [*positive, *negative] if isinstance(t, (int, np.integer)) and not isinstance(t, bool)}


def to_results(hits: Sequence[Hit]) -> list[SearchResult]:
    """SearchResults (ranked from 1) from index hits."""
    return [
        SearchResult(
            rank, h.edit["id"], h.score, h.edit["instruction"], h.edit["before"], h.edit["after"], h.edit["metadata"]
        )
        for rank, h in enumerate(hits, start=1)
    ]


def unit(v: np.ndarray) -> np.ndarray:
    """`v` as a flat float64 vector of norm 1 (a zero vector stays zero)."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v
