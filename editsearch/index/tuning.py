"""Self-tuning of the approximate FAISS types: measure recall@10 against exact search, keep the cheapest setting.

At every build of an `ivf`, `hnsw`, `pq` or `ivfpq-sq8` index, a fixed sample of the index's own vectors is
searched as queries, first exactly (a brute-force scan streamed over the same chunks that fill the index, so
no vector is held twice), then with each setting of the type's search knob from the cheapest up: nprobe
for IVF types, k_factor (the re-rank depth) for `pq`, efSearch for HNSW. The first setting whose recall@10
reaches the target (0.95 by default) is kept (for `ivfpq-sq8`, with its k_factor then halved while the
target holds: fewer reads of the re-rank store), with the recall it measured, in the cache's sidecar; queries
use it unless AnnParams are passed explicitly. This follows autofaiss's parameter search (increase the
knob until the recall target is met, within a speed budget), with the recall measured on the real index
instead of predicted. Each query's own vector is left out of both answers, so a query finding itself
counts for nothing. A setting slower than LATENCY_BUDGET_MS a query ends the sweep: if nothing faster
reached the target, the best setting is kept with `reached` False and a note naming a type that would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from editsearch.index.types import DEFAULT_TARGET_RECALL, Tuning
from editsearch.index.vectors import AnnParams, VectorIndex, omp_threads, sample_positions

K = 10  # recall@K
TUNE_QUERIES = 200  # sampled vectors searched as queries (recall to about ±0.005 near 0.95)
TIMED_QUERIES = 20  # of which this many are timed one at a time, on one thread (the latency of a query)
LATENCY_BUDGET_MS = 20.0  # a setting slower than this a query ends the sweep (twice the 10 ms p50 goal at 1M)
MAX_EF_SEARCH = 4096
MAX_K_FACTOR = 1024
MIN_K_FACTOR = 8  # an IVF-PQ re-ranks at least k × 8 rows
TRUTH_BLOCK = 20_000  # catalog rows scored against the queries at a time
EXACT = Tuning(target=1.0, recall=1.0, note="exact search")


def query_positions(n: int) -> np.ndarray:
    """The positions (ascending) of the vectors a tuning searches as queries."""
    return sample_positions(n, TUNE_QUERIES)


class ExactTopK:
    """The exact top K (by inner product) of fixed queries over streamed (ids, vectors) chunks, leaving each query's
    own id out."""

    def __init__(self, queries: np.ndarray, query_ids: np.ndarray, k: int = K):
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.query_ids = np.asarray(query_ids, dtype=np.int64)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.ids = np.zeros((len(queries), 0), dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Fold one chunk into the running top K."""
        for start in range(0, len(ids), TRUTH_BLOCK):
            block_ids = np.asarray(ids[start : start + TRUTH_BLOCK], dtype=np.int64)
            sims = self.queries @ np.asarray(vectors[start : start + TRUTH_BLOCK], dtype=np.float32).T
            sims[block_ids[None, :] == self.query_ids[:, None]] = -np.inf
            scores = np.concatenate([self.scores, sims], axis=1)
            cand = np.concatenate([self.ids, np.broadcast_to(block_ids, sims.shape)], axis=1)
            keep = min(self.k, scores.shape[1])
            top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
            self.scores = np.take_along_axis(scores, top, axis=1)
            self.ids = np.take_along_axis(cand, top, axis=1)

    def result(self) -> np.ndarray:
        """[queries, K] ids of the true neighbours (-1 where fewer exist)."""
        ids = np.where(np.isfinite(self.scores), self.ids, -1)
        if ids.shape[1] < self.k:
            ids = np.pad(ids, ((0, 0), (0, self.k - ids.shape[1])), constant_values=-1)
        return ids


def exact_neighbours(
    queries: np.ndarray, query_ids: np.ndarray, chunks: Iterable[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The exact top K of the queries over every chunk (ids, vectors), their own ids left out."""
    top = ExactTopK(queries, query_ids)
    for ids, vectors in chunks:
        top.add(ids, vectors)
    return top.result()


def recall_at_k(found: np.ndarray, truth: np.ndarray, query_ids: np.ndarray, live: np.ndarray | None = None) -> float:
    """Mean share of each query's true neighbours among the first K ids found, its own id (and ids not `live`:
    tombstones) left out."""
    if live is not None:
        found = np.where(np.isin(found, live), found, -1)
    hits, total = 0, 0
    for row, true, qid in zip(found, truth, query_ids, strict=True):
        want = set(true[true >= 0].tolist())
        if not want:
            continue
        got = [i for i in row.tolist() if i >= 0 and i != qid][: len(want)]
        hits += len(want.intersection(got))
        total += len(want)
    return hits / total if total else 1.0


def candidates(vi: VectorIndex, base: AnnParams) -> list[dict[str, int]]:
    """The settings a sweep tries for vi's type, cheapest first (each costs more than the one before)."""
    if vi.kind in ("ivf", "ivfpq-sq8"):
        nlist = vi.nlist
        probes = sorted({*(1 << i for i in range(nlist.bit_length()) if 1 << i < nlist), nlist})
        if vi.kind == "ivf":
            return [{"ivf_nprobe": p} for p in probes]
        factors = [f for f in (1 << i for i in range(11)) if base.pq_k_factor < f <= MAX_K_FACTOR]
        return [{"ivfpq_nprobe": p, "pq_k_factor": base.pq_k_factor} for p in probes] + [
            {"ivfpq_nprobe": nlist, "pq_k_factor": f} for f in factors
        ]
    if vi.kind == "hnsw":
        return [{"hnsw_ef_search": ef} for ef in (1 << i for i in range(4, 13)) if ef <= MAX_EF_SEARCH]
    if vi.kind == "pq":
        return [{"pq_k_factor": f} for f in (1 << i for i in range(2, 11)) if f <= MAX_K_FACTOR]
    return []


def tune(
    vi: VectorIndex,
    queries: np.ndarray,
    query_ids: np.ndarray,
    truth: np.ndarray,
    target: float = DEFAULT_TARGET_RECALL,
    base: AnnParams | None = None,
    live: np.ndarray | None = None,
) -> Tuning:
    """Sweep vi's search knob from the cheapest setting until recall@K reaches `target`; leaves vi searching with it.

    `live`: the ids that count (an HNSW or PQ index keeps removed ids as tombstones, as a query over-fetches).
    """
    base = base or AnnParams()
    options = candidates(vi, base)
    if not options or not len(queries):
        vi.use_tuning(replace(EXACT, target=target) if not options else Tuning(target, 1.0), base)
        return vi.tuning  # type: ignore[return-value]
    start = time.perf_counter()

    def recall_now() -> float:
        return recall_at_k(vi.search(queries, _fetch(vi, live))[1], truth, query_ids, live)

    best: tuple[float, dict[str, int], float] | None = None
    chosen = None
    for settings in options:
        vi.set_params(replace(base, **settings))
        ms = _ms_per_query(vi, queries[:TIMED_QUERIES])
        if ms > LATENCY_BUDGET_MS and best is not None:
            break
        rec = recall_now()
        if best is None or rec > best[0]:
            best = (rec, settings, ms)
        if rec >= target:
            chosen = (rec, settings, ms)
            break
    if chosen is not None and vi.kind == "ivfpq-sq8":
        chosen = _fewer_reranked(vi, chosen, base, target, recall_now, queries[:TIMED_QUERIES])
    rec, settings, ms = chosen or best  # type: ignore[misc]
    tuning = Tuning(target, round(rec, 4), settings, chosen is not None, len(queries), round(ms, 3))
    tuning.seconds = round(time.perf_counter() - start, 3)
    if chosen is None:
        tuning.note = shortfall(vi, tuning)
    vi.use_tuning(tuning, base)
    return tuning


def _fewer_reranked(
    vi: VectorIndex,
    chosen: tuple[float, dict[str, int], float],
    base: AnnParams,
    target: float,
    recall_now: Callable[[], float],
    timed: np.ndarray,
) -> tuple[float, dict[str, int], float]:
    """The chosen IVF-PQ setting with the smallest k_factor that still reaches `target` (recall_now() as vi searches
    now): each re-ranked row is a read of the re-rank store, from the page cache or the disk when a reader maps it."""
    factor = chosen[1]["pq_k_factor"] // 2
    while factor >= MIN_K_FACTOR:
        settings = {**chosen[1], "pq_k_factor": factor}
        vi.set_params(replace(base, **settings))
        rec = recall_now()
        if rec < target:
            break
        chosen = (rec, settings, _ms_per_query(vi, timed))
        factor //= 2
    return chosen


def shortfall(vi: VectorIndex, tuning: Tuning) -> str:
    """What to tell a user whose index reached no setting with the target recall."""
    shown = ", ".join(f"{k} {v}" for k, v in tuning.settings.items())
    other = "flat" if vi.kind == "pq" else "pq"
    return (
        f"no {vi.kind} search setting within {LATENCY_BUDGET_MS:g} ms a query reaches recall@{K} {tuning.target:g} "
        f"on this index's own vectors (best {tuning.recall:.3f}, at {shown}); --index-type {other} would "
        f"({'exact' if other == 'flat' else 'its codes do not depend on how the vectors cluster'})"
    )


def _fetch(vi: VectorIndex, live: np.ndarray | None) -> int:
    """How many hits a measured query asks for: K and its own id, over-fetched by the share of tombstones (as
    EditIndex.search does)."""
    if live is None or vi.ntotal <= len(live):
        return K + 1
    return int((K + 1) * vi.ntotal / max(len(live), 1)) + 8


def _ms_per_query(vi: VectorIndex, queries: np.ndarray) -> float:
    """Median milliseconds of one query at a time on one thread (as EditIndex runs a single query)."""
    times = []
    with omp_threads(1):
        for q in queries:
            start = time.perf_counter()
            vi.index.search(q[None], K + 1)
            times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def build_tuned(
    kind: str,
    dim: int,
    ids: np.ndarray,
    load: Any,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    target: float = DEFAULT_TARGET_RECALL,
    params: AnnParams | None = None,
    explicit: bool = False,
) -> VectorIndex:
    """A `kind` index over the streamed chunks (ids, vectors) of these ids, tuned to `target`.

    `load(ids)` returns (ids, vectors) of some ids (the training sample, the tuning queries). With
    `explicit` the index searches with `params` as given, though the tuning is still measured and recorded.
    """
    from editsearch.index.vectors import training_size

    params = params or AnnParams()
    size = training_size(kind, len(ids))
    sample = load(ids[sample_positions(len(ids), size)])[1] if size else None
    vi = VectorIndex.empty(kind, dim, len(ids), sample, params)
    del sample
    truth = ExactTopK(*reversed(load(ids[query_positions(len(ids))]))) if candidates(vi, params) and len(ids) else None
    qids = truth.query_ids if truth is not None else ids[:0]
    for chunk_ids, vectors in chunks:
        vi.add(chunk_ids, vectors)
        if truth is not None:
            truth.add(chunk_ids, vectors)
    vi.order_store_by_list()
    queries = truth.queries if truth is not None else np.zeros((0, dim), np.float32)
    tuning = tune(
        vi, queries, qids, truth.result() if truth is not None else np.zeros((0, K), np.int64), target, params
    )
    if explicit:
        vi.tuning = tuning
        vi.set_params(params)
    return vi


def retune(
    vi: VectorIndex,
    ids: np.ndarray,
    load: Any,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    target: float = DEFAULT_TARGET_RECALL,
    params: AnnParams | None = None,
) -> Tuning:
    """Tune an existing index again (its vectors are `ids`, streamed as chunks); vi then searches with it."""
    params = params or AnnParams()
    qids, queries = load(ids[query_positions(len(ids))]) if candidates(vi, params) else (ids[:0], None)
    if not len(qids):
        return tune(vi, np.zeros((0, vi.dim), np.float32), qids, np.zeros((0, K), np.int64), target, params)
    return tune(vi, queries, qids, exact_neighbours(queries, qids, chunks), target, params, ids)


def measure(vi: VectorIndex, ids: np.ndarray, load: Any, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """recall@K of vi as it searches now, on the same query sample a tuning uses (1.0 for exact types)."""
    if not candidates(vi, vi.params):
        return 1.0
    qids, queries = load(ids[query_positions(len(ids))])
    truth = exact_neighbours(queries, qids, chunks)
    return recall_at_k(vi.search(queries, _fetch(vi, ids))[1], truth, qids, ids)


def as_chunks(ids: Sequence[int], vectors: np.ndarray, size: int = 100_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) chunks of in-memory arrays, for build_tuned and retune."""
    ids = np.asarray(ids, dtype=np.int64)
    for start in range(0, len(ids), size):
        yield ids[start : start + size], vectors[start : start + size]
