"""Query specs, the JSON form of a query (`query --queries FILE.jsonl`, `run_batch`): reading and checking them.

A spec is one object: {"text"} | {"before", "after"} | {"edit_id"}, each a value or a list, plus
"not_text", "k", "where", "contains", "meta" ({KEY: VALUE} metadata facets) and "rank". A line that is not
such an object fails alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editsearch.core.errors import UsageError
from editsearch.core.jsonl import read_jsonl

QUERY_KEYS = ("text", "before", "after", "edit_id", "not_text", "k", "where", "contains", "meta", "rank")
MAX_EDIT_ID = 2**63 - 1  # SQLite's integer range
RANKS = ("pair", "instruction", "hybrid")  # how a text query ranks: see editsearch.search.ranking


@dataclass
class QueryLineError:
    """A line of a queries file that is not a query (invalid JSON, not an object); kept in its place."""

    error: str


def read_queries(path: str | Path) -> list[dict[str, Any] | QueryLineError]:
    """The queries of a JSONL file, one per non-blank line; a bad line becomes a QueryLineError in its place."""
    return [row if isinstance(row, dict) else QueryLineError(f"line {n}: {row}") for n, row in read_jsonl(path)]


def spec_values(spec: dict[str, Any], key: str) -> list[Any]:
    """The values of one key of a query spec as a list (absent: none; a single value or a list of them)."""
    value = spec.get(key)
    return [] if value is None else (list(value) if isinstance(value, list) else [value])


def positive_int(value: Any, what: str = "k") -> int:
    """`value` if it is an integer of at least 1; else UsageError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be a positive integer, got {value!r}")
    return value


def spec_meta(value: Any) -> dict[str, str] | None:
    """A spec's "meta": an object of text values (None when absent); else UsageError."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f'meta must be an object of text values, e.g. {{"family": "sepia"}}, got {value!r}')
    return value


def check_rank(rank: str) -> str:
    """`rank` if it is one of RANKS; else UsageError."""
    if rank not in RANKS:
        raise UsageError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
    return rank


def spec_terms(spec: dict[str, Any], base: Path | None) -> tuple[list[Any], list[str]]:
    """(positive, negative) terms of one query spec; relative image paths are taken from `base` (UsageError)."""
    unknown = set(spec) - set(QUERY_KEYS)
    if unknown:
        raise UsageError(f"unknown query keys: {', '.join(sorted(unknown))}")
    if ("before" in spec) != ("after" in spec):
        raise UsageError("'before' and 'after' go together")
    positive: list[Any] = [_text(t) for t in spec_values(spec, "text")]
    if "before" in spec:
        positive.append((_resolve(spec["before"], base), _resolve(spec["after"], base)))
    for edit_id in spec_values(spec, "edit_id"):
        if not isinstance(edit_id, int) or isinstance(edit_id, bool) or not 0 < edit_id <= MAX_EDIT_ID:
            raise UsageError(f"edit_id must be a positive 64-bit integer, got {edit_id!r}")
        positive.append(edit_id)
    if not positive:
        raise UsageError("a query needs 'text', 'before'+'after' or 'edit_id'")
    return positive, [_text(t) for t in spec_values(spec, "not_text")]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError(f"a text term must be a string, got {value!r}")
    return value


def _resolve(path: Any, base: Path | None) -> str:
    if not isinstance(path, str):
        raise UsageError(f"an image path must be a string, got {path!r}")
    p = Path(path).expanduser()
    return str(p if p.is_absolute() or base is None else base / p)
