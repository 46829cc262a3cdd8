"""Searching an index: FAISS over-fetch joined back to the live edits of the catalog, filters and exclusions applied,
an exact scan of the catalog's vectors where a filter leaves few edits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from editsearch.core.errors import ModelMismatchError, UsageError
from editsearch.index.cache import Caches
from editsearch.index.catalog import EditRow
from editsearch.index.instructions import vector_ids_for_texts

EXACT_FILTER_MAX = 20_000  # a filter leaving at most this many edits is searched exactly, without FAISS


@dataclass
class Hit:
    """One search hit: the cosine score and the edit's catalog row."""

    score: float
    edit: EditRow


def search(
    caches: Caches,
    queries: np.ndarray,
    k: int = 10,
    *,
    where: str | None = None,
    contains: str | None = None,
    exclude: Sequence[Iterable[int]] | None = None,
    meta: Mapping[str, str] | None = None,
) -> list[list[Hit]]:
    """Top-k live edits by inner product for each query row (unit vectors: cosine), best first: EditIndex.search."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise UsageError(f"k must be an integer, got {k!r}")
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    queries = queries.reshape(1, -1) if queries.ndim == 1 else queries
    excludes = [set(e) for e in exclude] if exclude is not None else [set() for _ in queries]
    vi = caches.vectors
    if vi is None or vi.ntotal == 0 or k <= 0:
        return [[] for _ in queries]
    info = caches.model_info
    assert info is not None
    if queries.shape[1] != info["dim"]:
        raise ModelMismatchError(f"query vectors have dimension {queries.shape[1]}, this index holds {info['dim']}")
    allowed = None
    if where or contains or meta:
        allowed = caches.catalog.filtered_vector_ids(info["fingerprint"], where, contains, meta)
        allowed = np.asarray(allowed, np.int64)
        if len(allowed) <= EXACT_FILTER_MAX:
            return [_exact(caches, q, allowed, k, ex) for q, ex in zip(queries, excludes, strict=True)]
    # over-fetch by the expected share of hits that filters, tombstones and exclusions will drop
    live = max(caches.live_count, 1)
    selectivity = len(allowed) / live if allowed is not None else 1.0
    wanted = k + max((len(e) for e in excludes), default=0) + 8
    fetch = min(vi.ntotal, int(wanted / max(selectivity, 1e-9) * vi.ntotal / live) + 1)
    scores, ids = vi.search(queries, fetch)
    out = []
    for qi, q in enumerate(queries):
        hits, want = _collect(caches, scores[qi], ids[qi], allowed, excludes[qi], k), fetch
        while len(hits) < k and want < vi.ntotal:
            want = min(vi.ntotal, want * 4)
            s, i = vi.search(q[None], want)
            hits = _collect(caches, s[0], i[0], allowed, excludes[qi], k)
        if len(hits) < k and allowed is not None and vi.kind != "flat":
            hits = _exact(caches, q, allowed, k, excludes[qi])  # the ANN's probes held too few matches
        out.append(hits)
    return out


def _collect(
    caches: Caches, scores: np.ndarray, ids: np.ndarray, allowed: np.ndarray | None, exclude: set[int], k: int
) -> list[Hit]:
    """Keep hits that are live, allowed and not excluded; best first, ties by edit id; at most k."""
    keep = ids >= 0
    if allowed is not None:
        keep &= np.isin(ids, allowed)
    scores, ids = scores[keep], ids[keep]
    rows = caches.catalog.rows_for_vectors(ids.tolist())
    hits = [Hit(float(s), rows[int(i)]) for s, i in zip(scores, ids, strict=True) if int(i) in rows]
    hits = [h for h in hits if h.edit["id"] not in exclude]
    hits.sort(key=lambda h: (-round(h.score, 6), h.edit["id"]))
    return hits[:k]


def _exact(caches: Caches, query: np.ndarray, allowed: np.ndarray, k: int, exclude: set[int]) -> list[Hit]:
    """Exact search over a small allowed set, straight from the catalog's vectors."""
    if not len(allowed):
        return []
    ids, mat = caches.load_vectors(allowed.tolist())
    scores = mat @ query
    top = np.argsort(-scores, kind="stable")[: k + len(exclude) + 8]
    return _collect(caches, scores[top], ids[top], None, exclude, k)


def edits_for_instructions(
    caches: Caches,
    texts: Sequence[str],
    n: int,
    where: str | None = None,
    contains: str | None = None,
    meta: Mapping[str, str] | None = None,
) -> list[tuple[EditRow, np.ndarray]]:
    """Live edits (at most n) whose instruction is one of `texts`, within the filters, with their pair vectors."""
    catalog = caches.catalog
    fp = caches.model_info["fingerprint"]  # type: ignore[index]
    vids = vector_ids_for_texts(catalog, fp, texts, n)
    if where or contains or meta:
        allowed = set(catalog.filtered_vector_ids(fp, where, contains, meta))
        vids = [v for v in vids if v in allowed]
    found = catalog.rows_for_vectors(vids)
    blobs = catalog.vector_blobs([v for v in vids if v in found])
    return [(found[vid], np.frombuffer(blob, dtype=np.float32)) for vid, blob in blobs]
