"""Scaling out: embed on Ray vs locally (pairs/s), and a many-million-edit `ivfpq-sq8` index (build, latency, RSS).

    python benchmarks/scale.py embed --pairs 2000             # local vs Ray engine, same pairs, side by side
    python benchmarks/scale.py index --n 1000000              # shards -> build-index --from-embeddings -> queries
    python benchmarks/scale.py faiss --n 10000000             # the FAISS side alone at 10M (no catalog)
    python benchmarks/scale.py index --n 10000000 --d 768 --straight   # catalog written directly, then `rebuild`
    python benchmarks/scale.py rerank --n 1000000 --d 768     # recall of SQ8, SQ6, SQ4 re-rank stores

`embed`: `editsearch data synth` pairs (256 px JPEGs) split into 8 manifests, embedded by the shipped model
with each engine. Ray returns rows in bursts, so its steady state is the marginal rate between two sizes
(run --pairs 2000 and --pairs 4000: 2,000 / the difference of the times without ray.init); its start
(ray.init) and the time until the first pairs come back are reported apart.

`index` and `faiss` use SYNTHETIC vectors, not EditCLIP embeddings (embedding 10M pairs on 2 CPU cores is
out of reach): unit vectors around 1,000 random centres (noise ≈ 0.64 cosine to the centre:
benchmarks/index_latency.py's `clustered`), N centres with --data clustered:N, or i.i.d. uniform ones
with --data uniform. Vectors are generated in chunks from per-chunk seeds, never all in memory: the
ground truth (exact top 10 of held-out queries) is computed by regenerating the chunks.
`index` writes embeddings shards of 100k synthetic edits, fills a fresh index from them with
`EditIndex.sync_embeddings` (the catalog, then FAISS), and queries it in a fresh process. `faiss` builds
the same FAISS index straight from the chunks (what the catalog feeds it), to measure 10M without
writing the catalog's 15 GB of float32 vectors. `index --straight` writes the synthetic edits straight into
the catalog and builds with `EditIndex.rebuild` (the same FAISS build and tuning): at 10M × 768 the shards
(31 GB) and the catalog (~38 GB) do not fit on the disk together. The query process opens the index as a
reader, which maps the re-rank store of a `pq` or `ivfpq-sq8` cache (editsearch.index.vectors). Both print
build time, p50/p95 per query (one at a time), recall@10 against exact search, and the resident memory of
the querying process (VmHWM, RssAnon, RssFile). `query-index --memory-gb G` (root) drops the page cache and
serves from a memory cgroup of G GB: the process and every page of the index it reads must fit in it, as on a
machine of that size; `--warm-queries W` runs W other queries first, so the page cache is a running server's;
`--no-prefetch` serves without the mapped store's list prefetch (editsearch.index.prefetch), to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

K = 10
CHUNK = 100_000
CENTRES = 1_000  # --centres: clusters of the `clustered` data
QUERIES = 200
WARM_STREAM = 10**6  # the random stream of query-index's warm-up queries (no database chunk uses it)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def chunk_vectors(data: str, d: int, stream: int, count: int) -> np.ndarray:
    """`count` unit vectors of chunk `stream` (stream 1: the queries); `data` is uniform or clustered[:CENTRES]."""
    rng = np.random.default_rng([7, stream])
    x = rng.standard_normal((count, d), dtype=np.float32)
    if data.startswith("clustered"):
        n_centres = int(data.partition(":")[2] or CENTRES)
        centres = unit(np.random.default_rng([7, 0]).standard_normal((n_centres, d), dtype=np.float32))
        x *= np.float32(1.2 / np.sqrt(d))
        x += centres[rng.integers(0, n_centres, count)]
    return unit(x)


def chunks(data: str, d: int, n: int):
    """(first id - 1, vectors) chunk by chunk over the n database vectors."""
    for start in range(0, n, CHUNK):
        yield start, chunk_vectors(data, d, 2 + start // CHUNK, min(CHUNK, n - start))


def exact_top_k(data: str, d: int, n: int, queries: np.ndarray) -> np.ndarray:
    """Positions (0-based) of the exact top K of each query, merged chunk by chunk."""
    best_s = np.full((len(queries), K), -np.inf, np.float32)
    best_i = np.zeros((len(queries), K), np.int64)
    for start, x in chunks(data, d, n):
        s = queries @ x.T
        top = np.argpartition(-s, K, axis=1)[:, :K]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
        cand_i = np.concatenate([best_i, top + start], 1)
        order = np.argsort(-cand_s, axis=1)[:, :K]
        best_s, best_i = np.take_along_axis(cand_s, order, 1), np.take_along_axis(cand_i, order, 1)
    return best_i


def memory() -> dict[str, float]:
    """Peak and current resident memory of this process, GB (VmHWM, VmRSS, RssAnon, RssFile)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 2**20, 2)
    return fields


def timed_queries(search, queries: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(per-query ms, ids found) one query at a time, after 5 warm-up queries."""
    for q in queries[:5]:
        search(q)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - start) * 1000)
    return np.asarray(times), found


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    """Mean share of the true top K found."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


# -- embed: local vs Ray ----------------------------------------------------------------------------------


def bench_embed(args: argparse.Namespace) -> None:
    import tqdm

    import editsearch.scale.embed as embed
    from editsearch.data.synthetic.generator import write_synth
    from editsearch.encoder import load_model

    root = Path(tempfile.mkdtemp(prefix="scale-embed-"))
    try:
        write_synth(root / "data", args.pairs, seed=0, size=256, split="train", image_format="jpg", workers=2)
        lines = (root / "data" / "manifest.jsonl").read_text().splitlines(keepends=True)
        step = -(-len(lines) // args.shards)
        manifests = []
        for i in range(args.shards):
            path = root / "data" / f"shard-{i}.jsonl"
            path.write_text("".join(lines[i * step : (i + 1) * step]))
            manifests.append(path)
        model = load_model(args.model, device="cpu")
        arrivals: list[tuple[float, int]] = []  # (time, pairs back so far), from the pairs progress bar

        class Recording(tqdm.tqdm):
            def __init__(self, *a, **k):
                self.recording = k.get("desc") == "pairs"
                super().__init__(*a, **k)

            def update(self, n=1):
                if self.recording:
                    arrivals.append((time.perf_counter(), (arrivals[-1][1] if arrivals else 0) + n))
                return super().update(n)

        tqdm.tqdm = Recording  # embed_sources imports tqdm's class when it runs
        results = {}
        for engine in args.engines.split(","):
            arrivals.clear()
            start = time.perf_counter()
            report = embed.embed_sources(manifests, root / f"emb-{engine}", model, engine=engine)
            results[engine] = {
                "pairs": report.pairs,
                "seconds": round(time.perf_counter() - start, 2),
                "startup_s": round(report.startup_seconds, 2),
                "first_pairs_back_s": round(arrivals[0][0] - start, 2),
                "overall_pairs_s": round(report.rate, 1),
            }
            print(engine, json.dumps(results[engine]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- index: shards -> catalog -> FAISS -> queries ---------------------------------------------------------


def synthetic_rows(start: int, count: int) -> list[dict]:
    """Catalog rows of synthetic edits start, start + 1, ... (shard number start // CHUNK)."""
    return [
        {
            "key": f"synthetic/{i}.png|synthetic/{i}-after.png",
            "origin": f"/synthetic/shard-{start // CHUNK:05d}",
            "source": "files",
            "before": f"synthetic/{i}.png",
            "before_size": 1,
            "before_mtime": 0.0,
            "before_hash": f"b{i}",
            "after": f"synthetic/{i}-after.png",
            "after_size": 1,
            "after_mtime": 0.0,
            "after_hash": f"a{i}",
            "instruction": None,
            "metadata": {},
        }
        for i in range(start, start + count)
    ]


def write_shards(out: Path, data: str, d: int, n: int) -> None:
    """Embeddings shards of n synthetic edits, CHUNK per shard, in the format `embed` writes."""
    from editsearch.pairs.shards import ShardMeta, write_shard

    for start, x in chunks(data, d, n):
        name = f"shard-{start // CHUNK:05d}"
        meta = ShardMeta("synthetic", f"synthetic-{data}-{d}", d, False, {}, f"/synthetic/{name}", "0")
        write_shard(out / f"{name}.parquet", meta, synthetic_rows(start, len(x)), x)


def fill_catalog(index, data: str, d: int, n: int) -> None:
    """Write n synthetic edits and their vectors straight into the index's catalog, chunk by chunk (no shards)."""
    fingerprint = f"synthetic-{data}-{d}"
    index.catalog.bind_model("synthetic", fingerprint, d, False, {})
    for start, x in chunks(data, d, n):
        index.catalog.save_edits(synthetic_rows(start, len(x)), [v.tobytes() for v in x], fingerprint)


def bench_index(args: argparse.Namespace) -> None:
    from editsearch.index.store import EditIndex

    root = Path(args.workdir or tempfile.mkdtemp(prefix="scale-index-"))
    emb, index_dir = root / "emb", root / "index"
    emb.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        with EditIndex.open(index_dir, create=True) as index:
            index.set_index_type(args.type)
            if args.straight:
                fill_catalog(index, args.data, args.d, args.n)
                catalog_s = time.perf_counter() - start
                print(f"wrote {args.n:,} synthetic edits into the catalog in {catalog_s:.0f} s", flush=True)
                index.rebuild()
            else:
                write_shards(emb, args.data, args.d, args.n)
                print(f"wrote {args.n:,} synthetic edits as shards in {time.perf_counter() - start:.0f} s", flush=True)
                start = time.perf_counter()
                catalog_s = index.sync_embeddings(emb).seconds
            kind = index.vectors.kind if index.vectors else None
            tuning = index.stats()["faiss_tuning"]
        build_s = time.perf_counter() - start
        sizes = {p.name: round(p.stat().st_size / 2**30, 2) for p in index_dir.iterdir() if p.is_file()}
        print(
            f"{'catalog + rebuild' if args.straight else 'build-index --from-embeddings'}: {build_s:.0f} s "
            f"({catalog_s:.0f} s catalog, {build_s - catalog_s:.0f} s FAISS); {kind}, tuned {tuning}; "
            f"GB on disk {sizes}; builder {memory()}",
            flush=True,
        )
        shutil.rmtree(emb)
        cmd = [sys.executable, __file__, "query-index", str(index_dir), "--data", args.data, "--d", str(args.d)]
        subprocess.run([*cmd, "--n", str(args.n)], check=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def memory_cgroup(gb: float) -> Path:
    """Drop the page cache, then move this process into a new memory cgroup of `gb` GB (root only).

    The cgroup holds the process's own memory and the page cache it reads from then on (the dropped cache
    makes every page of the index it touches its own), so what it serves from is what fits in `gb`.
    """
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    group = Path("/sys/fs/cgroup" if v2.is_file() else "/sys/fs/cgroup/memory") / f"editsearch-bench-{os.getpid()}"
    group.mkdir()
    limit = group / ("memory.max" if v2.is_file() else "memory.limit_in_bytes")
    limit.write_text(str(int(gb * 2**30)))
    (group / "cgroup.procs").write_text(str(os.getpid()))
    return group


def leave_cgroup(group: Path) -> str:
    """Read the cgroup's peak memory (its process and page cache) and its limit hits, move back out and remove it."""
    peak = next(p for p in (group / "memory.peak", group / "memory.max_usage_in_bytes") if p.exists())
    hits = group / "memory.failcnt"
    said = f"cgroup peak {int(peak.read_text()) / 2**30:.2f} GB" + (
        f", limit reached {hits.read_text().strip()} times" if hits.exists() else ""
    )
    (group.parent / "cgroup.procs").write_text(str(os.getpid()))
    group.rmdir()
    return said


def query_index(args: argparse.Namespace) -> None:
    """In a fresh process: open the index read-only and time EditIndex.search, then the FAISS search alone."""
    from editsearch.index.store import EditIndex

    queries = chunk_vectors(args.data, args.d, 1, QUERIES)
    truth = exact_top_k(args.data, args.d, args.n, queries)
    print(f"exact top {K} of {QUERIES} queries computed; {memory()}", flush=True)
    group = memory_cgroup(args.memory_gb) if args.memory_gb else None
    start = time.perf_counter()
    with EditIndex.open(args.index_dir) as index:
        vi = index.vectors
        assert vi is not None
        if args.no_prefetch:
            vi.prefetch = None
        said = f"mapped: {vi.mapped}, list prefetch: {vi.prefetch is not None}"
        print(f"opened index in {time.perf_counter() - start:.1f} s ({said}); {memory()}", flush=True)
        assert np.array_equal(vi.ids(), np.arange(1, args.n + 1))  # vector id - 1 = position in the synthetic stream

        def positions(q: np.ndarray) -> np.ndarray:
            return np.asarray([int(h.edit["before"].split("/")[1].split(".")[0]) for h in index.search(q, K)[0]])

        if args.warm_queries:  # other held-out queries first: the page cache as a server's would be after a while
            start = time.perf_counter()
            for q in chunk_vectors(args.data, args.d, WARM_STREAM, args.warm_queries):
                positions(q)
            print(f"{args.warm_queries} warm-up queries in {time.perf_counter() - start:.0f} s; {memory()}", flush=True)
        times, found = timed_queries(positions, queries)  # first: pages these queries need are not cached yet
        report("EditIndex.search", vi.kind, times, recall(found, truth))
        times, found = timed_queries(lambda q: vi.search(q[None], K)[1][0] - 1, queries)
        report("FAISS search (the same queries again)", vi.kind, times, recall(found, truth))
        print(f"memory after queries: {memory()}" + (f"; {leave_cgroup(group)}" if group else ""), flush=True)


def report(what: str, kind: str, times: np.ndarray, rec: float) -> None:
    p50, p95 = np.percentile(times, [50, 95])
    print(f"{what} ({kind}): p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@{K} {rec:.3f}", flush=True)


# -- faiss: the FAISS side alone --------------------------------------------------------------------------


def bench_faiss(args: argparse.Namespace) -> None:
    from editsearch.index.vectors import AnnParams, VectorIndex, sample_positions, training_size

    start = time.perf_counter()
    size = training_size(args.type, args.n)
    positions = sample_positions(args.n, size)
    sample = np.concatenate(
        [x[positions[(positions >= s) & (positions < s + len(x))] - s] for s, x in chunks(args.data, args.d, args.n)]
    )
    params = AnnParams(ivfpq_nprobe=int(args.nprobe.split(",")[0]), pq_k_factor=args.k_factor)
    vi = VectorIndex.empty(args.type, args.d, args.n, sample, params)
    del sample
    trained = time.perf_counter() - start
    for s, x in chunks(args.data, args.d, args.n):
        vi.add(np.arange(s + 1, s + len(x) + 1), x)
    build_s = time.perf_counter() - start
    print(f"FAISS {args.type} over {args.n:,} x {args.d}: build {build_s:.0f} s ({trained:.0f} s training)", flush=True)
    directory = Path(args.workdir or tempfile.mkdtemp(prefix="scale-faiss-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        vi.save(directory, 1, "synthetic")
        print(f"saved {(directory / 'vectors.faiss').stat().st_size / 2**30:.2f} GB; builder {memory()}", flush=True)
        del vi
        cmd = [sys.executable, __file__, "query-faiss", str(directory), "--data", args.data, "--d", str(args.d)]
        extra = ["--n", str(args.n), "--nprobe", args.nprobes, "--k-factor", str(args.k_factor)]
        subprocess.run([*cmd, *extra], check=True)
        if args.mmap:
            subprocess.run([*cmd, *extra, "--mmap"], check=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def query_faiss(args: argparse.Namespace) -> None:
    """In a fresh process: load the saved FAISS index and sweep nprobe."""
    from editsearch.index.vectors import AnnParams, VectorIndex

    queries = chunk_vectors(args.data, args.d, 1, QUERIES)
    truth = exact_top_k(args.data, args.d, args.n, queries)
    start = time.perf_counter()
    vi, _ = VectorIndex.load(args.index_dir, mapped=args.mmap)  # mapped: the re-rank store stays on disk
    print(f"loaded (mmap {args.mmap}) in {time.perf_counter() - start:.1f} s; {memory()}", flush=True)
    for nprobe in map(int, str(args.nprobe).split(",")):
        vi.set_params(AnnParams(ivfpq_nprobe=nprobe, pq_k_factor=args.k_factor))
        times, found = timed_queries(lambda q: vi.search(q[None], K)[1][0] - 1, queries)
        report(f"nprobe {nprobe}, k_factor {args.k_factor}", vi.kind, times, recall(found, truth))
    print(f"memory after queries: {memory()}", flush=True)


# -- rerank: how precise a re-rank store's codes must be ---------------------------------------------------

SCALAR_CODES = {"SQ8": "QT_8bit", "SQ6": "QT_6bit", "SQ4": "QT_4bit"}


def bench_rerank(args: argparse.Namespace) -> None:
    """recall@10 when the exact top `--candidates` of each query are re-ranked by each scalar code: the best
    an IVF-PQ with that re-rank store can do, whatever its candidates."""
    import faiss

    x = np.concatenate([chunk for _, chunk in chunks(args.data, args.d, args.n)])
    queries = chunk_vectors(args.data, args.d, 1, QUERIES)
    scores = queries @ x.T
    truth = np.argsort(-scores, axis=1)[:, :K]
    candidates = np.argpartition(-scores, args.candidates, axis=1)[:, : args.candidates]
    sample = x[np.random.default_rng(0).choice(args.n, min(args.n, 100_000), replace=False)]
    for name in args.codes.split(","):
        store = faiss.IndexScalarQuantizer(args.d, getattr(faiss.ScalarQuantizer, SCALAR_CODES[name]))
        store.train(sample)
        store.add(x)
        found = [
            rows[np.argsort(-(store.reconstruct_batch(rows) @ q))[:K]]
            for q, rows in zip(queries, candidates, strict=True)
        ]
        gb = store.code_size * 10_000_000 / 1e9
        print(f"{name}: {store.code_size} B a vector ({gb:.2f} GB at 10M), recall@{K} {recall(found, truth):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--pairs", type=int, default=2000)
    e.add_argument("--shards", type=int, default=8)
    e.add_argument("--engines", default="local,ray")
    e.add_argument("--model", default=None, help="model name or folder (default: the shipped model)")
    r = sub.add_parser("rerank")
    r.add_argument("--n", type=int, default=1_000_000)
    r.add_argument("--d", type=int, default=768)
    r.add_argument("--data", default="clustered")
    r.add_argument("--candidates", type=int, default=640, help="rows a query re-ranks (k x k_factor)")
    r.add_argument("--codes", default="SQ8,SQ6,SQ4")
    for name in ("index", "faiss", "query-index", "query-faiss"):
        p = sub.add_parser(name)
        if name.startswith("query"):
            p.add_argument("index_dir", type=Path)
        p.add_argument("--n", type=int, default=1_000_000)
        p.add_argument("--d", type=int, default=384)
        p.add_argument("--data", default="clustered", help="uniform, clustered (1,000 centres) or clustered:N")
        p.add_argument("--type", default="ivfpq-sq8")
        p.add_argument("--workdir", default=None, help="where to write (default: a temp folder, deleted after)")
        p.add_argument("--keep", action="store_true", help="keep the workdir")
        p.add_argument("--nprobe", default="32", help="ivfpq-sq8 nprobe (query-faiss: a comma list to sweep)")
        p.add_argument("--nprobes", default="8,16,32,64", help="the nprobe values `faiss` sweeps")
        p.add_argument("--k-factor", type=int, default=64)
        p.add_argument("--straight", action="store_true", help="index: write the catalog directly, no shards")
        p.add_argument("--mmap", action="store_true", help="faiss: also query with the SQ8 store memory-mapped")
        p.add_argument("--memory-gb", type=float, default=0, help="query-index: serve from a cgroup of this many GB")
        p.add_argument("--warm-queries", type=int, default=0, help="query-index: other queries before the timed ones")
        p.add_argument("--no-prefetch", action="store_true", help="query-index: without the mapped store's prefetch")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    {
        "embed": bench_embed,
        "index": bench_index,
        "faiss": bench_faiss,
        "query-index": query_index,
        "query-faiss": query_faiss,
        "rerank": bench_rerank,
    }[args.what](args)


if __name__ == "__main__":
    main()
