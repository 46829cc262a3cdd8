"""What a search returns: ranked edits (SearchResult) and one query's outcome with its weak-match cue (QueryOutcome)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from editsearch.index.store import Hit
from editsearch.search.ranking import Ranked


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
    """One query: the query as run (k and filters filled in), its results, or why it failed; and its cue."""

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


def to_results(hits: Sequence[Hit]) -> list[SearchResult]:
    """SearchResults (ranked from 1) from index hits."""
    return [
        SearchResult(
            rank, h.edit["id"], h.score, h.edit["instruction"], h.edit["before"], h.edit["after"], h.edit["metadata"]
        )
        for rank, h in enumerate(hits, start=1)
    ]


def ranked_results(ranked: Sequence[Ranked]) -> list[SearchResult]:
    """SearchResults (ranked from 1) from a text query's fused hits, each with its pair and instruction scores."""
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
