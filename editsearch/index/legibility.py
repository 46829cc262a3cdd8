"""Legibility: how well a collection's pair vectors read their own instructions, from a sample of the catalog.

For a sampled edit with an instruction, it is the share of the collection's other distinct instructions whose
EC2T cosine with the pair is below that of its own instruction; legibility is the mean over the sample. 1.0: the
pair model reads every edit; 0.5: no better than chance (photos far from what it was trained on). Ranking sets
how far a text query trusts the stored instructions by it (editsearch.ranking.instruction_trust).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from editsearch.index.instruction_index import id_matrix, instruction_state

if TYPE_CHECKING:
    from editsearch.index.catalog import Catalog

SAMPLE = 1000  # edits, and distinct instructions, measured
HASH = 2654435761  # Knuth's multiplicative hash (mod 2^32): a deterministic sample spread over the ids


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
    """Legibility of the live edits of `model` (a fingerprint), from about n edits against about n instructions."""
    size = 4 * dim
    edits = catalog.db.execute("SELECT count(*) FROM edits WHERE deleted = 0 AND instruction IS NOT NULL").fetchone()[0]
    instructions = instruction_state(catalog, model, dim)[0]
    rows = catalog.db.execute(
        "SELECT iv.id, v.vector, iv.vector FROM edits e JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
        "JOIN instruction_vectors iv ON iv.model = v.model AND iv.instruction = e.instruction "
        "WHERE e.deleted = 0 AND length(v.vector) = ? AND length(iv.vector) = ? "
        "AND ((e.id * ?) % 4294967296) % ? = 0 LIMIT ?",
        [model, size, size, HASH, max(1, edits // n), n],
    ).fetchall()
    others = catalog.db.execute(
        "SELECT id, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? "
        "AND ((id * ?) % 4294967296) % ? = 0 LIMIT ?",
        [model, size, HASH, max(1, instructions // n), n],
    ).fetchall()
    own_keys, pairs = id_matrix([(key, pair) for key, pair, _ in rows], dim)
    _, own = id_matrix([(key, text) for key, _, text in rows], dim)
    other_keys, other_vectors = id_matrix(others, dim)
    return legibility(pairs, own, own_keys, other_vectors, other_keys)
