"""build_map: the edit atlas of an index, fitted once, kept in the catalog, and brought up to date on each call.

The layout is derived data. A fit takes a sample of at most `fit_sample` live edits (all of them in a
smaller index), lays them out with UMAP, clusters them with HDBSCAN and names each cluster; every other
edit is placed by the fitted model's `transform` and takes the cluster of its nearest fitted neighbour.
Later calls place only the edits added (or embedded anew) since, and drop removed ones; the layout is
fitted anew when there is no usable fit (none yet, another model, a model file that does not match its
checksum) or when the index has grown to REFIT_GROWTH times the edits of a fit smaller than `fit_sample`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.atlas import clusters as cl
from editsearch.atlas import layout
from editsearch.atlas.labels import cluster_means, name_clusters
from editsearch.atlas.table import AtlasMap
from editsearch.errors import NoMapError, UsageError
from editsearch.index.catalog import MAP_STATE
from editsearch.index.errors import EditIndexError
from editsearch.rng import stream

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

DEFAULT_FIT_SAMPLE = 50_000  # edits the layout is fitted on; the rest are placed by its transform
MIN_FIT = 20  # fewer live edits than this get a trivial layout (principal axes), all noise, nothing stored
REFIT_GROWTH = 4  # a fit on fewer than fit_sample edits is redone once the index holds this many times more
STATE_VERSION = 1
CHUNK = 20_000  # edits read from the catalog at once


@dataclass
class FitState:
    """What the catalog keeps about the current fit (settings `map:state`)."""

    model: str  # the index model's fingerprint the layout was fitted on
    sha256: str  # of the pickled layout model file
    fitted: int  # edits the layout was fitted on
    seed: int
    names: dict[int, str]
    version: int = STATE_VERSION

    def to_json(self) -> str:
        """The settings value."""
        return json.dumps({**vars(self), "names": {str(k): v for k, v in self.names.items()}}, sort_keys=True)

    @classmethod
    def read(cls, raw: str | None) -> FitState | None:
        """Parse a settings value; None for none, or one this code does not know."""
        try:
            data = json.loads(raw or "null")
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                return None
            data["names"] = {int(k): str(v) for k, v in data["names"].items()}
            return cls(**data)
        except (ValueError, TypeError, KeyError):
            return None


def build_map(
    index: EditIndex, *, fit_sample: int = DEFAULT_FIT_SAMPLE, refit: bool = False, seed: int = 0
) -> AtlasMap:
    """The atlas of a writable index: stored layout brought up to date (placing new edits), or fitted anew."""
    if fit_sample < MIN_FIT:
        raise UsageError(f"fit_sample must be at least {MIN_FIT} (got {fit_sample})")
    if not index.lock.held:
        raise EditIndexError("the map is stored in the index: open it writable (the writer lock) to build it")
    info = index.model_info
    live = _live(index, info)
    if not live:
        index.save_map([], None, replace=True)
        return AtlasMap.empty("the index holds no edits: nothing to map")
    if len(live) < MIN_FIT:
        index.save_map([], None, replace=True)
        return _trivial(index, list(live))
    fp = info["fingerprint"]  # type: ignore[index]
    state = FitState.read(index.setting(MAP_STATE))
    model, notes = _usable_fit(index, state, fp, len(live), fit_sample, refit)
    if model is None:
        state = _fit(index, sorted(live), fp, fit_sample, seed)
        atlas = read_map(index)
        atlas.refitted, atlas.placed = True, len(atlas) - state.fitted
    else:
        placed = _place_new(index, model, live, fp, state.fitted)  # type: ignore[union-attr]
        atlas = read_map(index)
        atlas.placed = placed
    atlas.notes = notes + atlas.notes
    return atlas


def read_map(index: EditIndex, *, files: bool = True) -> AtlasMap:
    """The stored atlas as it is (no fit, no write: a reader may call it); edits not yet mapped are left out.

    With `files=False` the image locators are not read (`before` and `after` stay empty): for a view of
    positions only, a third faster on a large map.
    """
    state = FitState.read(index.setting(MAP_STATE))
    points = index.map_points()
    if state is None or not points:
        return AtlasMap.empty("no map stored for this index yet: run `editsearch map --index DIR`")
    ids = [p[0] for p in points]
    rows = index.map_rows(ids) if files else {}
    atlas = AtlasMap(
        ids=np.array(ids, dtype=np.int64),
        before=[rows[i][0] for i in ids] if files else [],
        after=[rows[i][1] for i in ids] if files else [],
        x=np.array([p[2] for p in points], dtype=np.float32),
        y=np.array([p[3] for p in points], dtype=np.float32),
        cluster=np.array([p[4] for p in points], dtype=np.int32),
        names=dict(state.names),
    )
    missing = index.vector_count(state.model) - len(atlas)
    if missing > 0:
        atlas.notes.append(f"{missing} edits added since the map was built are not on it: run `editsearch map`")
    if not state.names:
        atlas.notes.append("no clusters found: every edit is noise (edits too few or too evenly spread)")
    return atlas


def view_map(index: EditIndex, *, files: bool = True) -> AtlasMap:
    """The map a reader shows (no write): the stored one, or for fewer than MIN_FIT edits their trivial layout.

    `build_map` never stores the map of so few edits, so a reader lays them out itself, as `map` would.
    NoMapError when the index holds MIN_FIT edits or more and no map is stored. `files` as for read_map.
    """
    atlas = read_map(index, files=files)
    if len(atlas) >= MIN_FIT:  # so many live edits on it: no need to count them
        return atlas
    info = index.model_info
    live = 0 if info is None else index.vector_count(info["fingerprint"])
    if not live:
        return AtlasMap.empty("the index holds no edits: nothing to map")
    if live < MIN_FIT:
        return _trivial(index, list(index.live_vector_ids_by_edit()))
    if not len(atlas):
        raise NoMapError("no map stored for this index yet: run `editsearch map --index DIR`, then reload")
    return atlas


def _live(index: EditIndex, info: Any) -> dict[int, int]:
    """edit id -> vector id of every live edit with a vector of the index's model."""
    return {} if info is None else index.live_vector_ids_by_edit()


def _usable_fit(
    index: EditIndex, state: FitState | None, fp: str, live: int, fit_sample: int, refit: bool
) -> tuple[Any | None, list[str]]:
    """The stored layout model if it can place new edits, else (None, why it is fitted anew)."""
    if refit or state is None:
        return None, []
    if state.model != fp:
        return None, ["the stored map was made with another model: fitted anew"]
    if state.fitted < fit_sample and live >= REFIT_GROWTH * state.fitted:
        return None, [f"the index has grown from {state.fitted} to {live} edits since the map was fitted: fitted anew"]
    model = layout.load_model(index.directory, state.sha256)
    if model is None:
        return None, [f"the stored layout model ({layout.MODEL_FILE}) is missing or does not match: fitted anew"]
    return model, []


def _fit(index: EditIndex, ids: list[int], fp: str, fit_sample: int, seed: int) -> FitState:
    """Fit layout, clusters and names on a sample, place the rest, and store it all (replacing the old map)."""
    rng = stream(seed, "atlas-fit-sample")
    sample = sorted(rng.choice(ids, size=fit_sample, replace=False).tolist()) if len(ids) > fit_sample else ids
    fit_ids, fit_vids, vectors = _vectors(index.vectors_of_edits(sample, fp))
    model, xy = layout.fit_layout(vectors, seed)
    found = cl.cluster_layout(xy)
    names = name_clusters(
        cluster_means(vectors, found),
        _instructed(index, fit_ids, found),
        index.instruction_vectors(),
        index.embedder().text_vectors,
    )
    sha = layout.save_model(model, index.directory)
    state = FitState(fp, sha, len(fit_ids), seed, names)
    points = _points(fit_ids, fit_vids, xy, found, fitted=1)
    index.save_map(points, state.to_json(), replace=True)
    chosen = set(fit_ids)
    for chunk in index.iter_map_vectors(fp, CHUNK):
        rest = [row for row in chunk if row[0] not in chosen]
        if rest:
            _store_placed(index, model, rest, xy, found)
    return state


def _place_new(index: EditIndex, model: Any, live: dict[int, int], fp: str, fitted: int) -> int:
    """Place the live edits the stored map lacks (by transform, no refit); returns how many."""
    points = index.map_points()
    mapped = {p[0] for p in points}
    new = sorted(set(live) - mapped)
    fit = [p for p in points if p[5]]
    fit_xy = np.array([[p[2], p[3]] for p in fit], dtype=np.float32).reshape(-1, 2)
    fit_clusters = np.array([p[4] for p in fit], dtype=np.int32)
    for start in range(0, len(new), CHUNK):
        _store_placed(index, model, index.vectors_of_edits(new[start : start + CHUNK], fp), fit_xy, fit_clusters)
    if not new:
        index.save_map([], index.setting(MAP_STATE), replace=False)  # drops removed edits
    return len(new)


def _store_placed(
    index: EditIndex, model: Any, rows: list[tuple[int, int, bytes]], fit_xy: np.ndarray, fit_clusters: np.ndarray
) -> None:
    """Place these edits by the model's transform, give each its nearest fitted point's cluster, store them."""
    ids, vids, vectors = _vectors(rows)
    xy = layout.place(model, vectors)
    found = cl.nearest_clusters(fit_xy, fit_clusters, xy)
    index.save_map(_points(ids, vids, xy, found, fitted=0), index.setting(MAP_STATE), replace=False)


def _trivial(index: EditIndex, ids: list[int]) -> AtlasMap:
    """The map of fewer than MIN_FIT edits: their principal axes, every edit noise; nothing stored."""
    fp = index.model_info["fingerprint"]  # type: ignore[index]
    ids, _, vectors = _vectors(index.vectors_of_edits(sorted(ids), fp))
    xy = layout.trivial_layout(vectors)
    rows = index.map_rows(ids)
    note = f"only {len(ids)} edits (a map needs at least {MIN_FIT}): laid out on their principal axes, all noise"
    return AtlasMap(
        ids=np.array(ids, dtype=np.int64),
        before=[rows[i][0] for i in ids],
        after=[rows[i][1] for i in ids],
        x=xy[:, 0].copy(),
        y=xy[:, 1].copy(),
        cluster=np.full(len(ids), cl.NOISE, dtype=np.int32),
        notes=[note],
    )


def _vectors(rows: list[tuple[int, int, bytes]]) -> tuple[list[int], list[int], np.ndarray]:
    """(edit ids, vector ids, [N, D] float32 matrix) of catalog rows."""
    matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, _, blob in rows]) if rows else np.zeros((0, 0))
    return [r[0] for r in rows], [r[1] for r in rows], matrix


def _points(
    ids: list[int], vids: list[int], xy: np.ndarray, found: np.ndarray, fitted: int
) -> list[tuple[int, int, float, float, int, int]]:
    return [(i, v, float(p[0]), float(p[1]), int(c), fitted) for i, v, p, c in zip(ids, vids, xy, found, strict=True)]


def _instructed(index: EditIndex, ids: list[int], found: np.ndarray) -> set[int]:
    """Clusters most of whose fitted edits carry an instruction with a stored vector."""
    stored = set(index.instruction_vectors()[0])
    rows = index.map_rows(ids)
    has = np.array([rows[i][2] in stored for i in ids], dtype=bool)
    return {int(c) for c in np.unique(found[found != cl.NOISE]) if has[found == c].mean() >= 0.5}
