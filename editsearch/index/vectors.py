"""The FAISS side of an index: IndexIDMap2 over Flat (exact, default), HNSW or PQ, or an IVF; inner product.

A derived cache of the catalog's vectors: it can always be rebuilt from them, and is saved atomically.
IVF keeps our ids itself (with a hashtable direct map) instead of sitting in an IndexIDMap2: in faiss
1.15, IndexIDMap2.remove_ids over an IVF leaves the remaining ids mapped to the wrong vectors.

`pq` scans 4-bit product-quantizer codes (one sub-quantizer per 2 dimensions) with FAISS's SIMD
fast-scan kernels, then re-ranks the best k × k_factor by exact inner product (IndexRefineFlat), so its
scores are exact. Unlike IVF and HNSW it does not depend on the data having clusters or a navigable
graph: it holds recall@10 >= 0.95 even on i.i.d. random vectors (benchmarks/index_latency.py).

`ivfpq-sq8` is the type for millions of edits on one machine: the same 4-bit PQ fast-scan codes, but in
about sqrt(n) IVF lists (a query scans `ivfpq_nprobe` of them), re-ranked from an 8-bit scalar-quantized
copy of the vectors (IndexRefine over IndexScalarQuantizer) instead of float32: 96 + 384 bytes a vector
at d = 384, where `pq` keeps 96 + 1,536. Its scores are the SQ8 ones (within ~1e-3 of the exact
cosine); the catalog keeps the exact vectors. benchmarks/scale.py has its figures at 1M-10M.

No approximate type assumes how the vectors cluster: each build measures recall@10 against exact search
on a sample of the index's own vectors and keeps the cheapest search setting that reaches the target
(editsearch.index.tuning); the sidecar records it, and a loaded index searches with it.

A reader maps the re-rank store of `pq` and `ivfpq-sq8` from the file (FAISS's IO_FLAG_MMAP_IFC) instead of
reading it: a query re-ranks only k × k_factor rows, so the store (3 KB a vector at d = 768 for `pq`, 768 B
for `ivfpq-sq8`) stays on disk and in the page cache, not in the process. A mapped index cannot take vectors
(FAISS aborts the process if asked), so `add` refuses, and only a cache that matches the catalog is mapped.
An `ivfpq-sq8` build lays the store out list by list, and a mapped reader asks for a query's lists before
it re-ranks (editsearch.index.prefetch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.core.files import atomic_path
from editsearch.index import sidecar
from editsearch.index.errors import EditIndexError
from editsearch.index.prefetch import ListPrefetch
from editsearch.index.sidecar import (
    PAIR_CACHE,
    CacheMismatchError,
    VectorMeta,
    cache_problem,
    file_checksums,
)
from editsearch.index.types import INDEX_TYPES, NO_REMOVE, TRAINED, AnnParams, Tuning

if TYPE_CHECKING:
    import faiss

AUTO_ANN_FROM = 100_000  # `auto` uses exact Flat below this many vectors, then PQ
AUTO_COMPACT_FROM = 2_000_000  # ... and from this many, IVF-PQ with an SQ8 re-rank store (see resolve_kind)
IVF_TRAIN_PER_LIST = 64  # k-means training points per IVF list (FAISS warns below 39)
PQ_MIN_TRAIN = 1_000  # a PQ needs this many vectors to train its 16-centroid codebooks; below, Flat
PQ_TRAIN_MAX = 65_536  # codebook training sample
IVF_TRAIN_ITERATIONS = 10
RETRAIN_GROWTH = 4  # an IVF or PQ index is retrained once it holds this many times what it was trained on
SMALL_BATCH = 16  # searches of fewer queries run on one OpenMP thread: much faster on a busy small CPU
GPU_MAX_K = 2048  # FAISS GPU k-selection limit; larger k (heavy filter over-fetch) searches on the CPU
FAISS_FILE = "vectors.faiss"
META_FILE = "vectors.json"
MAPPED_KINDS = ("pq", "ivfpq-sq8")  # types whose re-rank store a reader maps from the file


def resolve_kind(requested: str, n: int) -> str:
    """The concrete index type for a requested one ('auto' -> flat below AUTO_ANN_FROM, else pq).

    Not IVF or HNSW: on 1M i.i.d. random vectors (the `uniform` data of benchmarks/index_latency.py)
    neither reaches recall@10 0.95 faster than a full scan, while PQ fast-scan with exact re-ranking does
    (0.995 in 6 ms at d = 384, 0.996 in 9 ms at d = 768), and still gets 0.99+ in 4 ms on clustered data,
    where IVF is faster only while its lists match the clusters. benchmarks/RESULTS_index.md has the numbers.

    From AUTO_COMPACT_FROM vectors `auto` picks `ivfpq-sq8`: `pq` scans every code and keeps float32
    vectors, so at 2M × 384 it already takes ~12 ms a query and 3.3 GB, growing linearly (60 ms and
    16 GB at 10M), while `ivfpq-sq8` scans ~1% of the codes and keeps 480 bytes a vector.
    """
    if requested not in INDEX_TYPES:
        raise UsageError(f"unknown index type {requested!r}; expected one of {', '.join(INDEX_TYPES)}")
    if requested == "auto":
        return "flat" if n < AUTO_ANN_FROM else "pq" if n < AUTO_COMPACT_FROM else "ivfpq-sq8"
    if (requested == "ivf" and n == 0) or (requested in ("pq", "ivfpq-sq8") and n < PQ_MIN_TRAIN):
        return "flat"  # too few vectors to train on; a later sync with enough rebuilds it as asked
    return requested


def ivf_nlist(n: int) -> int:
    """Number of IVF lists for n vectors: about sqrt(n), with at least 39 training points per list.

    FAISS suggests 4-16·sqrt(n) for speed at scale; sqrt(n) builds about 4x faster on a small CPU and
    keeps a 1M-vector query in a few milliseconds (benchmarks/index_latency.py).
    """
    return max(1, min(round(math.sqrt(n)), n // 39))


def pq_m(dim: int, dims_per_code: int = 2) -> int:
    """Sub-quantizers of the `pq` type: the largest divisor of dim up to dim / dims_per_code.

    At 1M random unit vectors and k_factor 64, 2 dims per code give recall@10 0.995, and 4 give 0.73
    (benchmarks/RESULTS_index.md).
    """
    return next(m for m in range(max(1, dim // dims_per_code), 0, -1) if dim % m == 0)


def training_size(kind: str, n: int) -> int:
    """How many of n vectors a `kind` index trains on (0: it needs no training)."""
    if kind == "ivf":
        return min(n, IVF_TRAIN_PER_LIST * ivf_nlist(n))
    if kind == "pq":
        return min(n, PQ_TRAIN_MAX)
    if kind == "ivfpq-sq8":
        return min(n, max(PQ_TRAIN_MAX, IVF_TRAIN_PER_LIST * ivf_nlist(n)))
    return 0


def sample_positions(n: int, size: int) -> np.ndarray:
    """The positions (ascending) of a fixed random subset of `size` out of n rows: all of them if size >= n."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size, replace=False))


class VectorIndex:
    """An inner-product FAISS index keyed by 64-bit ids (the catalog's vector ids)."""

    def __init__(self, index: faiss.Index, kind: str, trained_on: int = 0, params: AnnParams | None = None):
        self.index = index
        self.kind = kind
        self.trained_on = trained_on
        self.params = params or AnnParams()
        self.tuning: Tuning | None = None  # what editsearch.index.tuning chose and measured, saved in the sidecar
        self.mapped = False  # the re-rank store is memory-mapped from the file: read-only
        self.prefetch: ListPrefetch | None = None  # a mapped `ivfpq-sq8`: starts reading a query's lists at once
        self._gpu: Any = None  # a GPU replica for searches (faiss-gpu with a GPU), rebuilt after any change
        self._apply_search_params()

    @classmethod
    def build(
        cls, kind: str, dim: int, ids: np.ndarray, vectors: np.ndarray, params: AnnParams | None = None
    ) -> VectorIndex:
        """A new index of `kind` holding these vectors (the trained types train on a sample of them)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        sample = vectors[sample_positions(len(vectors), training_size(kind, len(vectors)))]
        index = cls.empty(kind, dim, len(vectors), sample, params)
        index.add(np.ascontiguousarray(ids, dtype=np.int64), vectors)
        index.order_store_by_list()
        return index

    @classmethod
    def empty(
        cls, kind: str, dim: int, n: int, sample: np.ndarray | None = None, params: AnnParams | None = None
    ) -> VectorIndex:
        """An empty index of `kind` sized for n vectors, trained on `sample` (training_size(kind, n) rows)."""
        import faiss

        params = params or AnnParams()
        if kind in TRAINED:
            if sample is None or len(sample) == 0:
                raise UsageError(f"a {kind} index needs vectors to train on")
            sample = np.ascontiguousarray(sample, dtype=np.float32).reshape(-1, dim)
        if kind == "flat":
            inner = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = params.hnsw_ef_construction
        elif kind == "ivf":
            quantizer = faiss.IndexFlatIP(dim)
            inner = faiss.IndexIVFFlat(quantizer, dim, ivf_nlist(n), faiss.METRIC_INNER_PRODUCT)
            inner.cp.seed = 1234
            inner.cp.niter = IVF_TRAIN_ITERATIONS
            inner.train(sample)
            inner.set_direct_map_type(faiss.DirectMap.Hashtable)
        elif kind == "pq":
            if n < PQ_MIN_TRAIN:
                raise UsageError(f"a PQ index needs at least {PQ_MIN_TRAIN} vectors to train on")
            codes = faiss.IndexPQFastScan(dim, pq_m(dim, params.pq_dims_per_code), 4, faiss.METRIC_INNER_PRODUCT)
            codes.train(sample)
            inner = faiss.IndexRefineFlat(codes)
        elif kind == "ivfpq-sq8":
            if n < PQ_MIN_TRAIN:
                raise UsageError(f"an IVF-PQ index needs at least {PQ_MIN_TRAIN} vectors to train on")
            m = pq_m(dim, params.pq_dims_per_code)
            codes = faiss.IndexIVFPQFastScan(
                faiss.IndexFlatIP(dim), dim, ivf_nlist(n), m, 4, faiss.METRIC_INNER_PRODUCT
            )
            codes.cp.seed = 1234
            codes.cp.niter = IVF_TRAIN_ITERATIONS
            store = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            inner = faiss.IndexRefine(codes, store)
            inner.train(sample)
        else:
            raise UsageError(f"unknown index type {kind!r}; expected one of {', '.join(INDEX_TYPES)}")
        wrapped = inner if kind == "ivf" else faiss.IndexIDMap2(inner)
        return cls(wrapped, kind, n if kind in TRAINED else 0, params)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.index.d

    @property
    def ntotal(self) -> int:
        """How many vectors FAISS holds (tombstones of an HNSW or PQ index included)."""
        return self.index.ntotal

    @property
    def supports_remove(self) -> bool:
        """HNSW and PQ cannot remove: their removed ids stay as tombstones, filtered out at search time."""
        return self.kind not in NO_REMOVE

    @property
    def lossy(self) -> bool:
        """True when FAISS keeps only a quantized copy of the vectors (reconstruct and scores are approximate)."""
        return self.kind == "ivfpq-sq8"

    @property
    def nlist(self) -> int:
        """IVF list count (0 for other types)."""
        if self.kind == "ivfpq-sq8":
            import faiss

            return faiss.downcast_index(self._inner().base_index).nlist
        return self._inner().nlist if self.kind == "ivf" else 0

    def ids(self) -> np.ndarray:
        """Every id FAISS holds, as int64, ascending."""
        import faiss

        if self.kind != "ivf":
            return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False))
        lists = self.index.invlists
        out = []
        for no in range(self.index.nlist):
            size = lists.list_size(no)
            if size:
                ptr = lists.get_ids(no)
                out.append(faiss.rev_swig_ptr(ptr, size).astype(np.int64))
                lists.release_ids(no, ptr)
        return np.sort(np.concatenate(out)) if out else np.zeros(0, np.int64)

    def order_store_by_list(self) -> None:
        """Lay an `ivfpq-sq8` re-rank store out one IVF list after another (other types: nothing to do).

        A query re-ranks candidates from the few lists it probes. Rows in insertion order scatter those
        candidates over the whole store, one page each; in list order they lie in a few runs of pages, which
        a mapped store reads (and keeps cached) together. FAISS's positions move, our ids and scores do not.
        """
        if self.kind != "ivfpq-sq8" or self.ntotal == 0:
            return
        import faiss

        refine = self._inner()
        lists = faiss.downcast_index(refine.base_index).invlists
        views = [faiss.rev_swig_ptr(lists.get_ids(no), lists.list_size(no)) for no in range(lists.nlist)]
        order = np.concatenate([v for v in views if len(v)]).astype(np.int64)  # new position -> old position
        position = np.empty_like(order)
        position[order] = np.arange(len(order), dtype=np.int64)
        for view in views:
            view[:] = position[view]
        store = faiss.downcast_index(refine.refine_index)
        permute_rows(faiss.rev_swig_ptr(store.codes.data(), store.codes.size()).reshape(len(order), -1), order)
        faiss.copy_array_to_vector(faiss.vector_to_array(self.index.id_map)[order], self.index.id_map)
        self.index.construct_rev_map()
        self._gpu = None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under these ids (no duplicate check: callers add only missing ids)."""
        if self.mapped:
            raise EditIndexError("a memory-mapped FAISS cache is read-only: load it into memory to add vectors")
        if len(ids):
            vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self.index.add_with_ids(vecs, np.ascontiguousarray(ids, dtype=np.int64))
            self._gpu = None

    def remove(self, ids: np.ndarray) -> int:
        """Remove these ids and return how many went; an HNSW or PQ index removes nothing (returns 0)."""
        if not self.supports_remove or not len(ids):
            return 0
        self._gpu = None
        return int(self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each [n_queries, k]; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if k <= GPU_MAX_K and (gpu := self._gpu_replica()) is not None:
            return gpu.search(queries, k)
        with nullcontext() if len(queries) >= SMALL_BATCH else omp_threads(1):
            if self.prefetch is not None:
                self.prefetch.before(queries)
            return self.index.search(queries, k)

    def set_params(self, params: AnnParams) -> None:
        """Change the search knobs (efSearch, nprobe, k_factor)."""
        self.params = params
        self._gpu = None
        self._apply_search_params()

    def use_tuning(self, tuning: Tuning | None, base: AnnParams | None = None) -> None:
        """Record `tuning` and search with its settings (over `base`, default AnnParams())."""
        self.tuning = tuning
        self.set_params(replace(base or AnnParams(), **(tuning.settings if tuning else {})))

    def _gpu_replica(self) -> Any:
        """This index cloned to every GPU FAISS sees (Flat and IVF; HNSW and PQ have no GPU form), else None."""
        import faiss

        if self._gpu is None and self.kind in ("flat", "ivf") and getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
            try:
                self._gpu = faiss.index_cpu_to_all_gpus(self.index)  # IVF copies nprobe from the CPU index
            except RuntimeError:  # an index layout this faiss cannot put on a GPU: stay on the CPU
                self._gpu = False
        return self._gpu or None

    def _inner(self) -> Any:
        import faiss

        return self.index if self.kind == "ivf" else faiss.downcast_index(self.index.index)

    def reconstruct(self, vector_id: int) -> np.ndarray:
        """The stored vector of one id."""
        return self.index.reconstruct(int(vector_id))

    def _apply_search_params(self) -> None:
        if self.kind == "hnsw":
            self._inner().hnsw.efSearch = self.params.hnsw_ef_search
        elif self.kind == "ivf":
            self._inner().nprobe = self.params.ivf_nprobe
        elif self.kind == "pq":
            self._inner().k_factor = float(self.params.pq_k_factor)
        elif self.kind == "ivfpq-sq8":
            import faiss

            refine = self._inner()
            refine.k_factor = float(self.params.pq_k_factor)
            faiss.downcast_index(refine.base_index).nprobe = self.params.ivfpq_nprobe

    def meta(
        self, generation: int, model: str, size: int = 0, crcs: tuple[str, str] = ("", ""), live: int = -1
    ) -> VectorMeta:
        """The sidecar record describing this index (and the file it was saved to: size, CRC-32s of file_checksums)."""
        tuning = asdict(self.tuning) if self.tuning else None
        whole, chunks = crcs
        fixed = (self.kind, self.dim, self.ntotal, generation, model, self.trained_on, self.nlist, size, whole, tuning)
        return VectorMeta(*fixed, live, chunk_bytes=sidecar.CHUNK_BYTES if chunks else 0, chunk_crc32=chunks)

    def save(self, directory: str | Path, generation: int, model: str, name: str = PAIR_CACHE, live: int = -1) -> None:
        """Write NAME.faiss then NAME.json (with the file's size, CRC-32 and each chunk's CRC-32), each atomically.

        Each goes to an exclusive temp file (`.NAME.faiss.*.tmp`, `.NAME.json.*.tmp`), is fsynced and renamed;
        a failed write (a full disk, a file-size limit) removes its temp file and raises OSError, leaving the
        previous pair as it was.
        """
        import faiss

        directory = Path(directory)
        with atomic_path(directory / f"{name}.faiss") as tmp:
            try:
                faiss.write_index(self.index, str(tmp))
            except RuntimeError as e:  # FAISS reports a failed fwrite (ENOSPC, EFBIG) as a RuntimeError
                raise OSError(f"cannot write the FAISS cache {tmp}: {str(e).strip().splitlines()[-1]}") from None
            meta = self.meta(generation, model, tmp.stat().st_size, file_checksums(tmp, sidecar.CHUNK_BYTES), live)
        meta.write(directory, name)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        params: AnnParams | None = None,
        name: str = PAIR_CACHE,
        *,
        mapped: bool = False,
        full_check: bool = False,
    ) -> tuple[VectorIndex, VectorMeta]:
        """Read a saved index and its sidecar; raises OSError if either is missing, CacheMismatchError if unreadable.

        The file is checked against the sidecar's size and CRC-32s first: one that differs raises
        CacheMismatchError too and is never searched. A file FAISS reads whole is checked in full (the reading
        is paid anyway); a mapped one, whose re-rank store is not read, in sampled chunks (see cache_problem)
        unless `full_check`. It searches with `params` when given, else with the
        settings it tuned for itself at build time (recorded in the sidecar). With `mapped`, the re-rank store
        of a MAPPED_KINDS index is memory-mapped instead of read (the index is then read-only).
        """
        import faiss

        directory = Path(directory)
        meta = VectorMeta.read(directory, name)
        mapped = mapped and meta.kind in MAPPED_KINDS
        problem = cache_problem(directory, meta, name, full=full_check or not mapped)
        if problem is not None:
            raise CacheMismatchError(problem)
        try:
            index = faiss.read_index(str(directory / f"{name}.faiss"), faiss.IO_FLAG_MMAP_IFC if mapped else 0)
        except RuntimeError as e:
            raise CacheMismatchError(f"unreadable FAISS file: {str(e).splitlines()[0]}") from None
        expected = faiss.IndexIVFFlat if meta.kind == "ivf" else faiss.IndexIDMap2
        if not isinstance(index, expected) or index.d != meta.dim:
            raise CacheMismatchError("FAISS file does not match its sidecar")
        vi = cls(index, meta.kind, meta.trained_on, params)
        vi.mapped = mapped
        if mapped and meta.kind == "ivfpq-sq8":
            vi.prefetch = ListPrefetch.of(directory / f"{name}.faiss", index)
        vi.tuning = meta.tuning_record()
        if params is None:
            vi.use_tuning(vi.tuning)
        return vi, meta


def permute_rows(rows: np.ndarray, order: np.ndarray) -> None:
    """Set rows[i] to what rows[order[i]] held, for every i, in place, following each cycle of `order` once.

    A re-rank store of millions of rows is as large as the rest of the build together: FAISS's own
    permute_entries would copy it whole, this holds one row aside.
    """
    done = np.zeros(len(order), dtype=bool)
    for start in np.flatnonzero(order != np.arange(len(order))):
        if done[start]:
            continue
        held, at = rows[start].copy(), int(start)
        while (source := int(order[at])) != start:
            rows[at] = rows[source]
            done[at] = True
            at = source
        rows[at] = held
        done[at] = True


@contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """Run FAISS with n OpenMP threads, then restore the previous count.

    One query gains nothing from a thread team, and waking one costs scheduler ticks (4-12 ms measured
    on a loaded 2-core machine, against 0.2 ms for an HNSW query itself).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
