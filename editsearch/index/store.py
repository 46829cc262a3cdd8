"""EditIndex: one index directory = catalog.db (the truth) + vectors.faiss (a derived cache) + a writer lock."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.encoder.embedder import Embedder, ModelLike, check_fingerprint
from editsearch.index.catalog import (
    CATALOG_FILE,
    SCHEMA_VERSION,
    Catalog,
    EditRow,
    ModelRow,
    corruption_as_error,
    damaged,
    too_new,
)
from editsearch.index.errors import (
    CatalogCorruptError,
    EditIndexError,
    IndexNotFoundError,
    ModelMismatchError,
    SchemaVersionError,
    UnknownEditError,
)
from editsearch.index.instruction_index import (
    INSTRUCTION_CACHE,
    InstructionCache,
    InstructionIndex,
    instruction_ids,
)
from editsearch.index.instructions import vector_ids_for_texts
from editsearch.index.legibility import sample_legibility
from editsearch.index.lock import DEFAULT_LOCK_TIMEOUT, WriterLock
from editsearch.index.statistics import publish_record, read_record, state_stamp, write_record
from editsearch.index.tuning import build_tuned, measure, retune
from editsearch.index.types import DEFAULT_TARGET_RECALL, NO_REMOVE, TRAINED
from editsearch.index.unit_vectors import blob_problems
from editsearch.index.vectors import (
    FAISS_FILE,
    MAPPED_KINDS,
    META_FILE,
    PAIR_CACHE,
    RETRAIN_GROWTH,
    AnnParams,
    VectorIndex,
    VectorMeta,
    cache_problem,
    resolve_kind,
)

if TYPE_CHECKING:
    from editsearch.data.records import EditPair
    from editsearch.index.build import BuildReport

log = logging.getLogger(__name__)

DEFAULT_INDEX_DIR = ".editsearch"
EXACT_FILTER_MAX = 20_000  # a filter leaving at most this many edits is searched exactly, without FAISS
NEW_INDEX_TYPE = "auto"  # what a new index asks for: exact below 100k edits, then self-tuned PQ, then IVF-PQ
TOMBSTONE_REBUILD_FRACTION = 0.2  # an HNSW or PQ index is rebuilt once this share of it is tombstones


def default_index_dir() -> Path:
    """$EDITSEARCH_INDEX, else ./.editsearch."""
    return Path(os.environ.get("EDITSEARCH_INDEX") or DEFAULT_INDEX_DIR)


@dataclass
class Hit:
    """One search hit: the cosine score and the edit's catalog row."""

    score: float
    edit: EditRow


@dataclass
class VerifyReport:
    """The result of `EditIndex.verify`: ok, what is wrong, and the numbers behind it."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    build_running: bool = False  # another process held the writer lock: the FAISS cache was not compared


class EditIndex:
    """An index of edit pairs: add / remove / sync / search / rebuild / stats / verify."""

    def __init__(self, directory: Path, catalog: Catalog, lock: WriterLock, params: AnnParams | None = None):
        self.directory = directory
        self.catalog = catalog
        self.lock = lock
        self.params = params or AnnParams()
        self.explicit_params = params is not None  # search with these, not with the settings the index tuned
        self._vectors: VectorIndex | None = None
        self._generation = -1  # the catalog generation the in-memory FAISS index reflects
        self._live_count = 0
        self._instructions = InstructionCache(directory)  # the instruction vectors, for instruction-aware ranking
        self._legibility: tuple[list[int], float | None] | None = None  # (statistics stamp, legibility)
        self._statistics: dict[str, Any] | None = None  # the statistics record computed by this object, if any

    # -- opening --------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: str | Path | None = None,
        *,
        create: bool = False,
        writable: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        params: AnnParams | None = None,
    ) -> EditIndex:
        """Open the index in `directory` (default $EDITSEARCH_INDEX or ./.editsearch).

        `create` makes a new one if absent (and implies `writable`); `writable` takes the writer lock,
        waiting up to `lock_timeout` seconds for another writer to finish. Otherwise the catalog is opened
        read-only (see Catalog.open) and nothing in the directory is ever written, except that a catalog
        of an older schema is first upgraded under the writer lock when the directory is writable.
        """
        directory = Path(directory) if directory is not None else default_index_dir()
        fresh = not (directory / CATALOG_FILE).exists()
        if fresh:
            if not create:
                raise IndexNotFoundError(
                    f"no index at {directory} (build one with `editsearch build-index SOURCE --index {directory}`)"
                )
            directory.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(directory)
        if create or writable:
            lock.acquire(lock_timeout)
            for stale in [*directory.glob(".vectors.*.tmp"), *directory.glob(f".{INSTRUCTION_CACHE}.*.tmp")]:
                stale.unlink(missing_ok=True)
        try:
            catalog = Catalog.open(directory / CATALOG_FILE) if lock.held else _open_reader(directory, lock_timeout)
        except BaseException:
            lock.release()
            raise
        if fresh and catalog.get_setting("index_type", None) is None:
            catalog.set_setting("index_type", NEW_INDEX_TYPE)
        return cls(directory, catalog, lock, params)

    def close(self) -> None:
        """Close the catalog and release the writer lock."""
        self.catalog.close()
        self.lock.release()

    def __enter__(self) -> EditIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model and settings ---------------------------------------------------------------------------

    @property
    def model_info(self) -> ModelRow | None:
        """The model (name, fingerprint, dim, ...) that built this index; None while it is empty."""
        return self.catalog.model()

    @property
    def generation(self) -> int:
        """The catalog's generation: it moves with every write that changes the live edits."""
        return self.catalog.generation

    @property
    def index_type(self) -> str:
        """The requested FAISS type: flat | ivf | hnsw | pq | ivfpq-sq8 | auto (an older index with none: flat)."""
        return self.catalog.get_setting("index_type", "flat") or "flat"

    @property
    def target_recall(self) -> float:
        """The recall@10 an approximate FAISS cache tunes its search settings to reach (0.95 unless set)."""
        return float(self.catalog.get_setting("target_recall", None) or DEFAULT_TARGET_RECALL)

    def set_target_recall(self, target: float) -> None:
        """Record the recall@10 target; the next sync tunes the caches to it (a rebuild of an approximate type)."""
        self._require_lock()
        if not 0 < target <= 1:
            raise UsageError(f"the target recall must be in (0, 1], got {target}")
        if target != self.target_recall:
            self.catalog.set_setting("target_recall", repr(float(target)))

    def check_model(self, fingerprint: str, name: str = "") -> None:
        """Refuse (ModelMismatchError) a model other than the one this index was built with."""
        check_fingerprint(self.model_info, fingerprint, name)

    def bind_model(self, model: Any) -> None:
        """Bind a fresh index to `model` (an EditCLIP), or check that it is the index's model."""
        self._require_lock()
        self.check_model(model.fingerprint, model.name)
        if self.model_info is None:
            name = model.name
            if Path(name).expanduser().exists():  # a model folder: record it absolutely, to reload from anywhere
                name = str(Path(name).expanduser().resolve())
            self.catalog.bind_model(name, model.fingerprint, model.embed_dim, bool(model.trained), model.config_dict())

    def embedder(self, model: ModelLike | None = None) -> Embedder:
        """The index's model (or `model`, checked against it), loaded only if something needs the torch model."""
        return Embedder(model, self.model_info)

    def set_index_type(self, kind: str) -> None:
        """Record the requested FAISS type; the next sync rebuilds the cache to match it."""
        self._require_lock()
        resolve_kind(kind, 0)
        if kind != self.index_type:
            self.catalog.set_setting("index_type", kind)

    def _require_lock(self) -> None:
        if not self.lock.held:
            raise EditIndexError("this index was opened read-only; open it with writable=True to change it")

    # -- writing --------------------------------------------------------------------------------------

    def sync(
        self,
        sources: Sequence[str | Path],
        model: Any,
        *,
        batch_size: int = 32,
        workers: int | None = None,
        progress: bool = False,
        root: str | Path | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> BuildReport:
        """Incrementally index these sources: skip unchanged pairs, embed new or changed ones, tombstone vanished.

        `root` refuses manifest image paths that resolve outside that folder (each such line fails); `columns`
        names the columns of tables no preset fits ({role: column}, see editsearch.data.layouts).
        """
        from editsearch.index.build import Build, source_inputs

        self.bind_model(model)
        inputs = source_inputs(sources, root, columns)
        report = Build(self.catalog, model, batch_size, workers, progress).run(inputs, sweep=True)
        self._refresh_caches()
        return report

    def sync_embeddings(self, directory: str | Path, *, progress: bool = False) -> BuildReport:
        """Incrementally index the embeddings shards of `directory` (from `embed`), with no image forward.

        Shards of another model than the index's are refused (ModelMismatchError) before anything changes.
        Instructions with no vector yet are embedded by the index model's text tower, loaded only then.
        """
        import time

        from editsearch.index.embeddings import apply_shards
        from editsearch.index.instructions import embed_missing

        self._require_lock()
        start = time.perf_counter()
        report = apply_shards(self.catalog, directory, progress)
        if self.model_info is not None:
            report.instructions = embed_missing(self.catalog, self.embedder())
        report.seconds = time.perf_counter() - start
        self._refresh_caches()
        return report

    def add(
        self,
        pairs: Iterable[EditPair],
        model: Any,
        *,
        batch_size: int = 32,
        workers: int | None = None,
        origin: str = "api",
    ) -> BuildReport:
        """Index these pairs (no sweep: nothing else is tombstoned); unchanged ones are skipped."""
        from editsearch.index.build import Build

        self.bind_model(model)
        build = Build(self.catalog, model, batch_size, workers, False)
        report = build.run([(origin, lambda: iter(pairs))], sweep=False)
        self._refresh_caches()
        return report

    def remove(self, edit_ids: Sequence[int]) -> int:
        """Remove live edits by id (they stay removed if a later build sees them again); returns how many."""
        self._require_lock()
        removed = self.catalog.tombstone(list(edit_ids), "removed")
        if removed:
            self.refresh_vectors()
        return removed

    def rebuild(self, index_type: str | None = None, target_recall: float | None = None) -> VectorIndex | None:
        """Rebuild both FAISS caches (pairs, instructions) from the catalog, optionally as another type or tuned to
        another recall target, and save them."""
        self._require_lock()
        if index_type is not None:
            self.set_index_type(index_type)
        if target_recall is not None:
            self.set_target_recall(target_recall)
        self._generation = self.catalog.generation
        if self.model_info is None:
            self._vectors = None
            return None
        self._vectors = self._build_from_catalog()
        self._save()
        self._instruction_index(force=True)
        return self._vectors

    def _refresh_caches(self) -> None:
        """After a write: bring the pair and the instruction FAISS caches up to date (and save them)."""
        self.refresh_vectors()
        if self.model_info is not None:
            self._instruction_index()

    # -- the FAISS cache ------------------------------------------------------------------------------

    @property
    def vectors(self) -> VectorIndex | None:
        """The FAISS index: loaded on first use, repaired whenever it disagrees with the catalog."""
        if self._vectors is None or self.catalog.generation != self._generation:
            self.refresh_vectors()
        return self._vectors

    def refresh_vectors(self) -> None:
        """Load the FAISS cache and make it agree with the catalog (adding/removing ids, or rebuilding).

        A repaired cache is saved only by an index opened writable: a reader repairs it in memory and
        never writes to the directory (`rebuild` or the next build saves it). A reader maps the re-rank store
        of a saved cache that matches the catalog (editsearch.index.vectors), and loads it again, not repairs
        it, once the catalog moves on (a mapped cache cannot take vectors).
        """
        info = self.model_info
        if info is None:
            self._vectors, self._live_count = None, 0
            return
        generation = self.catalog.generation
        vi, meta = self._vectors, None
        if vi is not None and vi.kind in MAPPED_KINDS and not self.lock.held and generation != self._generation:
            vi = None  # a reader maps what the writer saved for this generation (repairs in memory if none yet)
        if vi is None:
            vi, meta = self._load_saved(generation)
        if vi is None or vi.dim != info["dim"] or (meta is not None and meta.model != info["fingerprint"]):
            vi, changed = self._build_from_catalog(), True
        elif meta is not None and meta.generation == generation and meta.ntotal == vi.ntotal:
            changed = False
            recorded = meta.recorded_live()
            self._live_count = recorded if recorded is not None else self.catalog.live_vector_count(info["fingerprint"])
            if recorded is None and self.lock.held:  # a sidecar saved before it recorded the count: a writer records it
                replace(meta, live=self._live_count).write(self.directory)
        else:
            changed = self._reconcile(vi) or meta is None or meta.generation != generation
        if self._needs_rebuild(vi):
            vi, changed = self._build_from_catalog(), True
        elif self.lock.held and (vi.tuning is None or vi.tuning.target != self.target_recall):
            self._retune(vi)  # saved before indexes tuned themselves, or asked for another target
            changed = True
        self._vectors, self._generation = vi, generation
        if changed and self.lock.held:
            self._save()

    def _load_saved(self, generation: int) -> tuple[VectorIndex | None, VectorMeta | None]:
        """The saved cache and its sidecar, or (None, None) with a warning if it is missing or damaged.

        A reader maps a cache that matches the catalog; one that does not (or that a writer replaced between
        the look and the load) is read into memory, where the reader can repair it.
        """
        try:
            mapped = not self.lock.held and VectorMeta.read(self.directory).generation == generation
            vi, meta = VectorIndex.load(self.directory, self._search_params(), mapped=mapped)
            if vi.mapped and meta.generation != generation:
                vi, meta = VectorIndex.load(self.directory, self._search_params())
            return vi, meta
        except (OSError, ValueError, TypeError) as e:
            fix = "saving a fresh copy" if self.lock.held else "run `editsearch rebuild` to save one"
            first = self.lock.held and not any((self.directory / f).exists() for f in (FAISS_FILE, META_FILE))
            if not first:  # a writer creating the cache is no news; a missing or damaged one is
                log.warning(
                    "editsearch: the FAISS cache of %s is unusable (%s); rebuilt from the catalog, %s",
                    self.directory,
                    e,
                    fix,
                )
            return None, None

    def _reconcile(self, vi: VectorIndex) -> bool:
        """Add the catalog's live vectors FAISS lacks, remove those it should not have; True if anything changed."""
        assert self.model_info is not None
        live = np.asarray(self.catalog.live_vector_ids(self.model_info["fingerprint"]), dtype=np.int64)
        have = vi.ids()
        missing = np.setdiff1d(live, have, assume_unique=True)
        extra = np.setdiff1d(have, live, assume_unique=True)
        for start in range(0, len(missing), 50_000):
            ids, mat = self._load_vectors(missing[start : start + 50_000].tolist())
            vi.add(ids, mat)
        vi.remove(extra)
        self._live_count = len(live)
        return bool(len(missing) or (len(extra) and vi.supports_remove))

    def _needs_rebuild(self, vi: VectorIndex) -> bool:
        """The requested type changed, HNSW/PQ tombstones piled up, or an IVF/PQ outgrew its training."""
        kind = resolve_kind(self.index_type, self._live_count)
        tombstones = vi.ntotal - self._live_count
        return (
            kind != vi.kind
            or tombstones > TOMBSTONE_REBUILD_FRACTION * max(vi.ntotal, 1)
            or (vi.kind in TRAINED and self._live_count > RETRAIN_GROWTH * max(vi.trained_on, 1))
        )

    def _build_from_catalog(self) -> VectorIndex:
        """A fresh FAISS index of the requested type over every live vector of the index's model.

        It streams: trained on a sample read by id, then filled chunk by chunk, so memory holds the index
        and one chunk, never every float32 vector at once.
        """
        info = self.model_info
        assert info is not None
        live = np.asarray(self.catalog.live_vector_ids(info["fingerprint"]), dtype=np.int64)
        kind = resolve_kind(self.index_type, len(live))
        load = self._load_array
        vi = build_tuned(
            kind, info["dim"], live, load, self._live_chunks(), self.target_recall, self.params, self.explicit_params
        )
        self._note_shortfall(vi)
        self._live_count = len(live)
        return vi

    def _retune(self, vi: VectorIndex) -> None:
        """Tune a loaded cache's search settings to the target recall, measured on the catalog's live vectors."""
        assert self.model_info is not None
        live = np.asarray(self.catalog.live_vector_ids(self.model_info["fingerprint"]), dtype=np.int64)
        retune(vi, live, self._load_array, self._live_chunks(), self.target_recall, self.params)
        if self.explicit_params:
            vi.set_params(self.params)
        self._note_shortfall(vi)

    @staticmethod
    def _note_shortfall(vi: VectorIndex) -> None:
        if vi.tuning is not None and not vi.tuning.reached:
            log.warning("editsearch: %s", vi.tuning.note)

    def _search_params(self) -> AnnParams | None:
        """The AnnParams a loaded cache searches with: those passed to open, else None (its own tuned settings)."""
        return self.params if self.explicit_params else None

    def _load_array(self, vector_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._load_vectors(vector_ids.tolist())

    def _live_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) chunks of the live vectors of the index's model, by id."""
        assert self.model_info is not None
        dim = self.model_info["dim"]
        for chunk in self.catalog.iter_live_vectors(self.model_info["fingerprint"]):
            ids = np.asarray([i for i, _ in chunk], dtype=np.int64)
            yield ids, np.frombuffer(b"".join(b for _, b in chunk), dtype=np.float32).reshape(len(ids), dim)

    def _load_vectors(self, vector_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of these vector ids from the catalog."""
        assert self.model_info is not None
        rows = self.catalog.vector_blobs(vector_ids)
        ids = np.asarray([i for i, _ in rows], dtype=np.int64)
        mat = np.frombuffer(b"".join(b for _, b in rows), dtype=np.float32).reshape(len(rows), self.model_info["dim"])
        return ids, mat

    def _save(self) -> None:
        assert self._vectors is not None and self.model_info is not None
        self._vectors.save(self.directory, self._generation, self.model_info["fingerprint"], live=self._live_count)

    # -- reading --------------------------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        where: str | None = None,
        contains: str | None = None,
        exclude: Sequence[Iterable[int]] | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> list[list[Hit]]:
        """Top-k live edits by inner product for each query row (unit vectors: cosine), best first.

        `where` is SQL over the edits table's columns, `contains` a full-text match on instructions, `meta` metadata
        facets (KEY=VALUE, bound);
        `exclude[i]` holds edit ids to leave out of query i's results. Filters over-fetch, then filter.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise UsageError(f"k must be an integer, got {k!r}")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        queries = queries.reshape(1, -1) if queries.ndim == 1 else queries
        excludes = [set(e) for e in exclude] if exclude is not None else [set() for _ in queries]
        vi = self.vectors
        if vi is None or vi.ntotal == 0 or k <= 0:
            return [[] for _ in queries]
        info = self.model_info
        assert info is not None
        if queries.shape[1] != info["dim"]:
            raise ModelMismatchError(f"query vectors have dimension {queries.shape[1]}, this index holds {info['dim']}")
        allowed = None
        if where or contains or meta:
            allowed = self.catalog.filtered_vector_ids(info["fingerprint"], where, contains, meta)
            allowed = np.asarray(allowed, np.int64)
            if len(allowed) <= EXACT_FILTER_MAX:
                return [self._exact(q, allowed, k, ex) for q, ex in zip(queries, excludes, strict=True)]
        # over-fetch by the expected share of hits that filters, tombstones and exclusions will drop
        live = max(self._live_count, 1)
        selectivity = len(allowed) / live if allowed is not None else 1.0
        wanted = k + max((len(e) for e in excludes), default=0) + 8
        fetch = min(vi.ntotal, int(wanted / max(selectivity, 1e-9) * vi.ntotal / live) + 1)
        scores, ids = vi.search(queries, fetch)
        out = []
        for qi, q in enumerate(queries):
            hits, want = self._collect(scores[qi], ids[qi], allowed, excludes[qi], k), fetch
            while len(hits) < k and want < vi.ntotal:
                want = min(vi.ntotal, want * 4)
                s, i = vi.search(q[None], want)
                hits = self._collect(s[0], i[0], allowed, excludes[qi], k)
            if len(hits) < k and allowed is not None and vi.kind != "flat":
                hits = self._exact(q, allowed, k, excludes[qi])  # the ANN's probes held too few matches
            out.append(hits)
        return out

    def _collect(
        self, scores: np.ndarray, ids: np.ndarray, allowed: np.ndarray | None, exclude: set[int], k: int
    ) -> list[Hit]:
        """Keep hits that are live, allowed and not excluded; best first, ties by edit id; at most k."""
        keep = ids >= 0
        if allowed is not None:
            keep &= np.isin(ids, allowed)
        scores, ids = scores[keep], ids[keep]
        rows = self.catalog.rows_for_vectors(ids.tolist())
        hits = [Hit(float(s), rows[int(i)]) for s, i in zip(scores, ids, strict=True) if int(i) in rows]
        hits = [h for h in hits if h.edit["id"] not in exclude]
        hits.sort(key=lambda h: (-round(h.score, 6), h.edit["id"]))
        return hits[:k]

    def _exact(self, query: np.ndarray, allowed: np.ndarray, k: int, exclude: set[int]) -> list[Hit]:
        """Exact search over a small allowed set, straight from the catalog's vectors."""
        if not len(allowed):
            return []
        ids, mat = self._load_vectors(allowed.tolist())
        scores = mat @ query
        top = np.argsort(-scores, kind="stable")[: k + len(exclude) + 8]
        return self._collect(scores[top], ids[top], None, exclude, k)

    def get_edit(self, edit_id: int) -> EditRow:
        """One live edit's catalog row; UnknownEditError for an unknown or removed id."""
        row = self.catalog.get_edit(edit_id)
        if row.get("deleted"):
            reason = row.get("deleted_reason") or "removed"
            raise UnknownEditError(f"edit {edit_id} was removed from this index ({reason})")
        return row

    def live_ids(self, edit_ids: Sequence[int]) -> set[int]:
        """Which of these edit ids are live edits of this index."""
        return self.catalog.existing_ids(list(edit_ids))

    def check_filter(self, where: str | None, contains: str | None, meta: Mapping[str, str] | None = None) -> None:
        """Refuse (FilterError) a `where`, `contains` or `meta` filter that cannot run, before any query uses it."""
        self.catalog.check_filter(where, contains, meta)

    def set_filter_budget(self, seconds: float | None) -> None:
        """Stop a `where` filter (FilterError) that runs longer than this; None: no limit."""
        self.catalog.filter_budget_s = seconds

    def facets(self) -> dict[str, Any]:
        """{"columns": the edits columns a filter may use, "metadata": {key: [{"value", "count"}, ...]}}."""
        return {"columns": self.catalog.edit_columns(), "metadata": self.catalog.facets()}

    def live_edit_rows(self, columns: str) -> list[tuple[Any, ...]]:
        """`columns` (SQL over `e`, the edits, and `v`, their vectors) of every live edit of this model, by id."""
        info = self.model_info
        if info is None:
            return []
        return self.catalog.conn.execute(
            f"SELECT {columns} FROM edits e JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
            "WHERE e.deleted = 0 ORDER BY e.id",
            [info["fingerprint"]],
        ).fetchall()

    def iter_live_vectors(self, chunk: int = 20000) -> Iterator[list[tuple[int, bytes]]]:
        """Chunks of (vector id, float32 blob) of the live edits, ascending by vector id."""
        return self.catalog.iter_live_vectors(self.model_info["fingerprint"], chunk)  # type: ignore[index]

    def neighbour_index(self, exact_max: int) -> VectorIndex | None:
        """A FAISS index to search every live vector against at once: the cache with its own settings, unless it is
        an exact Flat over more than `exact_max` vectors (an all-against-all scan grows with n²); then an IVF over the
        live vectors, tuned to the index's target recall like a cache, held in memory only (never saved)."""
        info = self.model_info
        if info is None:
            return None
        live = np.asarray(self.catalog.live_vector_ids(info["fingerprint"]), dtype=np.int64)
        if resolve_kind(self.index_type, len(live)) != "flat" or len(live) <= exact_max:
            return self.vectors
        return build_tuned("ivf", info["dim"], live, self._load_array, self._live_chunks(), self.target_recall)

    def signatures(self, edit_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored pair signatures (for the audit's image checks) of these edits, by edit id."""
        return self.catalog.signatures(edit_ids)

    def instruction_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every distinct instruction of the index's model and its text-tower vector [N, D], in full."""
        dim = self.model_info["dim"]  # type: ignore[index]
        rows = self.catalog.conn.execute(  # a damaged row (another size) is left out; `verify` names it
            "SELECT instruction, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? ORDER BY id",
            [self.model_info["fingerprint"], 4 * dim],  # type: ignore[index]
        ).fetchall()
        matrix = np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), dim)
        return [t for t, _ in rows], matrix

    # -- derived data kept beside the edits: the atlas, learned VISII instructions ------------------------

    def setting(self, key: str) -> str | None:
        """A value kept in the catalog's settings (None when unset)."""
        return self.catalog.get_setting(key)

    def live_vector_ids_by_edit(self) -> dict[int, int]:
        """edit id -> vector id of every live edit with a vector of the index's model."""
        return dict(self.live_edit_rows("e.id, v.id"))

    def vector_count(self, model: str) -> int:
        """How many live vectors `model` (a fingerprint) has in this index."""
        return self.catalog.counts(model)["vectors"]

    def vectors_of_edits(self, edit_ids: Sequence[int], model: str) -> list[tuple[int, int, bytes]]:
        """(edit id, vector id, float32 blob) of these live edits for `model`."""
        return self.catalog.vectors_of_edits(edit_ids, model)

    def iter_map_vectors(self, model: str, chunk: int = 20000) -> Iterator[list[tuple[int, int, bytes]]]:
        """Chunks of (edit id, vector id, blob) of the live edits for `model`, for mapping."""
        return self.catalog.iter_map_vectors(model, chunk)

    def map_points(self) -> list[tuple[int, int, float, float, int, int]]:
        """The atlas's stored points of live edits: (edit id, vector id, x, y, cluster, fitted)."""
        return self.catalog.map_points()

    def map_stamp(self) -> tuple[str | None, int, float]:
        """A value that changes whenever the stored atlas is written (for a reader's cache of it)."""
        return self.catalog.map_stamp()

    def map_rows(self, edit_ids: Sequence[int]) -> dict[int, tuple[str, str, str | None]]:
        """edit id -> (before, after, instruction) of these edits, for the atlas."""
        return self.catalog.map_rows(edit_ids)

    def save_map(
        self, points: Sequence[tuple[int, int, float, float, int, int]], state: str | None, *, replace: bool
    ) -> None:
        """Store the atlas's points (all of them when `replace`) and its fit's state (writer lock held)."""
        self._require_lock()
        self.catalog.save_map(points, state, replace=replace)

    def visii_instruction(self, edit_id: int, pipeline: str, settings: str) -> dict[str, Any] | None:
        """The VISII instruction learned for this edit, pipeline and settings key, or None."""
        return self.catalog.visii_instruction(edit_id, pipeline, settings)

    def save_visii_instruction(
        self, edit_id: int, pipeline: str, settings: str, shape: tuple[int, int], embeddings: bytes, **stats: Any
    ) -> None:
        """Keep a learned VISII instruction beside its edit (writer lock held)."""
        self._require_lock()
        self.catalog.save_visii_instruction(edit_id, pipeline, settings, shape, embeddings, **stats)

    def instruction_matrix(self) -> InstructionIndex:
        """The instruction vectors of the index's model behind their FAISS cache, following the catalog's writes."""
        return self._instruction_index()

    def _instruction_index(self, force: bool = False) -> InstructionIndex:
        info = self.model_info
        assert info is not None
        settings = {
            "index_type": self.index_type,
            "target": self.target_recall,
            "params": self.params,
            "explicit": self.explicit_params,
            "force": force,
        }
        return self._instructions.get(self.catalog, info, settings, self.lock.held)

    def legibility(self) -> float | None:
        """How well the pair vectors read their own instructions (0.5 chance, 1 all); None without two to compare.

        Measured on a sample of the catalog (editsearch.index.legibility) once per state of the catalog: read from
        its statistics record when there is one, else measured here and kept in memory.
        """
        record = self.statistics()
        if record is not None and "legibility" in record:
            return record["legibility"]
        now = state_stamp(self.catalog)
        if self._legibility is None or self._legibility[0] != now:
            info = self.model_info
            value = None if info is None else sample_legibility(self.catalog, info["fingerprint"], info["dim"])
            self._legibility = (now, value)
        return self._legibility[1]

    def statistics(self) -> dict[str, Any] | None:
        """The statistics record of the catalog's current state (editsearch.index.statistics): the one this object
        computed, else the stored one; None when neither is current. Shared: do not change it."""
        now = state_stamp(self.catalog)
        for record in (self._statistics, read_record(self.catalog)):
            if record is not None and record.get("stamp") == now:
                return record
        return None

    def statistics_stamp(self) -> list[int]:
        """The catalog's current state, as the `stamp` of a statistics record computed now names it."""
        return state_stamp(self.catalog)

    def keep_statistics(self, record: dict[str, Any]) -> bool:
        """Keep a statistics record (its `stamp` taken before it was computed): stored in the catalog by the writer,
        or by a reader when the folder is writable and no writer holds it (never waiting), and kept in memory in any
        case. True: stored."""
        self._statistics = record
        if self.lock.held:
            return write_record(self.catalog, record)
        return publish_record(self.directory, record)

    def edits_for_instructions(
        self,
        texts: Sequence[str],
        n: int,
        where: str | None = None,
        contains: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> list[tuple[EditRow, np.ndarray]]:
        """Live edits (at most n) whose instruction is one of `texts`, within the filters, with their pair vectors."""
        fp = self.model_info["fingerprint"]  # type: ignore[index]
        vids = vector_ids_for_texts(self.catalog, fp, texts, n)
        if where or contains or meta:
            allowed = set(self.catalog.filtered_vector_ids(fp, where, contains, meta))
            vids = [v for v in vids if v in allowed]
        found = self.catalog.rows_for_vectors(vids)
        blobs = self.catalog.vector_blobs([v for v in vids if v in found])
        return [(found[vid], np.frombuffer(blob, dtype=np.float32)) for vid, blob in blobs]

    def stored_vector(self, edit_id: int) -> np.ndarray:
        """The stored (unit) vector of a live edit; raises UnknownEditError."""
        assert self.model_info is not None
        return np.frombuffer(self.catalog.vector_of_edit(edit_id, self.model_info["fingerprint"]), np.float32)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: edits, vectors, model, index type, tombstones, errors, sizes."""
        info = self.model_info
        meta = _read_meta(self.directory)
        try:
            sidecar = VectorMeta(**meta) if meta else None
            intact = sidecar is not None and cache_problem(self.directory, sidecar, full=False) is None
        except (OSError, TypeError):
            sidecar, intact = None, False
        current = intact and sidecar is not None and sidecar.generation == self.catalog.generation
        live = sidecar.recorded_live() if current and info and sidecar.model == info["fingerprint"] else None
        counts = self.catalog.counts(info["fingerprint"] if info else None, live)
        return {
            "edits": counts["edits"],
            "vectors": counts["vectors"],
            "model": info["name"] if info else None,
            "fingerprint": info["fingerprint"] if info else None,
            "dim": info["dim"] if info else None,
            "trained": bool(info["trained"]) if info else None,
            "index_type": self.index_type,
            "faiss_type": meta.get("kind"),
            "faiss_vectors": meta.get("ntotal", 0),
            "faiss_in_sync": current,
            "tombstones": max(0, meta.get("ntotal", 0) - counts["vectors"]) if meta.get("kind") in NO_REMOVE else 0,
            "deleted": counts["deleted"],
            "errors": counts["errors"],
            "sources": counts["sources"],
            "origins": counts["origins"],
            "schema_version": SCHEMA_VERSION,
            "path": str(self.directory.resolve()),
            "catalog_bytes": _size(self.directory / CATALOG_FILE) + _size(self.directory / f"{CATALOG_FILE}-wal"),
            "faiss_bytes": _size(self.directory / FAISS_FILE),
            "target_recall": self.target_recall,
            "faiss_tuning": meta.get("tuning"),
            **_instruction_stats(self.directory),
        }

    @classmethod
    def verify_at(cls, directory: str | Path | None = None) -> VerifyReport:
        """Open the index read-only and verify it; a catalog too damaged to open is a failed report, not an error."""
        try:
            index = cls.open(directory)
        except CatalogCorruptError as e:
            return _finish(VerifyReport(ok=False, problems=[str(e)]))
        with index:
            return index.verify()

    def verify(self) -> VerifyReport:
        """Check the catalog (full integrity check, pair and instruction vector checksums, every live vector a finite
        unit vector of the index's dimension) and that the saved FAISS file holds exactly the live vectors that can be
        searched; repairs nothing. While another process builds, the catalog is checked (a consistent snapshot) but
        the FAISS cache, which the build is rewriting, is not."""
        report = VerifyReport(ok=True)
        try:
            with corruption_as_error(self.catalog.path):
                info = self._verify_catalog(report)
                unusable = self._verify_vector_values(info, report) if info is not None else np.zeros(0, np.int64)
        except CatalogCorruptError as e:
            report.problems.append(str(e))
            return _finish(report)
        if info is None:
            report.notes.append("empty index: no model bound yet")
            return _finish(report)
        holder = self.lock.held_elsewhere()
        if holder is not None:
            report.build_running = True
            report.notes.append(f"a build is running{holder}: the FAISS cache was not compared; verify again after it")
            return _finish(report)
        fp = info["fingerprint"]
        try:
            vi, meta = VectorIndex.load(self.directory, self._search_params(), full_check=True)
        except (OSError, ValueError, TypeError) as e:
            report.problems.append(f"FAISS cache missing or unreadable ({e}); run `editsearch rebuild`")
            return _finish(report)
        every = np.asarray(self.catalog.live_vector_ids(fp, any_size=True), np.int64)
        live = np.setdiff1d(every, unusable)  # reported above; FAISS need not hold what cannot be searched
        have = vi.ids()
        missing, extra = np.setdiff1d(live, have), np.setdiff1d(have, every)
        report.numbers.update(faiss_vectors=int(vi.ntotal), faiss_type=vi.kind, missing=len(missing), extra=len(extra))
        if len(missing):
            report.problems.append(f"FAISS lacks {len(missing)} live vectors; run `editsearch rebuild`")
        if len(extra) and vi.supports_remove:
            report.problems.append(f"FAISS holds {len(extra)} vectors of removed edits; run `editsearch rebuild`")
        elif len(extra):
            report.notes.append(f"{len(extra)} {vi.kind.upper()} tombstones (filtered at search time)")
        if meta.model != fp:
            report.problems.append("FAISS cache was built for another model; run `editsearch rebuild`")
        if meta.ntotal != vi.ntotal:
            report.problems.append("FAISS file and its sidecar disagree; run `editsearch rebuild`")
        report.problems.extend(self._spot_check(vi, live))
        self._verify_tuning(vi, live, report)
        self._verify_instructions(info, report)
        return _finish(report)

    def _verify_tuning(self, vi: VectorIndex, live: np.ndarray, report: VerifyReport) -> None:
        """Measure recall@10 again with the settings a query uses; a drop below the target is a note.

        Not a problem: verify fails (exit 4) when the cache disagrees with the catalog, i.e. answers are wrong or
        lost. Recall that drifts as edits are added after the tuning is a quality matter of a consistent index,
        and `rebuild` (which tunes again) is the remedy either way; failing healthy indexes would make verify
        useless as a damage check.
        """
        tuning = vi.tuning
        if tuning is None:
            if vi.kind != "flat":
                report.notes.append(
                    "the FAISS cache records no tuned search settings (saved by an older editsearch); "
                    "`editsearch rebuild` tunes it"
                )
            return
        recall = measure(vi, live, self._load_array, self._live_chunks())
        report.numbers.update(recall_at_10=round(recall, 4), recall_at_build=tuning.recall, target_recall=tuning.target)
        if recall < tuning.target:
            why = f" ({tuning.note})" if tuning.note and not tuning.reached else ""
            report.notes.append(
                f"recall@10 is {recall:.3f} with the settings {vi.kind} searches with, below the target "
                f"{tuning.target:g} (measured {tuning.recall:.3f} at build){why}; `editsearch rebuild` tunes it again"
            )

    def _verify_instructions(self, info: ModelRow, report: VerifyReport) -> None:
        """The instruction FAISS cache holds exactly the catalog's instruction vectors of the index's model."""
        fp, dim = info["fingerprint"], info["dim"]
        want = instruction_ids(self.catalog, fp, dim)
        if not len(want):
            return
        try:
            ivi, meta = VectorIndex.load(self.directory, None, INSTRUCTION_CACHE, full_check=True)
        except (OSError, ValueError, TypeError) as e:
            report.problems.append(f"instruction FAISS cache missing or unreadable ({e}); run `editsearch rebuild`")
            return
        have = ivi.ids()
        missing, extra = np.setdiff1d(want, have), np.setdiff1d(have, want)
        report.numbers.update(instruction_vectors=len(want), instruction_faiss_vectors=int(ivi.ntotal))
        if meta.model != fp:
            report.problems.append("instruction FAISS cache was built for another model; run `editsearch rebuild`")
        elif len(missing) or len(extra):
            report.problems.append(
                f"instruction FAISS cache lacks {len(missing)} and holds {len(extra)} unknown instruction vectors; "
                "run `editsearch rebuild`"
            )

    def _verify_catalog(self, report: VerifyReport) -> ModelRow | None:
        """The catalog half of verify: SQLite's integrity, foreign keys, full-text rows, the sizes and checksums
        of the pair and instruction vectors."""
        db = self.catalog.db
        integrity = [r[0] for r in db.execute("PRAGMA integrity_check(20)")]
        if integrity != ["ok"]:
            report.problems.append(damaged(self.catalog.path, "; ".join(integrity)))
            return None
        if db.execute("PRAGMA foreign_key_check").fetchall():
            report.problems.append("vectors rows point to missing edits or models (foreign key check)")
        indexed = db.execute("SELECT count(*) FROM edits_fts_docsize").fetchone()[0]
        rows = db.execute("SELECT count(*) FROM edits").fetchone()[0]
        if indexed != rows:
            report.problems.append(f"the full-text index holds {indexed} rows, the edits table {rows}")
        info = self.model_info
        if info is None:
            return None
        counts = self.catalog.counts(info["fingerprint"])
        report.numbers.update(edits=counts["edits"], vectors=counts["vectors"])
        if counts["edits"] != counts["vectors"]:
            report.problems.append(f"{counts['edits'] - counts['vectors']} live edits have no vector")
        dim = info["dim"]
        bad = db.execute("SELECT count(*) FROM instruction_vectors WHERE length(vector) != ?", [4 * dim]).fetchone()[0]
        if bad:
            report.problems.append(f"{bad} instruction vectors are not {dim} float32 values")
        changed = self.catalog.damaged_vectors()
        if changed:
            edits = ", ".join(str(e) for _, e in changed[:10]) + (", ..." if len(changed) > 10 else "")
            report.problems.append(
                damaged(self.catalog.path, f"{len(changed)} stored vectors do not match their checksum: edits {edits}")
            )
        texts = self.catalog.damaged_instruction_vectors()
        if texts:
            named = ", ".join(repr(t[:40] + ("..." if len(t) > 40 else "")) for _, t in texts[:5])  # repr escapes
            named += ", ..." if len(texts) > 5 else ""
            report.problems.append(
                damaged(
                    self.catalog.path,
                    f"{len(texts)} stored instruction vectors do not match their checksum: instructions {named}",
                )
            )
        return info

    def _verify_vector_values(self, info: ModelRow, report: VerifyReport) -> np.ndarray:
        """Name the live edits whose stored vector is not `dim` values of a finite unit vector; their vector ids."""
        bad: dict[int, str] = {}
        for chunk in self.catalog.iter_live_vectors(info["fingerprint"], any_size=True):
            bad.update(blob_problems(chunk, info["dim"]))
        if bad:
            rows = self.catalog.rows_for_vectors(sorted(bad)[:10])
            named = "; ".join(f"edit {rows[v]['id']}: {bad[v]}" for v in sorted(bad)[:10] if v in rows)
            report.problems.append(
                f"{len(bad)} stored vectors cannot be searched ({named}{'; ...' if len(bad) > 10 else ''}); remove "
                "those edits (`editsearch remove ID...`; later builds leave them out) and run `editsearch rebuild`, "
                "or build the index again from its sources (`editsearch build-index SOURCE... --index NEW_DIR`)"
            )
        return np.asarray(sorted(bad), np.int64)

    def _spot_check(self, vi: VectorIndex, live: np.ndarray, n: int = 200) -> list[str]:
        """Compare up to n vectors FAISS holds with the catalog's."""
        sample = live[np.random.default_rng(0).permutation(len(live))[:n]] if len(live) else live
        sample = np.intersect1d(sample, vi.ids())
        if not len(sample):
            return []
        ids, mat = self._load_vectors(sample.tolist())
        stored = np.stack([vi.reconstruct(int(i)) for i in ids])
        if vi.lossy:  # a quantized copy: the same direction, not the same floats
            wrong = int(np.sum(np.einsum("ij,ij->i", stored, mat) < 0.99 * np.linalg.norm(stored, axis=1)))
        else:
            wrong = int(np.sum(~np.isclose(stored, mat, atol=1e-6).all(axis=1)))
        return [f"{wrong} of {len(ids)} sampled FAISS vectors differ from the catalog's"] if wrong else []


def _finish(report: VerifyReport) -> VerifyReport:
    report.ok = not report.problems
    return report


def check_caches(directory: str | Path) -> None:
    """Check every chunk of both saved FAISS caches now (a server at start): a damaged one is then refused by every
    later open of it in this process, which rebuilds from the catalog instead; an intact one is not read again."""
    for name in (PAIR_CACHE, INSTRUCTION_CACHE):
        try:
            cache_problem(directory, VectorMeta.read(directory, name), name)
        except (OSError, ValueError, TypeError):  # missing or not a sidecar: the load that follows says so
            continue


def _read_meta(directory: Path, name: str = PAIR_CACHE) -> dict[str, Any]:
    """The sidecar as a dict; {} when it is absent or not a JSON object."""
    try:
        meta = json.loads((directory / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _instruction_stats(directory: Path) -> dict[str, Any]:
    """What the instruction FAISS cache's sidecar says: type, vectors, tuning, file size."""
    meta = _read_meta(directory, INSTRUCTION_CACHE)
    return {
        "instruction_faiss_type": meta.get("kind"),
        "instruction_faiss_vectors": meta.get("ntotal", 0),
        "instruction_faiss_tuning": meta.get("tuning"),
        "instruction_faiss_bytes": _size(directory / f"{INSTRUCTION_CACHE}.faiss"),
    }


def _open_reader(directory: Path, lock_timeout: float) -> Catalog:
    """The catalog opened read-only; one of an older schema is upgraded first, under the writer lock."""
    path = directory / CATALOG_FILE
    catalog = Catalog.open(path, readonly=True)
    try:
        with corruption_as_error(path):
            version = catalog.schema_version
    except BaseException:
        catalog.close()
        raise
    if version == SCHEMA_VERSION:
        return catalog
    catalog.close()
    if version > SCHEMA_VERSION:
        raise too_new(version, path)
    if not os.access(directory, os.W_OK):
        raise SchemaVersionError(
            f"the catalog at {path} has schema version {version}, older than this editsearch's {SCHEMA_VERSION}, "
            "and its folder is read-only; upgrade a writable copy once (`editsearch rebuild --index COPY`)"
        )
    lock = WriterLock(directory)
    lock.acquire(lock_timeout)
    try:
        Catalog.open(path).close()  # migrates
    finally:
        lock.release()
    return Catalog.open(path, readonly=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
