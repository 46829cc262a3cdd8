"""The FAISS caches of one index directory (pairs: vectors.faiss, instructions: instructions.faiss), made to follow
the catalog: loaded on first use, repaired when they disagree with it, rebuilt when their type or training is
stale, saved only by the writer."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from editsearch.encoder.identity import ModelRow
from editsearch.index.catalog import Catalog
from editsearch.index.instruction_index import InstructionCache, InstructionIndex
from editsearch.index.lock import WriterLock
from editsearch.index.sidecar import VectorMeta
from editsearch.index.tuning import build_tuned, retune
from editsearch.index.types import DEFAULT_TARGET_RECALL, NO_REMOVE, TRAINED, AnnParams
from editsearch.index.vectors import (
    FAISS_FILE,
    MAPPED_KINDS,
    META_FILE,
    RETRAIN_GROWTH,
    VectorIndex,
    resolve_kind,
)

log = logging.getLogger(__name__)

TOMBSTONE_REBUILD_FRACTION = 0.2  # an HNSW or PQ index is rebuilt once this share of it is tombstones


class Caches:
    """The pair and instruction FAISS caches of an index, following its catalog's generation."""

    def __init__(self, directory: Path, catalog: Catalog, lock: WriterLock, params: AnnParams | None = None):
        self.directory = directory
        self.catalog = catalog
        self.lock = lock
        self.params = params or AnnParams()
        self.explicit_params = params is not None  # search with these, not with the settings the index tuned
        self.pairs: VectorIndex | None = None
        self.generation = -1  # the catalog generation the in-memory pair cache reflects
        self.live_count = 0
        self.instructions = InstructionCache(directory)  # the instruction vectors, for instruction-aware ranking

    @property
    def model_info(self) -> ModelRow | None:
        """The index's model; None while it is empty."""
        return self.catalog.model()

    @property
    def index_type(self) -> str:
        """The requested FAISS type: flat | ivf | hnsw | pq | ivfpq-sq8 | auto (an older index with none: flat)."""
        return self.catalog.get_setting("index_type", "flat") or "flat"

    @property
    def target_recall(self) -> float:
        """The recall@10 an approximate FAISS cache tunes its search settings to reach (0.95 unless set)."""
        return float(self.catalog.get_setting("target_recall", None) or DEFAULT_TARGET_RECALL)

    @property
    def vectors(self) -> VectorIndex | None:
        """The pair cache: loaded on first use, repaired whenever it disagrees with the catalog."""
        if self.pairs is None or self.catalog.generation != self.generation:
            self.refresh()
        return self.pairs

    def refresh_all(self) -> None:
        """After a write: bring the pair and the instruction caches up to date (and save them)."""
        self.refresh()
        if self.model_info is not None:
            self.instruction_index()

    def rebuild(self) -> VectorIndex | None:
        """Rebuild both caches from the catalog and save them (the writer)."""
        self.generation = self.catalog.generation
        if self.model_info is None:
            self.pairs = None
            return None
        self.pairs = self._build()
        self._save()
        self.instruction_index(force=True)
        return self.pairs

    def refresh(self) -> None:
        """Load the pair cache and make it agree with the catalog (adding/removing ids, or rebuilding).

        A repaired cache is saved only by an index opened writable: a reader repairs it in memory and
        never writes to the directory (`rebuild` or the next build saves it). A reader maps the re-rank store
        of a saved cache that matches the catalog (editsearch.index.vectors), and loads it again, not repairs
        it, once the catalog moves on (a mapped cache cannot take vectors).
        """
        info = self.model_info
        if info is None:
            self.pairs, self.live_count = None, 0
            return
        generation = self.catalog.generation
        vi, meta = self.pairs, None
        if vi is not None and vi.kind in MAPPED_KINDS and not self.lock.held and generation != self.generation:
            vi = None  # a reader maps what the writer saved for this generation (repairs in memory if none yet)
        if vi is None:
            vi, meta = self._load_saved(generation)
        if vi is None or vi.dim != info["dim"] or (meta is not None and meta.model != info["fingerprint"]):
            vi, changed = self._build(), True
        elif meta is not None and meta.generation == generation and meta.ntotal == vi.ntotal:
            changed = False
            recorded = meta.recorded_live()
            self.live_count = recorded if recorded is not None else self.catalog.live_vector_count(info["fingerprint"])
            if recorded is None and self.lock.held:  # a sidecar saved before it recorded the count: a writer records it
                replace(meta, live=self.live_count).write(self.directory)
        else:
            changed = self._reconcile(vi) or meta is None or meta.generation != generation
        if self._needs_rebuild(vi):
            vi, changed = self._build(), True
        elif self.lock.held and (vi.tuning is None or vi.tuning.target != self.target_recall):
            self._retune(vi)  # saved before indexes tuned themselves, or asked for another target
            changed = True
        self.pairs, self.generation = vi, generation
        if changed and self.lock.held:
            self._save()

    def after_removal(self, before: int) -> None:
        """After edits were tombstoned (the catalog was at generation `before`): a saved pair cache of a type that keeps
        removed vectors as tombstones (skipped at search, as every cache's are) takes the new generation in its sidecar
        alone, neither read nor written, while its tombstones stay under the rebuild share; anything else is brought up
        to date as after any write. Removing one edit from a 1M-edit index so costs a count, not the cache's size."""
        if not self._restamp(before):
            self.refresh()

    def _restamp(self, before: int) -> bool:
        """Give the saved cache's sidecar the catalog's generation and live count if only tombstones are missing
        from it (see after_removal); False where it must be brought up to date instead."""
        info = self.model_info
        try:
            meta = VectorMeta.read(self.directory)
        except (OSError, ValueError, TypeError):
            return False
        if info is None or meta.kind not in NO_REMOVE or meta.generation != before or meta.model != info["fingerprint"]:
            return False
        if self.pairs is not None and self.generation != before:
            return False
        live = self.catalog.live_vector_count(info["fingerprint"])
        if meta.ntotal - live > TOMBSTONE_REBUILD_FRACTION * max(meta.ntotal, 1):
            return False
        if resolve_kind(self.index_type, live) != meta.kind or (meta.tuning or {}).get("target") != self.target_recall:
            return False
        generation = self.catalog.generation
        replace(meta, generation=generation, live=live).write(self.directory)
        self.live_count = live
        if self.pairs is not None:
            self.generation = generation
        return True

    def _load_saved(self, generation: int) -> tuple[VectorIndex | None, VectorMeta | None]:
        """The saved cache and its sidecar, or (None, None) with a warning if it is missing or damaged.

        A reader maps a cache that matches the catalog; one that does not (or that a writer replaced between
        the look and the load) is read into memory, where the reader can repair it.
        """
        try:
            mapped = not self.lock.held and VectorMeta.read(self.directory).generation == generation
            vi, meta = VectorIndex.load(self.directory, self.search_params(), mapped=mapped)
            if vi.mapped and meta.generation != generation:
                vi, meta = VectorIndex.load(self.directory, self.search_params())
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
        live = self.live_ids()
        have = vi.ids()
        missing = np.setdiff1d(live, have, assume_unique=True)
        extra = np.setdiff1d(have, live, assume_unique=True)
        for start in range(0, len(missing), 50_000):
            ids, mat = self.load_vectors(missing[start : start + 50_000].tolist())
            vi.add(ids, mat)
        vi.remove(extra)
        self.live_count = len(live)
        return bool(len(missing) or (len(extra) and vi.supports_remove))

    def _needs_rebuild(self, vi: VectorIndex) -> bool:
        """The requested type changed, HNSW/PQ tombstones piled up, or an IVF/PQ outgrew its training."""
        kind = resolve_kind(self.index_type, self.live_count)
        tombstones = vi.ntotal - self.live_count
        return (
            kind != vi.kind
            or tombstones > TOMBSTONE_REBUILD_FRACTION * max(vi.ntotal, 1)
            or (vi.kind in TRAINED and self.live_count > RETRAIN_GROWTH * max(vi.trained_on, 1))
        )

    def _build(self) -> VectorIndex:
        """A fresh FAISS index of the requested type over every live vector of the index's model.

        It streams: trained on a sample read by id, then filled chunk by chunk, so memory holds the index
        and one chunk, never every float32 vector at once.
        """
        info = self.model_info
        assert info is not None
        live = self.live_ids()
        kind = resolve_kind(self.index_type, len(live))
        vi = build_tuned(
            kind,
            info["dim"],
            live,
            self.load_array,
            self.live_chunks(),
            self.target_recall,
            self.params,
            self.explicit_params,
        )
        _note_shortfall(vi)
        self.live_count = len(live)
        return vi

    def _retune(self, vi: VectorIndex) -> None:
        """Tune a loaded cache's search settings to the target recall, measured on the catalog's live vectors."""
        retune(vi, self.live_ids(), self.load_array, self.live_chunks(), self.target_recall, self.params)
        if self.explicit_params:
            vi.set_params(self.params)
        _note_shortfall(vi)

    def _save(self) -> None:
        assert self.pairs is not None and self.model_info is not None
        self.pairs.save(self.directory, self.generation, self.model_info["fingerprint"], live=self.live_count)

    def neighbour_index(self, exact_max: int) -> VectorIndex | None:
        """A FAISS index to search every live vector against at once: the cache with its own settings, unless it is
        an exact Flat over more than `exact_max` vectors (an all-against-all scan grows with n²); then an IVF over the
        live vectors, tuned to the index's target recall like a cache, held in memory only (never saved)."""
        info = self.model_info
        if info is None:
            return None
        live = self.live_ids()
        if resolve_kind(self.index_type, len(live)) != "flat" or len(live) <= exact_max:
            return self.vectors
        return build_tuned("ivf", info["dim"], live, self.load_array, self.live_chunks(), self.target_recall)

    def instruction_index(self, force: bool = False) -> InstructionIndex:
        """The instruction vectors of the index's model behind their FAISS cache, following the catalog's writes."""
        info = self.model_info
        assert info is not None
        settings = {
            "index_type": self.index_type,
            "target": self.target_recall,
            "params": self.params,
            "explicit": self.explicit_params,
            "force": force,
        }
        return self.instructions.get(self.catalog, info, settings, self.lock.held)

    def search_params(self) -> AnnParams | None:
        """The AnnParams a loaded cache searches with: those passed to open, else None (its own tuned settings)."""
        return self.params if self.explicit_params else None

    def live_ids(self) -> np.ndarray:
        """The ids of the live, well-sized vectors of the index's model, ascending."""
        assert self.model_info is not None
        return np.asarray(self.catalog.live_vector_ids(self.model_info["fingerprint"]), dtype=np.int64)

    def load_array(self, vector_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of these vector ids (an array) from the catalog."""
        return self.load_vectors(vector_ids.tolist())

    def live_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) chunks of the live vectors of the index's model, by id."""
        assert self.model_info is not None
        dim = self.model_info["dim"]
        for chunk in self.catalog.iter_live_vectors(self.model_info["fingerprint"]):
            ids = np.asarray([i for i, _ in chunk], dtype=np.int64)
            yield ids, np.frombuffer(b"".join(b for _, b in chunk), dtype=np.float32).reshape(len(ids), dim)

    def load_vectors(self, vector_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of these vector ids from the catalog."""
        assert self.model_info is not None
        rows = self.catalog.vector_blobs(vector_ids)
        ids = np.asarray([i for i, _ in rows], dtype=np.int64)
        mat = np.frombuffer(b"".join(b for _, b in rows), dtype=np.float32).reshape(len(rows), self.model_info["dim"])
        return ids, mat


def _note_shortfall(vi: VectorIndex) -> None:
    """Warn when tuning could not reach its target recall."""
    if vi.tuning is not None and not vi.tuning.reached:
        log.warning("editsearch: %s", vi.tuning.note)
