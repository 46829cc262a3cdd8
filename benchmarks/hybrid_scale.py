"""Hybrid ranking at scale: one distinct instruction per edit, both behind their self-tuned FAISS caches.

    python benchmarks/hybrid_scale.py [--n 1000000] [--queries 200] [--type auto] [--keep DIR]
    python benchmarks/hybrid_scale.py --index DIR [--read-store]   # query a kept index again, fresh reader

A catalog of n edits bound to the default model (editclip-mini, d = 384): unit pair vectors around 1,000
random centres, and one distinct instruction per edit whose vector is its pair vector plus as much noise
again (so the pairs read their instructions, legibility near 1, as a real collection's do), written
straight into the catalog (no image embedded). Then both caches are built and tuned (`rebuild`), and query
vectors near the data are ranked by `rank_text` under `pair` and `hybrid`, one at a time; the first hybrid
query also measures the collection's legibility. Printed: build times, latency p50 / p95 of each rank, the
legibility's one-off cost, and the process's peak RSS. A reader maps the caches' re-rank stores;
`--read-store` reads them into memory instead, for a side-by-side comparison.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

CHUNK = 50_000


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_index(directory: Path, n: int, index_type: str, seed: int = 0) -> dict[str, float]:
    """Write n edits, their pair vectors and one instruction vector each; build and tune both caches."""
    from editsearch.encoder import load_model
    from editsearch.index.instructions import save_instruction_vectors
    from editsearch.index.store import EditIndex

    model = load_model(None)
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((1000, model.embed_dim)))
    started = time.perf_counter()
    with EditIndex.open(directory, create=True) as index:
        index.bind_model(model)
        for start in range(0, n, CHUNK):
            count = min(CHUNK, n - start)
            pairs = unit(centres[rng.integers(0, 1000, count)] + 0.05 * rng.standard_normal((count, model.embed_dim)))
            texts = [f"synthetic instruction {i}" for i in range(start, start + count)]
            rows = [
                {"key": f"e{i}", "origin": "bench", "source": "bench", "before": "b.jpg", "after": "a.jpg",
                 "instruction": t, "metadata": {}}
                for i, t in zip(range(start, start + count), texts, strict=True)
            ]  # fmt: skip
            index.catalog.save_edits(rows, [v.tobytes() for v in pairs], model.fingerprint)
            instr = unit(pairs + unit(rng.standard_normal(pairs.shape)))
            save_instruction_vectors(index.catalog, model.fingerprint, texts, instr)
        written = time.perf_counter() - started
        index.rebuild(index_type)
        built = time.perf_counter() - started - written
        stats = index.stats()
    print(f"{n:,} edits and instructions written in {written:.0f} s; both caches built and tuned in {built:.0f} s")
    print(f"pairs: {stats['faiss_type']} {stats['faiss_tuning']}")
    print(f"instructions: {stats['instruction_faiss_type']} {stats['instruction_faiss_tuning']}")
    return {"write_s": written, "build_s": built}


def time_queries(directory: Path, queries: int, seed: int = 1) -> None:
    """p50 / p95 of `rank_text` under pair and hybrid, one query vector at a time, in a fresh reader."""
    from editsearch.search.api import EditSearch

    with EditSearch.open(directory) as searcher:
        dim = searcher.index.model_info["dim"]
        rng = np.random.default_rng(seed)
        vectors = unit(rng.standard_normal((queries, dim)))
        vectors = unit(searcher.index.stored_vector(1)[None] + 0.5 * vectors)  # near the data, as text queries land
        started = time.perf_counter()
        legibility = searcher.index.legibility()
        print(f"legibility {legibility:.3f}, measured once in {1000 * (time.perf_counter() - started):.0f} ms")
        for rank in ("pair", "hybrid"):
            times = []
            for v in vectors:
                t = time.perf_counter()
                searcher.rank_text_vector(v, 10, rank)
                times.append(1000 * (time.perf_counter() - t))
            p50, p95 = np.percentile(times, [50, 95])
            print(f"{rank:7s} p50 {p50:.2f} ms, p95 {p95:.2f} ms over {queries} queries")
    print(f"peak RSS of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--type", default="auto", help="FAISS type of both caches (auto: pq from 100k)")
    ap.add_argument("--keep", type=Path, default=None, help="build the index here and keep it")
    ap.add_argument("--index", type=Path, default=None, help="only query this index (one --keep built)")
    ap.add_argument("--read-store", action="store_true", help="read the re-rank stores into memory, not mapped")
    args = ap.parse_args()
    if args.read_store:
        import editsearch.index.vectors

        editsearch.index.vectors.MAPPED_KINDS = ()
    if args.index is not None:
        time_queries(args.index, args.queries)
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp) / "idx"
        make_index(directory, args.n, args.type)
        time_queries(directory, args.queries)


if __name__ == "__main__":
    main()
