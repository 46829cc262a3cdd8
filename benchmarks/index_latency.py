"""Query latency (p50/p95, one query at a time) and recall@10 of Flat vs IVF vs HNSW vs PQ, side by side.

    python benchmarks/index_latency.py            # 100k and 1M vectors, d = 384 and 768
    python benchmarks/index_latency.py --quick    # 20k and 100k, d = 384
    python benchmarks/index_latency.py --sizes 1000000 --types flat,ivf,pq   # some types only

Goal: <= 10 ms p50 at 1M vectors with recall@10 >= 0.95. Each ANN type is swept over its
search knob (IVF nprobe, HNSW efSearch, PQ re-ranking k_factor); the cheapest setting reaching the recall
goal is reported. Each setting is warmed up with a few queries before it is timed.
Two data sets: `uniform` (i.i.d. random unit vectors: the worst case for any ANN,
since every neighbour is almost as far as any other point) and `clustered` (unit vectors around 1,000
random centres, closer to real embeddings, which have structure). HNSW takes very long to build over
1M vectors on 2 cores (about 1,000 vectors/s at d=384 here), so by default it is built over at most --hnsw-max
vectors, marked hnsw* with that size in its row; --hnsw-max 0 builds it over everything.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editsearch.index.vectors import AnnParams, VectorIndex, ivf_nlist, pq_m  # noqa: E402

_HNSW: dict[tuple[str, int, int], tuple[VectorIndex, float]] = {}  # (data, d, size) -> (index, build s)
K = 10
RECALL_GOAL = 0.95
NPROBES = (8, 16, 32, 64, 128, 256, 512)
EF_SEARCHES = (16, 32, 64, 128, 256, 512)
K_FACTORS = (8, 16, 32, 64, 128, 256)
TYPES = ("flat", "ivf", "hnsw", "pq")
WARMUP = 5
KNOBS = {"nprobe": "ivf_nprobe", "ef": "hnsw_ef_search", "k_factor": "pq_k_factor"}  # sweep knob -> AnnParams


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_data(kind: str, n: int, d: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(database [n, d], queries [n_queries, d]) of unit float32 vectors; queries are held out.

    Rows come in chunks with their own seeds, so the first m rows are the same for every n.
    """
    centres = unit(np.random.default_rng([seed, 0]).standard_normal((1000, d), dtype=np.float32))

    def rows(count: int, stream: int) -> np.ndarray:
        rng = np.random.default_rng([seed, stream])
        x = rng.standard_normal((count, d), dtype=np.float32)
        if kind != "uniform":
            x *= np.float32(1.2 / np.sqrt(d))
            x += centres[rng.integers(0, len(centres), count)]
        return unit(x)

    chunk = 100_000
    base = np.concatenate([rows(min(chunk, n - s), 2 + s // chunk) for s in range(0, n, chunk)])
    return base, rows(n_queries, 1)


def exact_top_k(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Ground-truth ids [n_queries, K] (batched exact search)."""
    import faiss

    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    return flat.search(queries, K)[1]


def timed_search(index: VectorIndex, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-query seconds, ids [n, K]) searching one query at a time, as a CLI or server query does."""
    for q in queries[:WARMUP]:
        index.search(q[None], K)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        _, ids = index.search(q[None], K)
        times.append(time.perf_counter() - start)
        found.append(ids[0])
    return np.asarray(times), np.asarray(found)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-K found."""
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def row(name: str, n: int, d: int, data: str, setting: str, times: np.ndarray, rec: float, build_s: float) -> str:
    p50, p95 = np.percentile(times * 1000, [50, 95])
    return f"{data:9s} {n:>9,d} {d:4d}  {name:5s} {setting:14s} {p50:8.2f} {p95:8.2f} {rec:7.3f} {build_s:8.1f}"


def bench(
    data: str, n: int, d: int, n_queries: int, hnsw_max: int, flat_queries: int, types: set[str], params: AnnParams
) -> list[str]:
    """All rows for one (data set, size, dim)."""
    base, queries = make_data(data, n, d, n_queries)
    truth = exact_top_k(base, queries)
    ids = np.arange(n, dtype=np.int64)
    lines, flat_p50 = [], 0.0

    if "flat" in types:
        start = time.perf_counter()
        flat = VectorIndex.build("flat", d, ids, base)
        build_s = time.perf_counter() - start
        times, found = timed_search(flat, queries[:flat_queries])
        flat_p50 = float(np.median(times))
        lines.append(row("flat", n, d, data, "exact", times, recall(found, truth[:flat_queries]), build_s))
        del flat

    for kind, knob, values in (("ivf", "nprobe", NPROBES), ("pq", "k_factor", K_FACTORS)):
        if kind in types:
            start = time.perf_counter()
            index = VectorIndex.build(kind, d, ids, base, params)
            build_s = time.perf_counter() - start
            lines += sweep(
                index, kind, knob, values, queries, truth, n, d, data, build_s, flat_p50, index.nlist, params
            )
            del index

    if "hnsw" not in types:
        return lines
    m = n if not hnsw_max else min(n, hnsw_max)
    key = (data, d, m)
    if key in _HNSW and m < n:
        return lines  # the same subset and queries were measured at a smaller n already
    if key not in _HNSW:
        start = time.perf_counter()
        _HNSW[key] = (VectorIndex.build("hnsw", d, ids[:m], base[:m], params), time.perf_counter() - start)
    hnsw, build_s = _HNSW[key]
    sub_truth = truth if m == n else exact_top_k(base[:m], queries)
    label = "hnsw" if m == n else "hnsw*"
    flat_ref = flat_p50 if m == n else 0.0  # no exact reference at the smaller size: no speed-up shown
    lines += sweep(hnsw, label, "ef", EF_SEARCHES, queries, sub_truth, m, d, data, build_s, flat_ref, 0, params)
    return lines


def sweep(
    index: VectorIndex, name: str, knob: str, values: tuple[int, ...], queries: np.ndarray, truth: np.ndarray,
    n: int, d: int, data: str, build_s: float, flat_p50: float, nlist: int, params: AnnParams,
) -> list[str]:  # fmt: skip
    """Rows for each knob value, until recall passes the goal twice or the ANN is slower than exact Flat."""
    lines, passed = [], 0
    for value in values:
        if nlist and value > nlist:
            break
        index.set_params(replace(params, **{KNOBS[knob]: value}))
        times, found = timed_search(index, queries)
        rec = recall(found, truth)
        speedup = flat_p50 / float(np.median(times)) if flat_p50 else float("nan")
        setting = f"{knob}={value}" + (f"/{nlist}" if nlist else "")
        shown = f"   {speedup:6.1f}x flat" if flat_p50 else ""
        lines.append(row(name, n, d, data, setting, times, rec, build_s) + shown)
        passed += rec >= RECALL_GOAL
        if passed >= 2 or speedup < 1:
            break
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k and 100k vectors, d=384 only, 50 queries")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--dims", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--data", default="uniform,clustered", help="uniform, clustered or both (comma list)")
    parser.add_argument("--queries", type=int, default=100, help="query vectors per configuration")
    parser.add_argument("--flat-queries", type=int, default=30, help="queries timed on exact Flat (slow)")
    parser.add_argument("--hnsw-max", type=int, default=20_000, help="build HNSW over at most this many (0: all)")
    parser.add_argument("--types", default=",".join(TYPES), help="index types to measure (comma list)")
    parser.add_argument(
        "--pq-dims-per-code",
        type=int,
        default=AnnParams.pq_dims_per_code,
        help="dimensions per 4-bit PQ sub-quantizer (the library's default: 2)",
    )
    args = parser.parse_args()
    import faiss

    if args.quick:
        args.queries = min(args.queries, 50)
    sizes = args.sizes or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    dims = args.dims or ([384] if args.quick else [384, 768])
    types = set(args.types.split(","))
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; K={K}; one query at a time;")
    params = AnnParams(pq_dims_per_code=args.pq_dims_per_code)
    print(f"ivf nlist ~ sqrt(n) ({ivf_nlist(1_000_000)} at 1M); hnsw M={params.hnsw_m}, "
          f"efConstruction={params.hnsw_ef_construction}; hnsw* = built over the first {args.hnsw_max:,d}; "
          f"pq: {', '.join(f'{pq_m(d, args.pq_dims_per_code)}x4 fast-scan at d={d}' for d in dims)}, "
          "exact re-ranking")  # fmt: skip
    print(f"{'data':9s} {'n':>9s} {'d':>4s}  {'index':5s} {'setting':14s} {'p50 ms':>8s} {'p95 ms':>8s} "
          f"{'recall':>7s} {'build s':>8s}")  # fmt: skip
    for data in args.data.split(","):
        for d in dims:
            for n in sizes:
                for line in bench(data, n, d, args.queries, args.hnsw_max, args.flat_queries, types, params):
                    print(line, flush=True)


if __name__ == "__main__":
    main()
