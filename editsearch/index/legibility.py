"""Legibility: how well a collection's pair vectors read their own instructions, from a sample of the catalog.

For a sampled edit with an instruction, it is the share of the collection's other distinct instructions whose
EC2T cosine with the pair is below that of its own instruction; legibility is the mean over the sample. 1.0: the
pair model reads every edit; 0.5: no better than chance (photos far from what it was trained on). Ranking sets
how far a text query trusts the stored instructions by it (editsearch.search.ranking.instruction_trust).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.index.instruction_index import id_matrix

if TYPE_CHECKING:
    from editsearch.index.catalog import Catalog

SAMPLE = 1000  # edits, and distinct instructions, measured
DRAW = 4  # ids drawn a wanted row in the first round
LOOKUPS = 500  # ids looked up a statement


def legibility(
    pairs: np.ndarray, own: np.ndarray, own_keys: np.ndarray, others: np.ndarray, other_keys: np.ndarray
) -> float | None:
    """Mean share of the other instructions each pair scores below its own (None: nothing to compare)."""
    if not len(pairs) or not len(others):
        return None
    own_score = np.einsum("nd,nd->n", pairs, own)[:, None]
    scores = pairs @ others.T
    valid = own_keys[:, None] != other_keys[None, :]  # an instruction is not its own rival
    counted = valid.sum(axis=1)
    keep = counted > 0
    if not keep.any():
        return None
    below = ((scores < own_score) & valid).sum(axis=1)
    return float((below[keep] / counted[keep]).mean())


def legibility_of(pairs: np.ndarray, instructions: Sequence[str | None], vectors: np.ndarray) -> float | None:
    """Legibility of pairs in memory, each with its instruction (None: none) and that text's vector, row by row."""
    has = [i for i, text in enumerate(instructions) if text]
    first: dict[str, int] = {}
    for i in has:
        first.setdefault(instructions[i], i)  # type: ignore[arg-type]
    key = {text: k for k, text in enumerate(first)}
    return legibility(
        pairs[has],
        vectors[has],
        np.asarray([key[instructions[i]] for i in has], dtype=np.int64),  # type: ignore[index]
        vectors[list(first.values())],
        np.arange(len(first), dtype=np.int64),
    )


def sample_legibility(catalog: Catalog, model: str, dim: int, n: int = SAMPLE) -> float | None:
    """Legibility of the live edits of `model` (a fingerprint), from about n edits against about n instructions.

    Both samples are drawn by id at random (a fixed seed), so a sample costs about n lookups, not a scan.
    """
    rows = own_instruction_rows(catalog, model, dim, n)
    others = draw_rows(
        catalog,
        "SELECT id, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? AND id IN ({ids})",
        [model, 4 * dim],
        "instruction_vectors",
        n,
    )
    own_keys, pairs = id_matrix([(key, pair) for key, pair, _ in rows], dim)
    _, own = id_matrix([(key, text) for key, _, text in rows], dim)
    other_keys, other_vectors = id_matrix(others, dim)
    return legibility(pairs, own, own_keys, other_vectors, other_keys)


def own_instruction_rows(catalog: Catalog, model: str, dim: int, n: int) -> list[tuple[int, bytes, bytes]]:
    """(instruction vector id, pair vector, own instruction's vector) of about n live edits drawn at random."""
    size = 4 * dim  # CROSS JOIN keeps SQLite to this order: the drawn edits first, then their rows by key
    return draw_rows(
        catalog,
        "SELECT iv.id, v.vector, iv.vector FROM edits e CROSS JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
        "CROSS JOIN instruction_vectors iv ON iv.model = v.model AND iv.instruction = e.instruction "
        "WHERE e.deleted = 0 AND length(v.vector) = ? AND length(iv.vector) = ? AND e.id IN ({ids})",
        [model, size, size],
        "edits",
        n,
    )


def drawn_befores(catalog: Catalog, n: int) -> list[tuple[str, set[int]]]:
    """Up to n before images of live edits drawn at random: (locator, the ids of every edit of that photo)."""
    rows = draw_rows(
        catalog, "SELECT id, before, before_hash FROM edits WHERE deleted = 0 AND id IN ({ids})", [], "edits", n
    )
    same = "SELECT id FROM edits WHERE before_hash = ?"
    return [(locator, {i for (i,) in catalog.conn.execute(same, [digest])}) for _, locator, digest in rows[:n]]


def draw_rows(catalog: Catalog, sql: str, params: list[Any], table: str, n: int) -> list[tuple[Any, ...]]:
    """About n rows (up to LOOKUPS more) of `sql` for ids of `table` drawn at random, `sql` ending in `id IN ({ids})`.

    It draws DRAW × n ids first, and 16 times more each round that found fewer than n rows (a table where few
    rows qualify), until it has drawn every id.
    """
    top = catalog.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
    rng = np.random.default_rng(0)
    want = DRAW * n
    while True:
        ids = rng.permutation(top) + 1 if want >= top else rng.choice(top, want, replace=False) + 1
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), LOOKUPS):
            chunk = ids[start : start + LOOKUPS].tolist()
            rows += catalog.conn.execute(sql.format(ids=",".join("?" * len(chunk))), [*params, *chunk]).fetchall()
            if len(rows) >= n:  # whole statements only: a statement's rows come in id order, not drawn order
                return rows
        if want >= top:
            return rows
        want *= 16
