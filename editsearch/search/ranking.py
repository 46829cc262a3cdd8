"""Instruction-aware ranking of a text query: EC2T (the pair) fused with text↔instruction cosine.

Candidates are the top max(CANDIDATES, 2k) edits by the pair (the pair FAISS cache, with the query's filters)
together with the edits, under the same filters, of as many instructions nearest the query, found in the
instruction vectors' own FAISS cache (one row per distinct instruction, editsearch.index.instruction_index);
rank "pair" takes the pair's top k alone.
Every candidate's instruction cosine is exact, read from the catalog; its pair cosine is the pair cache's
score (exact, or within about 1e-3 of it for ivfpq-sq8) or, for an edit found by its instruction, computed
exactly from its stored vector. The fusion ranks that union.

The default fusion is adaptive: a convex mix of the two cosines whose instruction share is set per query by
how far each component spreads the candidates apart (`instruction_weight`), and per collection by how well
its pair vectors read their own instructions (`instruction_trust`, from the index's legibility). A query
worded unlike every stored instruction gets instruction cosines that are all alike, so it leans on the pair;
a query that clearly matches some instructions, or whose pair cosines are flat, leans on the instructions;
and a collection whose photos the pair model reads poorly (legibility near chance) trusts its instructions
more. The fused score stays a cosine, comparable across queries.

An edit without an instruction vector is judged by its pair alone: its missing instruction component is
replaced by its pair component (the same rank under RRF, the same cosine under a weighted sum), so it is
ranked, not dropped. Instruction cosines run higher than EC2T, so edits with an instruction still tend to come
first (benchmarks/RESULTS.md, "Instruction-aware ranking"); under rank "instruction" they all come first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.index.catalog import EditRow
from editsearch.index.instruction_index import InstructionIndex
from editsearch.index.searcher import Hit, edits_for_instructions
from editsearch.index.store import EditIndex
from editsearch.search.specs import RANKS

FUSIONS = ("adaptive", "weighted", "rrf")
# Adaptive is the default: on the synthetic held-out set, its phrasing-shift queries and the real pairs it is
# ahead of the fixed 0.5 / 0.5 sum and of RRF on top-1, hit@5 and mAP, but for the real pairs' hit@5, where the
# fixed sum reaches 1.000 too (benchmarks/RESULTS.md, "Instruction-aware ranking"). RRF throws away how far apart
# the scores are; the fixed sum lets a query's poor instruction match weigh as much as a good pair match.
DEFAULT_FUSION = "adaptive"
RRF_K = 60  # the usual reciprocal-rank-fusion constant (Cormack et al. 2009)
PAIR_WEIGHT = 0.5  # the pair's share of the fixed weighted cosine sum
# Instruction spread's worth against the pair's in `instruction_weight`: TRUST_SCALE · odds ** TRUST_POWER, the
# odds being (1 − legibility) / (legibility − 0.5), how far the pair model is from reading the collection.
# Fitted on training wordings only (`python benchmarks/hybrid.py --tune`): training-split pairs,
# training-template instructions, queries re-worded by the data generator's paraphrase module, pair vectors
# mixed with noise from none to nearly all (legibility 0.99 to 0.63).
TRUST_SCALE = 0.75
TRUST_POWER = 0.6
LEGIBILITY_RANGE = (0.6, 0.995)  # legibility is clipped to about the range the fit saw
CANDIDATES = 100  # candidates taken from each signal (at least 2k)


@dataclass
class Ranked:
    """One fused hit: the ranking score, its two components (instruction None: none stored) and the edit."""

    score: float
    pair: float
    instruction: float | None
    edit: EditRow


def instruction_trust(legibility: float | None, scale: float = TRUST_SCALE, power: float = TRUST_POWER) -> float:
    """The adaptive fusion's trust in the instructions of a collection of this legibility (None: none)."""
    if legibility is None:
        return 0.0
    low, high = LEGIBILITY_RANGE
    clipped = min(max(legibility, low), high)
    return scale * ((1 - clipped) / (clipped - 0.5)) ** power


def fuse(
    pair: np.ndarray, instruction: np.ndarray, method: str = DEFAULT_FUSION, trust: float | None = None
) -> np.ndarray:
    """Fused scores of candidates [..., N] from pair and instruction cosines (NaN: no instruction).

    `trust` (`instruction_trust` of the collection) is what the adaptive fusion needs; the others ignore it.
    """
    filled = np.where(np.isnan(instruction), pair, instruction)
    if method == "adaptive":
        if trust is None:
            raise UsageError("the adaptive fusion needs the collection's instruction trust")
        weight = instruction_weight(pair, instruction, trust)[..., None]
        return (1 - weight) * pair + weight * filled
    if method == "weighted":
        return PAIR_WEIGHT * pair + (1 - PAIR_WEIGHT) * filled
    if method != "rrf":
        raise UsageError(f"fusion must be one of {', '.join(FUSIONS)}, got {method!r}")
    return 1.0 / (RRF_K + _ranks(pair)) + 1.0 / (RRF_K + _ranks(filled))


def instruction_weight(pair: np.ndarray, instruction: np.ndarray, trust: float) -> np.ndarray:
    """Per query [...], the instruction's share of the mix: trust·σ_instr / (trust·σ_instr + σ_pair).

    σ is the standard deviation of a component's cosines over the candidates (the instruction's over those
    that have one). A component that scores every candidate alike says nothing about this query; fewer than
    two instructions, or no spread at all, leave the pair alone (share 0).
    """
    has = ~np.isnan(instruction)
    count = np.maximum(has.sum(axis=-1), 1)
    mean = np.where(has, instruction, 0.0).sum(axis=-1) / count
    spread = np.sqrt((np.where(has, instruction - mean[..., None], 0.0) ** 2).sum(axis=-1) / count)
    trusted = trust * spread
    total = trusted + pair.std(axis=-1)
    return np.divide(trusted, total, out=np.zeros_like(total, dtype=np.float64), where=total > 0)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score along the last axis, best (highest) first."""
    order = np.argsort(-scores, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[-1] + 1), axis=-1)
    return ranks.astype(np.float64)


def rank_text(
    index: EditIndex,
    query: np.ndarray,
    k: int,
    rank: str,
    where: str | None = None,
    contains: str | None = None,
    exclude: set[int] | None = None,
    meta: Mapping[str, str] | None = None,
) -> list[Ranked]:
    """The top k edits for a text query vector under `rank` (pair, instruction or hybrid), best first."""
    instructions = index.instruction_matrix()  # also for rank=pair: the results report both components
    fetch = k if rank == "pair" or not len(instructions) else max(CANDIDATES, 2 * k)
    pool = _pool(index, instructions, query, k, fetch, (where, contains, meta), exclude or set())
    return _ordered(index, pool, rank)[:k]


def best_scores(index: EditIndex, queries: np.ndarray) -> list[dict[str, float | None]]:
    """What the best result of each text query vector [Q, D] scores under each rank (pair, instruction, hybrid), as
    `rank_text` with k = 1 gives it, from one pool of candidates each (both caches searched once for all the
    queries); None: the index has no edits."""
    instructions = index.instruction_matrix()
    fetch = max(CANDIDATES, 2) if len(instructions) else 1
    found = index.search(queries, fetch)
    texts = instructions.top_texts_of(queries, fetch) if fetch > 1 else [[] for _ in queries]
    out = []
    for query, hits, near in zip(queries, found, texts, strict=True):
        pool = _gather(index, instructions, query, hits, near, fetch, (None, None, None), set())
        out.append({rank: next((r.score for r in _ordered(index, pool, rank)), None) for rank in RANKS})
    return out


def _pool(
    index: EditIndex,
    instructions: InstructionIndex,
    query: np.ndarray,
    k: int,
    fetch: int,
    filters: tuple[str | None, str | None, Mapping[str, str] | None],
    exclude: set[int],
) -> list[Ranked]:
    """The candidates of a text query, unordered, scored 0: the top `fetch` by the pair and, when fetch > k, the edits
    of the `fetch` nearest instructions, each with its exact pair and instruction cosines."""
    where, contains, meta = filters
    hits = index.search(query, fetch, where=where, contains=contains, exclude=[exclude], meta=meta)[0]
    near = instructions.top_texts(query, fetch) if fetch > k else []
    return _gather(index, instructions, query, hits, near, fetch, filters, exclude)


def _gather(
    index: EditIndex,
    instructions: InstructionIndex,
    query: np.ndarray,
    hits: list[Hit],
    near: list[str],
    fetch: int,
    filters: tuple[str | None, str | None, Mapping[str, str] | None],
    exclude: set[int],
) -> list[Ranked]:
    """A query's pool from its pair hits and its nearest instructions (their edits join, with exact pair cosines)."""
    pair = {h.edit["id"]: h.score for h in hits}
    rows = {h.edit["id"]: h.edit for h in hits}
    if near:  # the edits of the nearest instructions join the candidates, with their exact pair cosines
        for edit, vector in edits_for_instructions(index.caches, near, fetch, *filters):
            if edit["id"] not in rows and edit["id"] not in exclude:
                rows[edit["id"]] = edit
                pair[edit["id"]] = float(vector @ query)
    ids = list(rows)
    instr = instructions.scores(query, [rows[i]["instruction"] for i in ids])
    return [Ranked(0.0, pair[i], s, rows[i]) for i, s in zip(ids, instr, strict=True)]


def _ordered(index: EditIndex, pool: list[Ranked], rank: str) -> list[Ranked]:
    """The candidates scored under `rank` and sorted, best first."""
    pair = np.array([r.pair for r in pool])
    instr = [r.instruction for r in pool]
    if rank == "pair" or not any(s is not None for s in instr):
        scores = pair
    elif rank == "instruction":
        scores = np.array([p if s is None else s for p, s in zip(pair, instr, strict=True)])
    else:
        scores = fuse(
            pair, np.array([np.nan if s is None else s for s in instr]), trust=instruction_trust(index.legibility())
        )
    ranked = [replace(r, score=float(s)) for r, s in zip(pool, scores, strict=True)]
    if rank == "instruction":  # edits with an instruction first; the others by their pair, after them
        ranked.sort(key=lambda r: (r.instruction is None, -round(r.score, 6), r.edit["id"]))
    else:
        ranked.sort(key=lambda r: (-round(r.score, 9), r.edit["id"]))
    return ranked
