"""build_map: the edit atlas of an index, fitted once, kept in the catalog, and brought up to date on each call.

The layout is derived data, kept as data only (layout.py). A fit takes a sample of at most `fit_sample`
live edits (all of them in a smaller index), lays them out with UMAP, clusters them with HDBSCAN and names
each cluster; every other edit is placed among its nearest fitted edits and takes the cluster of its
nearest fitted point. Later calls place only the edits added (or embedded anew) since, drop removed ones,
and name the clusters again whenever their live members, their instructions (or the naming rules) changed,
so that a removed edit's instruction names nothing. The layout is fitted anew when there is no usable fit
(none yet, another model, a state this code does not know, most of the fitted edits gone) or when the index
has grown to REFIT_GROWTH times the edits of a fit smaller than `fit_sample`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.atlas import clusters as cl
from editsearch.atlas import layout, store
from editsearch.atlas.agreement import alike_groups, measure
from editsearch.atlas.labels import cluster_means, from_instructions, from_vocabulary
from editsearch.atlas.table import AtlasMap
from editsearch.core.errors import NoMapError, UsageError
from editsearch.core.limits import check_memory
from editsearch.core.rng import stream
from editsearch.index.errors import EditIndexError
from editsearch.index.instructions import instruction_vectors

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

DEFAULT_FIT_SAMPLE = 50_000  # edits the layout is fitted on; the rest are placed among their nearest fitted edits
MIN_FIT = 20  # fewer live edits than this get a trivial layout (principal axes), all noise, nothing stored
REFIT_GROWTH = 4  # a fit on fewer than fit_sample edits is redone once the index holds this many times more
STATE_VERSION = 2  # version 1 kept a pickled model file beside the catalog: such a map is fitted anew
CHUNK = 20_000  # edits read from the catalog at once
# Peak memory, measured with `editsearch map` on catalogs of 20,000 and 100,000 edits with 384-d vectors: 750 and
# 1,050 MB, about 3.75 KB an edit over 675 MB (a floor for wider vectors). A collection past what the machine has
# is refused up front.
MEMORY_PER_EDIT = 3_750
MEMORY_BASE = 675 << 20
NAMING = b"names-2"  # the naming rules' version: names given by other rules are given again (see _members)

Point = tuple[int, int, float, float, int, int]  # (edit id, vector id, x, y, cluster, fitted), as the catalog keeps it


@dataclass
class FitState:
    """What the catalog keeps about the current fit (settings `map:state`)."""

    model: str  # the index model's fingerprint the layout was fitted on
    fitted: int  # edits the layout was fitted on
    seed: int
    names: dict[int, str]
    members: str = ""  # digest of the live edits' clusters and instructions the names were given for (_members)
    version: int = STATE_VERSION
    labels: dict[int, dict] = field(default_factory=dict)  # cluster -> where its name comes from (ClusterName)
    agreement: dict | None = None  # how far the clusters agree with the instructions (agreement.measure)

    def to_json(self) -> str:
        """The settings value."""
        keyed = {"names": self.names, "labels": self.labels}
        return json.dumps(
            {**vars(self), **{k: {str(c): v for c, v in d.items()} for k, d in keyed.items()}}, sort_keys=True
        )

    @classmethod
    def read(cls, raw: str | None) -> FitState | None:
        """Parse a settings value (keys it does not know are left out); None for none, or a version not this one."""
        try:
            data = json.loads(raw or "null")
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                return None
            data = {f.name: data[f.name] for f in fields(cls) if f.name in data}
            data["names"] = {int(k): str(v) for k, v in data["names"].items()}
            data["labels"] = {int(k): dict(v) for k, v in data.get("labels", {}).items()}
            return cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def build_map(
    index: EditIndex, *, fit_sample: int = DEFAULT_FIT_SAMPLE, refit: bool = False, seed: int = 0
) -> AtlasMap:
    """The atlas of a writable index: stored layout brought up to date (placing new edits), or fitted anew."""
    if fit_sample < MIN_FIT:
        raise UsageError(f"fit_sample must be at least {MIN_FIT} (got {fit_sample})")
    if not index.lock.held:
        raise EditIndexError("the map is stored in the index: open it writable (the writer lock) to build it")
    (index.directory / layout.LEGACY_MODEL_FILE).unlink(missing_ok=True)  # an older version's pickle: never read
    info = index.model_info
    live = _live(index, info)
    if not live:
        store.save_map(index, [], None, replace=True)
        return AtlasMap.empty("the index holds no edits: nothing to map")
    if len(live) < MIN_FIT:
        store.save_map(index, [], None, replace=True)
        return _trivial(index, list(live))
    check_memory(len(live), MEMORY_PER_EDIT, MEMORY_BASE, "a map")
    fp = info["fingerprint"]  # type: ignore[index]
    raw = store.map_state(index)
    state, points = FitState.read(raw), store.map_points(index)
    notes = _refit_notes(raw, state, fp, len(live), fit_sample, refit, points)
    if notes is not None:
        state = _fit(index, sorted(live), fp, fit_sample, seed)
        atlas = read_map(index)
        atlas.refitted, atlas.placed = True, len(atlas) - state.fitted
    else:
        placed = _update(index, state, points, live, fp)  # type: ignore[arg-type]
        atlas = read_map(index)
        atlas.placed = placed
    atlas.notes = (notes or []) + atlas.notes
    return atlas


def read_map(index: EditIndex, *, files: bool = True) -> AtlasMap:
    """The stored atlas as it is (no fit, no write: a reader may call it); edits not yet mapped are left out.

    With `files=False` the image locators are not read (`before` and `after` stay empty): for a view of
    positions only, a third faster on a large map.
    """
    state = FitState.read(store.map_state(index))
    points = store.map_points(index)
    if state is None or not points:
        return AtlasMap.empty("no map stored for this index yet: run `editsearch map --index DIR`")
    ids = [p[0] for p in points]
    rows = index.catalog.pair_files(ids) if files else {}
    atlas = AtlasMap(
        ids=np.array(ids, dtype=np.int64),
        before=[rows[i][0] for i in ids] if files else [],
        after=[rows[i][1] for i in ids] if files else [],
        x=np.array([p[2] for p in points], dtype=np.float32),
        y=np.array([p[3] for p in points], dtype=np.float32),
        cluster=np.array([p[4] for p in points], dtype=np.int32),
        names=dict(state.names),
        label_info=dict(state.labels),
        agreement=state.agreement,
    )
    missing = index.catalog.counts(state.model)["vectors"] - len(atlas)
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
    live = 0 if info is None else index.catalog.counts(info["fingerprint"])["vectors"]
    if not live:
        return AtlasMap.empty("the index holds no edits: nothing to map")
    if live < MIN_FIT:
        return _trivial(index, list(store.live_vector_ids_by_edit(index)))
    if not len(atlas):
        raise NoMapError("no map stored for this index yet: run `editsearch map --index DIR`, then reload")
    return atlas


def _live(index: EditIndex, info: Any) -> dict[int, int]:
    """edit id -> vector id of every live edit with a vector of the index's model."""
    return {} if info is None else store.live_vector_ids_by_edit(index)


def _refit_notes(
    raw: str | None, state: FitState | None, fp: str, live: int, fit_sample: int, refit: bool, points: list[Point]
) -> list[str] | None:
    """None when the stored fit can place new edits, else why the layout is fitted anew (notes, maybe none)."""
    if refit or raw is None:
        return []
    if state is None:
        return ["the stored map was made by another version of editsearch: fitted anew"]
    if state.model != fp:
        return ["the stored map was made with another model: fitted anew"]
    if state.fitted < fit_sample and live >= REFIT_GROWTH * state.fitted:
        return [f"the index has grown from {state.fitted} to {live} edits since the map was fitted: fitted anew"]
    if 2 * sum(p[5] for p in points) < state.fitted:
        return ["most of the edits the map was fitted on are gone: fitted anew"]
    return None


def _fit(index: EditIndex, ids: list[int], fp: str, fit_sample: int, seed: int) -> FitState:
    """Fit layout, clusters and names on a sample, place the rest, and store it all (replacing the old map)."""
    rng = stream(seed, "atlas-fit-sample")
    sample = sorted(rng.choice(ids, size=fit_sample, replace=False).tolist()) if len(ids) > fit_sample else ids
    fit_ids, fit_vids, vectors = _vectors(index.catalog.vectors_of_edits(sample, fp))
    xy = layout.fit_layout(vectors, seed)
    found = cl.cluster_layout(xy)
    fitted = layout.FittedLayout(vectors, xy, layout.neighbours(len(fit_ids)))
    state = FitState(fp, len(fit_ids), seed, {})
    store.save_map(index, _points(fit_ids, fit_vids, xy, found, fitted=1), state.to_json(), replace=True)
    chosen = set(fit_ids)
    for chunk in index.catalog.iter_map_vectors(fp, CHUNK):
        rest = [row for row in chunk if row[0] not in chosen]
        if rest:
            _store_placed(index, fitted, found, rest)
    return _named(index, state, fit_ids, vectors, found)


def _update(index: EditIndex, state: FitState, points: list[Point], live: dict[int, int], fp: str) -> int:
    """Place the live edits the stored map lacks and drop removed ones (no refit); name the clusters again if
    their members changed. Returns how many edits were placed."""
    new = sorted(set(live) - {p[0] for p in points})
    if not new and _members(index, points) == state.members:
        store.save_map(index, [], store.map_state(index), replace=False)  # drops removed edits
        return 0
    fit_ids, vectors, xy, found = _fitted(index, points, fp)
    fitted = layout.FittedLayout(vectors, xy, layout.neighbours(state.fitted))
    for start in range(0, len(new), CHUNK):
        _store_placed(index, fitted, found, index.catalog.vectors_of_edits(new[start : start + CHUNK], fp))
    orphans = _orphans(store.map_points(index))  # members of clusters left without a live fitted edit
    more_ids, _, more = _vectors(index.catalog.vectors_of_edits(sorted(orphans), fp))
    if more_ids:
        fit_ids, vectors = fit_ids + more_ids, np.concatenate([vectors, more])
        found = np.concatenate([found, np.array([orphans[i] for i in more_ids], dtype=np.int32)])
    _named(index, state, fit_ids, vectors, found)
    return len(new)


def _fitted(index: EditIndex, points: list[Point], fp: str) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """(edit ids, unit vectors [N, D], positions [N, 2], clusters [N]) of the live fitted edits."""
    stored = {i: (v, blob) for i, v, blob in index.catalog.vectors_of_edits([p[0] for p in points if p[5]], fp)}
    fit = [p for p in points if p[5] and stored.get(p[0], (None,))[0] == p[1]]
    ids, _, vectors = _vectors([(p[0], p[1], stored[p[0]][1]) for p in fit])
    xy = np.array([[p[2], p[3]] for p in fit], dtype=np.float32).reshape(-1, 2)
    return ids, vectors, xy, np.array([p[4] for p in fit], dtype=np.int32)


def _orphans(points: list[Point]) -> dict[int, int]:
    """edit id -> cluster of the placed edits in clusters none of whose fitted edits is live (named by these)."""
    kept = {p[4] for p in points if p[5]}
    return {p[0]: p[4] for p in points if not p[5] and p[4] != cl.NOISE and p[4] not in kept}


def _named(index: EditIndex, state: FitState, ids: list[int], vectors: np.ndarray, found: np.ndarray) -> FitState:
    """The state with each cluster named from its live edits' instructions (from these members' mean and the
    vocabulary where they carry none) and the map's agreement with the instructions, as stored."""
    points = store.map_points(index)
    clusters = {p[0]: p[4] for p in points}
    carried, text_vectors = _carried(index)
    members: dict[int, list[str]] = {}
    for edit, c in clusters.items():
        if c != cl.NOISE and edit in carried:
            members.setdefault(c, []).append(carried[edit])
    groups = {
        c: alike_groups(texts, text_vectors, stream(state.seed, "atlas-names", c)) for c, texts in members.items()
    }
    named = {c: from_instructions(g) for c, g in groups.items()}
    means = {c: mean for c, mean in cluster_means(vectors, found).items() if c not in named}
    named.update(from_vocabulary(means, index.embedder().text_vectors))
    state = replace(
        state,
        names={c: n.label for c, n in named.items()},
        labels={c: n.to_json() for c, n in named.items()},
        agreement=measure(clusters, carried, groups, sum(n.mixed for n in named.values())),
        members=_members(index, points),
    )
    store.save_map(index, [], state.to_json(), replace=False)
    return state


def _members(index: EditIndex, points: list[Point]) -> str:
    """A digest of the naming rules, the mapped live edits' clusters and their instructions: it moves whenever an
    edit joins or leaves a cluster or its instruction changes, and when this code names clusters otherwise than
    the code that named them."""
    said = dict(index.catalog.live_edit_rows(("id", "instruction")))
    pairs = np.array([(p[0], p[4]) for p in points], dtype=np.int64)
    texts = json.dumps([said.get(p[0]) for p in points]).encode()
    return hashlib.sha256(NAMING + pairs.tobytes() + texts).hexdigest()


def _carried(index: EditIndex) -> tuple[dict[int, str], dict[str, np.ndarray]]:
    """(edit id -> instruction, instruction -> its text-tower vector) of the live edits whose instruction has one."""
    texts, matrix = instruction_vectors(index.catalog, index.model_info)
    rows = index.catalog.live_edit_rows(("id", "instruction"))
    wanted = {text for _, text in rows if text}
    text_vectors = {text: matrix[i] for i, text in enumerate(texts) if text in wanted}
    return {edit: text for edit, text in rows if text in text_vectors}, text_vectors


def _store_placed(
    index: EditIndex, fitted: layout.FittedLayout, found: np.ndarray, rows: list[tuple[int, int, bytes]]
) -> None:
    """Place these edits among their nearest fitted ones, give each its nearest fitted point's cluster, store them."""
    ids, vids, vectors = _vectors(rows)
    xy = fitted.place(vectors)
    clusters = cl.nearest_clusters(fitted.xy, found, xy)
    store.save_map(index, _points(ids, vids, xy, clusters, fitted=0), store.map_state(index), replace=False)


def _trivial(index: EditIndex, ids: list[int]) -> AtlasMap:
    """The map of fewer than MIN_FIT edits: their principal axes, every edit noise; nothing stored."""
    fp = index.model_info["fingerprint"]  # type: ignore[index]
    ids, _, vectors = _vectors(index.catalog.vectors_of_edits(sorted(ids), fp))
    xy = layout.trivial_layout(vectors)
    rows = index.catalog.pair_files(ids)
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


def _points(ids: list[int], vids: list[int], xy: np.ndarray, found: np.ndarray, fitted: int) -> list[Point]:
    return [(i, v, float(p[0]), float(p[1]), int(c), fitted) for i, v, p, c in zip(ids, vids, xy, found, strict=True)]
