"""The `where` sandbox and the facets: what a search filter may read and run, bound to a time budget.

A `where` filter is SQL over the edits' columns, compiled under an authorizer; `contains` is a full-text match and
`meta` metadata facets (KEY=VALUE), both bound as parameters (no SQL is taken from the caller).
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from editsearch.index.catalog.edits import EditTables
from editsearch.index.errors import FilterError

# What a `where` filter may do: read the edits and vectors tables and call functions, nothing else. No
# other table (settings, models, errors, edits_fts: `contains` is the full-text filter), no PRAGMA, no
# recursive CTE; no function that makes large blobs or loads code; no value over FILTER_MAX_LENGTH bytes.
# Checked by an SQLite authorizer when the filter compiles.
FILTER_TABLES = frozenset({"edits", "vectors"})
FILTER_DENIED_FUNCTIONS = frozenset({"load_extension", "randomblob", "zeroblob", "fts3_tokenizer"})
# The time budget is checked between SQLite VM instructions, so it holds only if no one instruction runs
# long: one function call's cost grows with the strings it is given (printf('%.*c', N, 'x') builds N bytes,
# LIKE and GLOB cost about string x pattern), so a filter's values are capped at FILTER_MAX_LENGTH bytes
# (a longer printf() is NULL, other functions fail) and its LIKE/GLOB patterns at FILTER_MAX_PATTERN bytes:
# the dearest single call then takes milliseconds. What checking every 10 instructions costs a filtered scan
# is measured by benchmarks/filter_budget.py (benchmarks/RESULTS.md, "Filter time budget").
FILTER_MAX_LENGTH = 1_000_000
FILTER_MAX_PATTERN = 200
PROGRESS_STEPS = 10  # SQLite VM instructions between two checks of a filter's time budget
FACET_KEYS, FACET_VALUES = 50, 20  # metadata keys a facets query returns, and values per key
FACETS_SQL = """
WITH pairs AS (
    SELECT j.key AS key, j.value AS value, count(*) AS n
    FROM edits e, json_each(e.metadata) j
    WHERE e.deleted = 0 AND json_valid(e.metadata) AND j.type IN ('text', 'integer', 'real', 'true', 'false')
    GROUP BY j.key, j.value),
keys AS (SELECT key, sum(n) AS total FROM pairs GROUP BY key ORDER BY total DESC, key LIMIT ?),
ranked AS (
    SELECT p.key, p.value, p.n, row_number() OVER (PARTITION BY p.key ORDER BY p.n DESC, p.value) AS r
    FROM pairs p JOIN keys k ON k.key = p.key)
SELECT key, value, n FROM ranked WHERE r <= ? ORDER BY key, r
"""
FACET_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a metadata key offered as a facet: a plain name, a JSON path step
MAX_FACETS = 20


class FilterQueries(EditTables):
    """Filtered searches' vector ids, filter checks, and the facets the filters can use."""

    filter_budget_s: float | None  # a `where` filter running longer is stopped (FilterError); None: no limit

    def filtered_vector_ids(
        self, model: str, where: str | None, contains: str | None, meta: Mapping[str, str] | None = None
    ) -> list[int]:
        """Vector ids of live edits matching a SQL `where` over edits' columns, an FTS `contains` and `meta` facets.

        `where` runs as its own statement under the filter authorizer (see FILTER_TABLES), the length
        limit and `filter_budget_s`; `contains` is a bound parameter, matched in a second statement; each
        `meta` KEY=VALUE (a facet: the metadata value equals VALUE, as text or as a number) is bound too.
        """
        live = "SELECT v.id FROM vectors v JOIN ({}) e ON e.id = v.edit_id WHERE v.model = ?"
        found: set[int] | None = None
        try:
            if where:
                with self._restricted() as timed_out:
                    sql = live.format(f"SELECT id FROM edits WHERE deleted = 0 AND ({where})")
                    found = {r[0] for r in self.conn.execute(sql, [model])}
            if contains:
                fts = "SELECT rowid AS id FROM edits_fts WHERE edits_fts MATCH ?"
                cur = self.conn.execute(live.format(fts), [self.db.quote_fts(contains), model])
                matched = {r[0] for r in cur}
                found = matched if found is None else found & matched
            if meta:
                sql, params = facet_sql(meta)
                matched = {r[0] for r in self.conn.execute(live.format(sql), [*params, model])}
                found = matched if found is None else found & matched
        except sqlite3.Error as e:
            reason = f"it ran longer than {self.filter_budget_s:g} s" if where and timed_out() else self._explain(e)
            raise FilterError(f"bad filter (where={where!r}, contains={contains!r}): {reason}") from None
        if found is None:
            return self.live_vector_ids(model)
        return sorted(found)

    def check_filter(self, where: str | None, contains: str | None, meta: Mapping[str, str] | None = None) -> None:
        """Compile a `where` filter under the filter authorizer without running it, check `meta`'s keys; FilterError."""
        if meta:
            facet_sql(meta)
        if not where:
            return
        try:
            with self._restricted():
                self.conn.execute(f"EXPLAIN SELECT id FROM edits WHERE deleted = 0 AND ({where})")
        except sqlite3.Error as e:
            raise FilterError(f"bad filter (where={where!r}, contains={contains!r}): {self._explain(e)}") from None

    def _explain(self, error: sqlite3.Error) -> str:
        """A filter's SQLite error; for an unknown column, with the columns and metadata keys there are."""
        if "no such column" not in str(error):
            return str(error)
        keys = ", ".join(self.metadata_keys()) or "none"
        return (
            f"{error}; columns: {', '.join(self.edit_columns())}; "
            f"metadata keys (use json_extract(metadata, '$.KEY')): {keys}"
        )

    def metadata_keys(self, sample: int = 10_000, limit: int = FACET_KEYS) -> list[str]:
        """The metadata keys of the first `sample` live edits, sorted (at most `limit`)."""
        cur = self.conn.execute(
            "SELECT DISTINCT j.key FROM (SELECT metadata FROM edits WHERE deleted = 0 AND json_valid(metadata) "
            "LIMIT ?) e, json_each(e.metadata) j WHERE j.key IS NOT NULL ORDER BY 1 LIMIT ?",
            [sample, limit],
        )
        return [row[0] for row in cur]

    def facets(self, keys: int = FACET_KEYS, values: int = FACET_VALUES) -> dict[str, list[dict[str, Any]]]:
        """The most common scalar values of each metadata key of the live edits: {key: [{"value", "count"}]}.

        At most `keys` keys (the most used first) and `values` values each (the most common first), in one
        scan of the catalog.
        """
        cur = self.conn.execute(FACETS_SQL, [keys, values])
        out: dict[str, list[dict[str, Any]]] = {}
        for key, value, count in cur:
            out.setdefault(key, []).append({"value": value, "count": count})
        return out

    @contextmanager
    def _restricted(self) -> Iterator[Callable[[], bool]]:
        """Run a filter under the filter authorizer, the length limit and the time budget; yields 'timed out?'."""
        conn = self.conn
        deadline = None if self.filter_budget_s is None else time.monotonic() + self.filter_budget_s
        expired = False

        def over_budget() -> int:
            nonlocal expired
            expired = deadline is not None and time.monotonic() > deadline
            return int(expired)

        length = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, FILTER_MAX_LENGTH)
        pattern = conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, FILTER_MAX_PATTERN)
        conn.set_authorizer(_filter_authorizer)
        conn.set_progress_handler(over_budget, PROGRESS_STEPS)
        try:
            yield lambda: expired
        finally:
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, pattern)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length)


def _filter_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """SQLite authorizer of filters: SELECT, reads of the search tables, and the functions not denied."""
    if action == sqlite3.SQLITE_SELECT:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ and arg1 in FILTER_TABLES:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in FILTER_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


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
