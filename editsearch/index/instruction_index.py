"""The instruction vectors behind their own FAISS cache (instructions.faiss), so a text query's instruction
component is a k-NN lookup at any number of distinct instructions.

Like vectors.faiss it is derived from the catalog (the instruction_vectors table), saved atomically with a
checksummed sidecar (instructions.json), of the index's type and self-tuned the same way. It is keyed by
instruction_vectors.id; rows are never updated or deleted, so "the cache follows the catalog" reduces to
"it holds every row up to the largest id": the sidecar's `generation` is that id, new rows are added
incrementally, and anything else (another model, a damaged file, a type change, 4x growth since training,
another recall target) rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.index.catalog import chunks
from editsearch.index.catalog.rows import keyset_pages
from editsearch.index.sidecar import VectorMeta
from editsearch.index.tuning import build_tuned
from editsearch.index.types import TRAINED
from editsearch.index.vectors import RETRAIN_GROWTH, AnnParams, VectorIndex, resolve_kind

if TYPE_CHECKING:
    from editsearch.encoder.identity import ModelRow
    from editsearch.index.catalog import Catalog

log = logging.getLogger(__name__)

INSTRUCTION_CACHE = "instructions"  # instructions.faiss + instructions.json
CHUNK = 20_000
SEEN_MAX = 10_000  # instruction vectors an InstructionIndex keeps from its top_texts reads


class InstructionIndex:
    """The instruction vectors of one model, as ranking uses them: nearest texts (FAISS) and exact cosines."""

    def __init__(self, catalog: Catalog, model: str, dim: int, vectors: VectorIndex | None, count: int):
        self.catalog = catalog
        self.model = model
        self.dim = dim
        self.vectors = vectors
        self.count = count
        self._seen: dict[str, np.ndarray] = {}  # vectors read by top_texts, which scores() then needs no read for

    def __len__(self) -> int:
        return self.count if self.vectors is not None else 0

    def top_texts(self, query: np.ndarray, n: int) -> list[str]:
        """The n instructions nearest the query, best first (a search of the instruction FAISS cache)."""
        return self.top_texts_of(np.asarray(query, np.float32)[None], n)[0]

    def top_texts_of(self, queries: np.ndarray, n: int) -> list[list[str]]:
        """The n instructions nearest each query row [Q, D], best first, from one search of the FAISS cache."""
        if self.vectors is None or n <= 0 or not self.vectors.ntotal:
            return [[] for _ in queries]
        found = [[int(i) for i in row if i >= 0] for row in self.vectors.search(np.asarray(queries, np.float32), n)[1]]
        texts: dict[int, str] = {}
        if len(self._seen) > SEEN_MAX:
            self._seen.clear()
        for chunk in chunks(sorted({i for ids in found for i in ids})):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT id, instruction, vector FROM instruction_vectors WHERE id IN ({marks}) AND length(vector) = ?"
            )
            for vid, text, blob in self.catalog.conn.execute(sql, [*chunk, 4 * self.dim]):
                texts[vid] = text
                self._seen[text] = np.frombuffer(blob, dtype=np.float32)
        return [[texts[i] for i in ids if i in texts] for ids in found]

    def scores(self, query: np.ndarray, texts: Sequence[str | None]) -> list[float | None]:
        """Cosine of the query with each text's instruction vector, read from the catalog (None: no vector)."""
        vectors = {t: self._seen[t] for t in texts if t and t in self._seen}
        wanted = sorted({t for t in texts if t and t not in vectors})
        for chunk in chunks(wanted):
            marks = ",".join("?" * len(chunk))
            cur = self.catalog.conn.execute(
                f"SELECT instruction, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? "
                f"AND instruction IN ({marks})",
                [self.model, 4 * self.dim, *chunk],
            )
            vectors.update((t, np.frombuffer(b, dtype=np.float32)) for t, b in cur)
        q = np.asarray(query, np.float32)
        return [float(vectors[t] @ q) if t in vectors else None for t in texts]


def instruction_state(catalog: Catalog, model: str, dim: int) -> tuple[int, int]:
    """(how many well-sized instruction vectors `model` has, their largest id)."""
    count, last = catalog.conn.execute(
        "SELECT count(*), coalesce(max(id), 0) FROM instruction_vectors WHERE model = ? AND length(vector) = ?",
        [model, 4 * dim],
    ).fetchone()
    return int(count), int(last)


def instruction_ids(catalog: Catalog, model: str, dim: int) -> np.ndarray:
    """The ids of `model`'s well-sized instruction vectors, ascending."""
    cur = catalog.conn.execute(
        "SELECT id FROM instruction_vectors WHERE model = ? AND length(vector) = ? ORDER BY id", [model, 4 * dim]
    )
    return np.asarray([r[0] for r in cur], dtype=np.int64)


def iter_instruction_vectors(
    catalog: Catalog, model: str, dim: int, after: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) chunks of `model`'s well-sized instruction vectors with id > after, by id."""
    sql = (
        "SELECT id, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? AND id > ? "
        "ORDER BY id LIMIT ?"
    )
    for rows in keyset_pages(catalog.conn, sql, [model, 4 * dim], CHUNK, after):
        yield id_matrix(rows, dim)


def load_instruction_vectors(catalog: Catalog, ids: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of these instruction vector ids, ascending."""
    rows: list[tuple[int, bytes]] = []
    for chunk in chunks([int(i) for i in ids]):
        marks = ",".join("?" * len(chunk))
        rows += catalog.conn.execute(f"SELECT id, vector FROM instruction_vectors WHERE id IN ({marks})", chunk)
    return id_matrix(sorted(rows), dim)


def id_matrix(rows: Sequence[tuple[int, bytes]], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N], float32 vectors [N, dim]) of (id, vector blob) rows."""
    ids = np.asarray([i for i, _ in rows], dtype=np.int64)
    return ids, np.frombuffer(b"".join(b for _, b in rows), dtype=np.float32).reshape(len(rows), dim)


class InstructionCache:
    """The instruction FAISS cache of one index directory, kept in memory and made to follow the catalog."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.vectors: VectorIndex | None = None
        self.state: tuple[str, int, int] | None = None  # (model, count, largest id) the cache reflects
        self.table_last = -1  # the largest id of the whole table when `state` was read

    def get(self, catalog: Catalog, info: ModelRow, settings: dict[str, Any], writable: bool) -> InstructionIndex:
        """The instruction index, repaired first if the catalog moved (saved only when `writable`).

        `settings`: index_type, target (recall), params (AnnParams), explicit (search with params as given),
        force (rebuild even if it agrees).
        """
        fp, dim = info["fingerprint"], info["dim"]
        table_last = catalog.conn.execute("SELECT coalesce(max(id), 0) FROM instruction_vectors").fetchone()[0]
        if self.state is None and not settings.get("force") and not writable:
            self._open_current(fp, dim, table_last, settings)
        if settings.get("force") or self.state is None or self.state[0] != fp or table_last != self.table_last:
            count, last = instruction_state(catalog, fp, dim)  # a scan: only when rows were added (never changed)
            if settings.get("force") or self.state != (fp, count, last):
                self._refresh(catalog, info, count, last, settings, writable)
            self.table_last = table_last
        assert self.state is not None
        return InstructionIndex(catalog, fp, dim, self.vectors, self.state[1])

    def _open_current(self, fp: str, dim: int, table_last: int, settings: dict[str, Any]) -> None:
        """A reader's first look: a saved cache of this model whose largest id is the table's holds every row there
        is (rows are only ever added), so it is taken as it is, with no scan of the table, its re-rank store mapped
        for the types that have one (editsearch.index.vectors); else the state stays unknown."""
        try:
            meta = VectorMeta.read(self.directory, INSTRUCTION_CACHE)
        except (OSError, ValueError):
            return
        if meta.model != fp or meta.dim != dim or meta.generation != table_last or not table_last:
            return
        vi, seen = self._load(fp, dim, settings, mapped=True)
        if vi is not None and seen == table_last and not _stale(vi, vi.ntotal, settings):
            self.vectors, self.state, self.table_last = vi, (fp, vi.ntotal, table_last), table_last

    def _refresh(
        self, catalog: Catalog, info: ModelRow, count: int, last: int, settings: dict[str, Any], writable: bool
    ) -> None:
        fp, dim = info["fingerprint"], info["dim"]
        vi, seen, changed = self.vectors, self.state[2] if self.state else 0, False
        if vi is not None and vi.mapped and seen < last:
            vi, seen = None, 0  # a mapped cache takes no vectors: load what a writer saved since, or build
        if vi is None and count:
            vi, seen = self._load(fp, dim, settings)
        if vi is not None and seen < last:
            for ids, mat in iter_instruction_vectors(catalog, fp, dim, after=seen):
                vi.add(ids, mat)
            changed = True
        if count and (vi is None or vi.ntotal != count or settings.get("force") or _stale(vi, count, settings)):
            params, explicit = settings.get("params") or AnnParams(), bool(settings.get("explicit"))
            kind = resolve_kind(settings["index_type"], count)
            ids = instruction_ids(catalog, fp, dim)
            vi = build_tuned(
                kind,
                dim,
                ids,
                lambda some: load_instruction_vectors(catalog, some, dim),
                iter_instruction_vectors(catalog, fp, dim),
                settings["target"],
                params,
                explicit,
            )
            changed = True
        self.vectors, self.state = (vi if count else None), (fp, count, last)
        if changed and writable and vi is not None:
            vi.save(self.directory, last, fp, INSTRUCTION_CACHE)

    def _load(
        self, fp: str, dim: int, settings: dict[str, Any], mapped: bool = False
    ) -> tuple[VectorIndex | None, int]:
        """The saved cache and the largest id it holds, or (None, 0) when it is absent, damaged or another model's;
        `mapped`: its re-rank store mapped, read-only (a cache that takes no more vectors)."""
        params = settings.get("params") if settings.get("explicit") else None
        try:
            vi, meta = VectorIndex.load(self.directory, params, INSTRUCTION_CACHE, mapped=mapped)
        except (OSError, ValueError, TypeError) as e:
            if (self.directory / f"{INSTRUCTION_CACHE}.faiss").exists():
                log.warning(
                    "editsearch: the instruction FAISS cache of %s is unusable (%s); rebuilt", self.directory, e
                )
            return None, 0
        if meta.model != fp or vi.dim != dim:
            return None, 0
        return vi, meta.generation


def _stale(vi: VectorIndex, count: int, settings: dict[str, Any]) -> bool:
    """Another type is asked for, the index outgrew its training, or it was tuned to another target."""
    return (
        resolve_kind(settings["index_type"], count) != vi.kind
        or (vi.kind in TRAINED and count > RETRAIN_GROWTH * max(vi.trained_on, 1))
        or (vi.tuning is not None and vi.tuning.target != settings["target"])
    )
