"""Facet filters: metadata KEY=VALUE conditions, bound as parameters (no SQL is taken from the caller)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from editsearch.index.errors import FilterError

FACET_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a metadata key offered as a facet: a plain name, a JSON path step
MAX_FACETS = 20


def facet_sql(meta: Mapping[str, str]) -> tuple[str, list[object]]:
    """The SELECT of live edit ids whose metadata matches every KEY=VALUE, and its parameters; FilterError if bad.

    A value matches as text, or as a number when it reads as one (a facet of 1.0 is offered as "1").
    """
    if len(meta) > MAX_FACETS:
        raise FilterError(f"bad filter: at most {MAX_FACETS} metadata facets, got {len(meta)}")
    clauses, params = [], []
    for key, value in meta.items():
        if not isinstance(key, str) or not FACET_KEY.fullmatch(key):
            raise FilterError(f"bad filter: metadata key {key!r} is not a plain name (letters, digits, _)")
        if not isinstance(value, str):
            raise FilterError(f"bad filter: the value of metadata key {key!r} must be text, got {value!r}")
        path = "$." + key
        clauses.append("(CAST(json_extract(metadata, ?) AS TEXT) = ? OR json_extract(metadata, ?) = ?)")
        params += [path, value, path, _number(value)]
    where = " AND ".join(clauses) or "1"
    return f"SELECT id FROM edits WHERE deleted = 0 AND json_valid(metadata) AND {where}", params


def parse_facets(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE strings (the CLI's --meta) as a facet mapping; FilterError naming a malformed one."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise FilterError(f"bad filter: --meta takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    facet_sql(out)
    return out


def _number(value: str) -> float | str:
    """The value as a finite number where it reads as one, else itself."""
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value
