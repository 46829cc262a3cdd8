"""EditIndex: one index directory = catalog.db (the truth) + vectors.faiss (a derived cache) + a writer lock.

A facade: the FAISS caches are editsearch.index.cache, searching editsearch.index.searcher, checking
editsearch.index.verify, the counts editsearch.index.stats; other stages keep their tables through their own
store modules (editsearch.atlas.store, editsearch.transfer.store, editsearch.pairs.store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.encoder.embedder import Embedder, ModelLike, check_fingerprint, recorded_name
from editsearch.encoder.identity import ModelRow
from editsearch.index import searcher
from editsearch.index.cache import Caches
from editsearch.index.catalog import Catalog, EditRow
from editsearch.index.errors import CatalogCorruptError, EditIndexError, UnknownEditError
from editsearch.index.instruction_index import InstructionIndex
from editsearch.index.lock import DEFAULT_LOCK_TIMEOUT, WriterLock
from editsearch.index.opening import default_index_dir, open_directory
from editsearch.index.searcher import Hit
from editsearch.index.statistics import Records
from editsearch.index.stats import stats
from editsearch.index.vectors import AnnParams, VectorIndex, resolve_kind
from editsearch.index.verify import VerifyReport, finish, verify

if TYPE_CHECKING:
    from editsearch.data.records import EditPair
    from editsearch.index.build import BuildReport

__all__ = ["EditIndex", "Hit", "VerifyReport"]  # Hit and VerifyReport: what search and verify return


class EditIndex:
    """An index of edit pairs: add / remove / sync / search / rebuild / stats / verify."""

    def __init__(self, directory: Path, catalog: Catalog, lock: WriterLock, params: AnnParams | None = None):
        self.directory = directory
        self.catalog = catalog
        self.lock = lock
        self.caches = Caches(directory, catalog, lock, params)  # the pair and instruction FAISS caches
        self.records = Records(directory, catalog, lock)  # the statistics record and the legibility

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
        catalog, lock = open_directory(directory, create=create, writable=writable, lock_timeout=lock_timeout)
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
        return self.caches.index_type

    @property
    def target_recall(self) -> float:
        """The recall@10 an approximate FAISS cache tunes its search settings to reach (0.95 unless set)."""
        return self.caches.target_recall

    def set_target_recall(self, target: float) -> None:
        """Record the recall@10 target; the next sync tunes the caches to it (a rebuild of an approximate type)."""
        self.require_writable()
        if not 0 < target <= 1:
            raise UsageError(f"the target recall must be in (0, 1], got {target}")
        if target != self.target_recall:
            self.catalog.set_setting("target_recall", repr(float(target)))

    def set_index_type(self, kind: str) -> None:
        """Record the requested FAISS type; the next sync rebuilds the cache to match it."""
        self.require_writable()
        resolve_kind(kind, 0)
        if kind != self.index_type:
            self.catalog.set_setting("index_type", kind)

    def check_model(self, fingerprint: str, name: str = "") -> None:
        """Refuse (ModelMismatchError) a model other than the one this index was built with."""
        check_fingerprint(self.model_info, fingerprint, name, self.directory)

    def bind_model(self, model: Any) -> None:
        """Bind a fresh index to `model` (an EditCLIP), or check that it is the index's model."""
        self.require_writable()
        self.check_model(model.fingerprint, model.name)
        if self.model_info is None:
            name = recorded_name(model.name)
            self.catalog.bind_model(name, model.fingerprint, model.embed_dim, bool(model.trained), model.config_dict())

    def embedder(self, model: ModelLike | None = None) -> Embedder:
        """The index's model (or `model`, checked against it), loaded only if something needs the torch model."""
        return Embedder(model, self.model_info, self.directory)

    def require_writable(self) -> None:
        """Refuse (EditIndexError) a change to an index opened read-only."""
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
        self.caches.refresh_all()
        return report

    def sync_embeddings(self, directory: str | Path, *, progress: bool = False) -> BuildReport:
        """Incrementally index the embeddings shards of `directory` (from `embed`), with no image forward.

        Shards of another model than the index's are refused (ModelMismatchError) before anything changes.
        Instructions with no vector yet are embedded by the index model's text tower, loaded only then.
        """
        import time

        from editsearch.index.embeddings import apply_shards
        from editsearch.index.instructions import embed_missing

        self.require_writable()
        start = time.perf_counter()
        report = apply_shards(self.catalog, directory, progress)
        if self.model_info is not None:
            report.instructions = embed_missing(self.catalog, self.embedder())
        report.seconds = time.perf_counter() - start
        self.caches.refresh_all()
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
        self.caches.refresh_all()
        return report

    def remove(self, edit_ids: Sequence[int]) -> int:
        """Remove live edits by id (they stay removed if a later build sees them again); returns how many."""
        self.require_writable()
        before = self.catalog.generation
        removed = self.catalog.tombstone(list(edit_ids), "removed")
        if removed:
            self.caches.after_removal(before)
        return removed

    def rebuild(self, index_type: str | None = None, target_recall: float | None = None) -> VectorIndex | None:
        """Rebuild both FAISS caches (pairs, instructions) from the catalog, optionally as another type or tuned to
        another recall target, and save them."""
        self.require_writable()
        if index_type is not None:
            self.set_index_type(index_type)
        if target_recall is not None:
            self.set_target_recall(target_recall)
        return self.caches.rebuild()

    # -- reading --------------------------------------------------------------------------------------

    @property
    def vectors(self) -> VectorIndex | None:
        """The pair FAISS cache: loaded on first use, repaired whenever it disagrees with the catalog."""
        return self.caches.vectors

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
        facets (KEY=VALUE, bound); `exclude[i]` holds edit ids to leave out of query i's results.
        """
        return searcher.search(self.caches, queries, k, where=where, contains=contains, exclude=exclude, meta=meta)

    def get_edit(self, edit_id: int) -> EditRow:
        """One live edit's catalog row; UnknownEditError for an unknown or removed id."""
        row = self.catalog.get_edit(edit_id)
        if row.get("deleted"):
            reason = row.get("deleted_reason") or "removed"
            raise UnknownEditError(f"edit {edit_id} was removed from this index ({reason})")
        return row

    def stored_vector(self, edit_id: int) -> np.ndarray:
        """The stored (unit) vector of a live edit; raises UnknownEditError."""
        assert self.model_info is not None
        return np.frombuffer(self.catalog.vector_of_edit(edit_id, self.model_info["fingerprint"]), np.float32)

    def facets(self) -> dict[str, Any]:
        """{"columns": the edits columns a filter may use, "metadata": {key: [{"value", "count"}, ...]}}."""
        return {"columns": self.catalog.edit_columns(), "metadata": self.catalog.facets()}

    def instruction_matrix(self) -> InstructionIndex:
        """The instruction vectors of the index's model behind their FAISS cache, following the catalog's writes."""
        return self.caches.instruction_index()

    def legibility(self) -> float | None:
        """How well the pair vectors read their own instructions (0.5 chance, 1 all); None without two to compare."""
        return self.records.legibility()

    def statistics(self) -> dict[str, Any] | None:
        """The statistics record of the catalog's current state (editsearch.index.statistics), or None."""
        return self.records.current()

    def keep_statistics(self, record: dict[str, Any]) -> bool:
        """Keep a statistics record computed for the catalog's state (stored where it may be); True: stored."""
        return self.records.keep(record)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: edits, vectors, model, index type, tombstones, errors, sizes."""
        return stats(self.caches)

    @classmethod
    def verify_at(cls, directory: str | Path | None = None) -> VerifyReport:
        """Open the index read-only and verify it; a catalog too damaged to open is a failed report, not an error."""
        try:
            index = cls.open(directory)
        except CatalogCorruptError as e:
            return finish(VerifyReport(ok=False, problems=[str(e)]))
        with index:
            return index.verify()

    def verify(self) -> VerifyReport:
        """Check the catalog and that the saved FAISS caches hold exactly its live vectors (editsearch.index.verify)."""
        return verify(self.caches)
