"""Batch runs of query specs: their texts embedded in one batch, their pair queries searched in groups that share
k and filters, each outcome judged by the weak-match cue (editsearch.search.cue)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.core.errors import EditSearchError
from editsearch.core.limits import MAX_TEXT_CHARS
from editsearch.encoder.embedder import Embedder
from editsearch.index.errors import EditIndexError
from editsearch.index.store import EditIndex
from editsearch.search.cue import judge
from editsearch.search.ranking import rank_text
from editsearch.search.results import QueryOutcome, ranked_results, to_results
from editsearch.search.specs import QueryLineError, check_rank, positive_int, spec_meta, spec_terms, spec_values
from editsearch.search.terms import Term, edit_ids, embed_texts, query_vector, text_only

Options = tuple[int, str | None, str | None, tuple[tuple[str, str], ...]]  # k, where, contains, meta items
Pending = tuple[QueryOutcome, np.ndarray, Sequence[Term], Sequence[Term]]  # a pair query: outcome, vector, its terms


def run_batch(
    index: EditIndex,
    embedder: Embedder,
    specs: Iterable[dict[str, Any] | QueryLineError],
    k: int = 10,
    where: str | None = None,
    contains: str | None = None,
    base: str | Path | None = None,
    rank: str = "hybrid",
    meta: Mapping[str, str] | None = None,
) -> list[QueryOutcome]:
    """Run query specs ({text} | {before, after} | {edit_id}, plus not_text, k, where, contains, meta, rank).

    Texts are embedded in one batch and pair queries sharing (k, where, contains, meta) are searched together;
    text-only queries are ranked one by one by their `rank`. A spec that fails gets an `error` and no results;
    the others still run. Relative image paths are taken from `base`. `k`, `where`, `contains`, `meta` and
    `rank` are the defaults a spec may override. Results come in the specs' order, each judged by the cue.
    """
    specs = list(specs)
    prepare_batch(embedder, [s for s in specs if isinstance(s, dict)])
    defaults = {"k": k, "where": where, "contains": contains, "meta": meta, "rank": rank}
    folder = Path(base) if base is not None else None
    outcomes: list[QueryOutcome] = []
    groups: dict[Options, list[Pending]] = {}
    for spec in specs:
        if isinstance(spec, QueryLineError):
            outcomes.append(QueryOutcome({}, error=spec.error))
            continue
        outcome = QueryOutcome(dict(spec))
        outcomes.append(outcome)
        try:
            _start(index, embedder, outcome, spec, defaults, folder, groups)
        except EditSearchError as e:
            outcome.error = str(e)
    for options, members in groups.items():
        _search_group(index, embedder, options, members)
    return outcomes


def prepare_batch(embedder: Embedder, specs: list[dict[str, Any]]) -> None:
    """Embed a batch's texts in one forward and load the model once where pairs need it (a wrong one fails all)."""
    texts = {t for s in specs for t in spec_values(s, "text") + spec_values(s, "not_text") if isinstance(t, str)}
    texts = {t for t in texts if t.strip() and len(t) <= MAX_TEXT_CHARS}  # the others fail their own line
    if texts:
        embed_texts(embedder, sorted(texts))
    if any("before" in s for s in specs) and embedder.tower("vision") is None:
        _ = embedder.model


def _start(
    index: EditIndex,
    embedder: Embedder,
    outcome: QueryOutcome,
    spec: dict[str, Any],
    defaults: dict[str, Any],
    folder: Path | None,
    groups: dict[Options, list[Pending]],
) -> None:
    """Fill in a spec's k and filters; rank and judge a text-only query now, file any other under its group."""
    facets = spec_meta(spec.get("meta", defaults["meta"]))
    filters = (spec.get("where", defaults["where"]), spec.get("contains", defaults["contains"]), facets)
    options = (positive_int(spec.get("k", defaults["k"])), *filters[:2], tuple(sorted((facets or {}).items())))
    outcome.query["k"] = options[0]
    named = zip(("where", "contains", "meta"), filters, strict=True)
    outcome.query.update({name: v for name, v in named if v})
    positive, negative = spec_terms(spec, folder)
    vector = query_vector(index, embedder, positive, negative)
    if text_only(positive, negative):
        how = check_rank(spec.get("rank", defaults["rank"]))
        outcome.results = ranked_results(rank_text(index, vector, options[0], how, *filters[:2], meta=facets))
        judge(index, embedder, outcome, positive, negative, how)
    else:
        groups.setdefault(options, []).append((outcome, vector, positive, negative))


def _search_group(index: EditIndex, embedder: Embedder, options: Options, members: list[Pending]) -> None:
    """Search the pair queries that share these options in one call, then judge each (a bad filter fails them all)."""
    k, where, contains, facets = options
    matrix = np.stack([vector for _, vector, _, _ in members])
    excludes = [edit_ids(positive, negative) for _, _, positive, negative in members]
    try:
        found = index.search(matrix, k, where=where, contains=contains, exclude=excludes, meta=dict(facets) or None)
    except EditIndexError as e:  # a bad where/contains: every query that used it fails
        found = [[] for _ in members]
        for outcome, *_ in members:
            outcome.error = str(e)
    for (outcome, _, positive, negative), hits in zip(members, found, strict=True):
        outcome.results = to_results(hits)
        judge(index, embedder, outcome, positive, negative)
