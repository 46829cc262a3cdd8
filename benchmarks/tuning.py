"""Self-tuned FAISS caches: recall@10 and p50 of each approximate type with the settings it chose for itself,
and the instruction component of hybrid ranking at many distinct instructions.

    python benchmarks/tuning.py types --n 100000 --d 128 --centres 1000,10000
    python benchmarks/tuning.py instructions --n 300000 --d 128

`types`: SYNTHETIC unit vectors around N random centres (benchmarks/scale.py's `clustered:N` data), built
by `editsearch.index.tuning.build_tuned` as a build does (target 0.95); then held-out queries (not in the
index) are searched one at a time with NO search parameter passed: each index searches with what it chose.
Recall@10 is against exact search over the same vectors.
`instructions`: that many distinct synthetic instruction vectors written through the catalog's
instruction_vectors table of a fresh index (type `auto`), the instruction cache built and tuned as a build
does, then the instruction component of a text query timed: top_texts (k-NN) + scores (catalog reads).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import QUERIES, K, chunk_vectors, chunks, exact_top_k, memory, recall  # noqa: E402

CANDIDATES = 100  # instructions fetched per text query by ranking (editsearch.search.ranking.CANDIDATES)


def bench_types(args: argparse.Namespace) -> None:
    from editsearch.index.tuning import build_tuned

    for centres in map(int, args.centres.split(",")):
        data = f"clustered:{centres}"
        queries = chunk_vectors(data, args.d, 1, QUERIES)
        truth = exact_top_k(data, args.d, args.n, queries)
        ids = np.arange(1, args.n + 1)

        def load(some: np.ndarray, data: str = data) -> tuple[np.ndarray, np.ndarray]:
            rows = np.concatenate([x for _, x in chunks(data, args.d, args.n)])
            return some, rows[some - 1]

        for kind in args.types.split(","):
            start = time.perf_counter()
            stream = ((np.arange(s + 1, s + len(x) + 1), x) for s, x in chunks(data, args.d, args.n))
            vi = build_tuned(kind, args.d, ids, load, stream)
            build_s = time.perf_counter() - start
            t = vi.tuning
            times, found = [], []
            for q in queries[:5]:
                vi.search(q[None], K)
            for q in queries:
                s = time.perf_counter()
                found.append(vi.search(q[None], K)[1][0] - 1)
                times.append((time.perf_counter() - s) * 1000)
            p50 = float(np.median(times))
            print(
                f"{data} n={args.n:,} d={args.d} {kind}: chose {t.settings} (build-time recall@10 {t.recall}, "
                f"reached {t.reached}, tuning {t.seconds} s of {build_s:.0f} s build); held-out queries: "
                f"recall@10 {recall(found, truth):.3f}, p50 {p50:.2f} ms",
                flush=True,
            )
            if t.note:
                print(f"  note: {t.note}", flush=True)


def bench_instructions(args: argparse.Namespace) -> None:
    from editsearch.index.instructions import save_instruction_vectors
    from editsearch.index.store import EditIndex

    root = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    with EditIndex.open(root, create=True) as index:
        index.set_index_type("auto")
        index.catalog.bind_model("synthetic", "synthetic-fp", args.d, False, {})
        start = time.perf_counter()
        for s in range(0, args.n, 50_000):
            x = chunk_vectors("clustered:1000", args.d, 2 + s // 50_000, min(50_000, args.n - s))
            save_instruction_vectors(index.catalog, "synthetic-fp", [f"instruction {s + i}" for i in range(len(x))], x)
        print(f"wrote {args.n:,} instruction vectors in {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        built = index.instruction_matrix()
        t = built.vectors.tuning
        print(
            f"instruction cache: {built.vectors.kind}, built and tuned in {time.perf_counter() - start:.1f} s, "
            f"chose {t.settings} (recall@10 {t.recall}); {memory()}",
            flush=True,
        )
    with EditIndex.open(root) as index:
        start = time.perf_counter()
        instructions = index.instruction_matrix()
        print(f"reader opened the cache in {time.perf_counter() - start:.2f} s; {memory()}", flush=True)
        queries = chunk_vectors("clustered:1000", args.d, 1, QUERIES)
        times = []
        for q in queries:
            s = time.perf_counter()
            texts = instructions.top_texts(q, CANDIDATES)
            instructions.scores(q, texts)
            times.append((time.perf_counter() - s) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"instruction component of one text query: p50 {p50:.2f} ms, p95 {p95:.2f} ms; {memory()}", flush=True)
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("types")
    t.add_argument("--n", type=int, default=100_000)
    t.add_argument("--d", type=int, default=128)
    t.add_argument("--centres", default="1000,10000")
    t.add_argument("--types", default="ivf,pq,ivfpq-sq8,hnsw")
    i = sub.add_parser("instructions")
    i.add_argument("--n", type=int, default=300_000)
    i.add_argument("--d", type=int, default=128)
    args = parser.parse_args()
    {"types": bench_types, "instructions": bench_instructions}[args.what](args)


if __name__ == "__main__":
    main()
