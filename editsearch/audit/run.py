"""Audit every live edit of an index: score each check, set thresholds from the data, group duplicates."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks import (
    BOUNDS,
    CHECKS,
    NEIGHBOURS,
    duplicate_distances,
    duplicate_groups,
    duplicate_score,
    mismatch_scores,
    noop_scores,
)
from editsearch.audit.instructions import InstructionScorer
from editsearch.audit.neighbours import EXACT_MAX, PositionMap, cheaper_than_exact, pair_neighbours
from editsearch.audit.peers import InstructionPeers
from editsearch.audit.pixels import gone, iter_pixels, model_image_size
from editsearch.audit.signatures import SignatureTable, pair_signatures
from editsearch.audit.state import AuditState
from editsearch.audit.table import build_table
from editsearch.audit.thresholds import Threshold, data_threshold
from editsearch.errors import UsageError

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex
    from editsearch.search import EditSearch

_EDIT_COLUMNS = (
    "e.id, v.id, e.before, e.after, e.instruction, e.source, e.origin, e.before_size, e.after_size, e.metadata"
)


def audit(
    index_or_search: EditIndex | EditSearch | str | Path,
    checks: Iterable[str] = CHECKS,
    thresholds: Mapping[str, float] | None = None,
    *,
    workers: int = 0,
) -> Any:
    """Audit an index (an EditIndex, an EditSearch, or its directory): a pyarrow Table, one row per live edit.

    Columns: id, before, after, instruction, source, origin, metadata (JSON), C_score and is_C for each check C,
    duplicate_of, suggested_instruction (where mismatch or reversed flags the edit), error. The summary (counts,
    thresholds and how each was set, duplicate groups that cross sources, notes, per-edit errors) is JSON in the
    schema metadata under `table.SUMMARY_KEY`.
    """
    from editsearch.index.store import EditIndex

    if isinstance(index_or_search, (str, Path)):
        with EditIndex.open(index_or_search) as index:
            return run_audit(index, None, checks, thresholds, workers=workers)[0]
    index = getattr(index_or_search, "index", index_or_search)
    names = check_names(checks)
    model = index_or_search.model if index_or_search is not index and "reversed" in names else None
    return run_audit(index, model, names, thresholds, workers=workers)[0]


def check_names(checks: Iterable[str]) -> list[str]:
    """The checks asked for, in CHECKS order; UsageError for an unknown one."""
    asked = list(dict.fromkeys(checks))
    unknown = [c for c in asked if c not in CHECKS]
    if unknown or not asked:
        raise UsageError(f"unknown check(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(CHECKS)}")
    return [c for c in CHECKS if c in asked]


def check_thresholds(thresholds: Mapping[str, float | str]) -> dict[str, float]:
    """The thresholds given (numbers or their text), as floats; UsageError for an unknown check or a value that is
    not a finite number."""
    unknown = [c for c in thresholds if c not in CHECKS]
    if unknown:
        raise UsageError(f"a threshold for unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    out = {}
    for check, value in thresholds.items():
        try:
            out[check] = float(value)
        except (TypeError, ValueError):
            out[check] = math.nan
        if not math.isfinite(out[check]):
            raise UsageError(f"the threshold of {check} must be a finite number, got {value!r}")
    return out


def run_audit(
    index: EditIndex,
    model: Any,
    checks: Iterable[str] = CHECKS,
    thresholds: Mapping[str, float | str] | None = None,
    *,
    workers: int = 0,
    progress: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """(table, summary) of an audit; `model` is the index's EditCLIP when already loaded (else loaded if needed)."""
    names = check_names(checks)
    given = check_thresholds(thresholds or {})
    info = index.model_info
    generation = index.generation  # read before the rows: a write while they are read makes the audit stale
    state = AuditState(rows=_live_rows(index), generation=generation)
    n = len(state.rows)
    state.scores = {c: np.full(n, np.nan) for c in CHECKS}
    state.suggested = [None] * n
    if not n:
        state.notes.append("the index holds no live edits: nothing to audit")
    else:
        assert info is not None
        _forward_pass(index, state, names)
        _image_pass(index, state, names, model, workers, progress)
        if "noop" in names:
            state.scores["noop"] = noop_scores(state.signatures)
    dist = None
    if "duplicate" in names and n > 1 and state.neighbours is not None:
        dist = duplicate_distances(state.signatures, state.neighbours)
        state.scores["duplicate"] = duplicate_score(dist.min(axis=1))
    cut = {c: _threshold(c, state.scores[c], given) for c in names}
    return _assemble(state, names, cut, dist, index)


def _live_rows(index: EditIndex) -> list[tuple[Any, ...]]:
    """(id, vector id, before, after, instruction, source, origin, before size, after size, metadata JSON) of every
    live edit, by id."""
    return index.live_edit_rows(_EDIT_COLUMNS)


def _forward_pass(index: EditIndex, state: AuditState, names: list[str]) -> None:
    """Passes over the stored pair vectors: EC2T z-scores, FAISS neighbours, instruction peers."""
    n = len(state.rows)
    where = PositionMap(state.column(1))
    scorer = state.scorer = _instruction_scorer(index, state, names)
    own = scorer.own_rows(state.column(4)) if scorer is not None else np.full(n, -1)
    dim = index.model_info["dim"]  # type: ignore[index]
    peers = InstructionPeers(own, dim) if scorer is not None and "mismatch" in names else None
    vi = index.neighbour_index(EXACT_MAX) if "duplicate" in names and n > 1 else None
    if vi is not None and not cheaper_than_exact(vi):
        vi = index.vectors  # the cache itself: exact
    state.neighbours = np.full((n, NEIGHBOURS), -1, dtype=np.int64)
    state.z_forward = np.full(n, np.nan)
    for pos, mat in _vector_chunks(index, where):
        if scorer is not None:
            state.z_forward[pos] = scorer.z(mat, own[pos])
        if peers is not None:
            peers.add(pos, mat)
        if vi is not None:
            state.neighbours[pos] = pair_neighbours(vi, mat, pos, where, NEIGHBOURS)
    if "mismatch" in names:
        state.scores["mismatch"] = mismatch_scores(state.z_forward, _peer_z(index, state, peers, where))
    if "duplicate" in names and n == 1:
        state.notes.append("duplicate: a single edit has nothing to duplicate")


def _peer_z(
    index: EditIndex, state: AuditState, peers: InstructionPeers | None, where: PositionMap
) -> np.ndarray | None:
    """The instruction-peer z of every edit (a second pass over the pair vectors); None without instructions."""
    if peers is None or state.scorer is None:
        return None
    peers.settle(state.scorer.matrix, index.target_recall)
    z = np.full(len(state.rows), np.nan)
    for pos, mat in _vector_chunks(index, where):
        z[pos] = peers.z(pos, mat)
    return z


def _vector_chunks(index: EditIndex, where: PositionMap) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, float32 vectors [n, dim]) of the audited edits, chunk by chunk from the catalog."""
    dim = index.model_info["dim"]  # type: ignore[index]
    for chunk in index.iter_live_vectors():
        pos = where(np.asarray([vid for vid, _ in chunk], dtype=np.int64))
        mat = np.frombuffer(b"".join(b for _, b in chunk), dtype=np.float32).reshape(len(chunk), dim)
        known = pos >= 0  # a vector of an edit made live since the audit listed them is left out
        yield (pos, mat) if known.all() else (pos[known], mat[known])


def _instruction_scorer(index: EditIndex, state: AuditState, names: list[str]) -> InstructionScorer | None:
    """The instruction scorer, or None (with a note) when the index has too few instruction vectors."""
    if "mismatch" not in names and "reversed" not in names:
        return None
    texts, matrix = index.instruction_vectors()
    if len(texts) < 2:
        what = "no instructions" if not texts else "a single distinct instruction"
        state.notes.append(f"mismatch and reversed: the index has {what} to compare with; not scored")
        return None
    return InstructionScorer(texts, matrix)


def _image_pass(
    index: EditIndex, state: AuditState, names: list[str], model: Any, workers: int, progress: bool
) -> None:
    """Signatures from the catalog, the missing ones and the reversed pairs' vectors from decoded images."""
    n = len(state.rows)
    image_checks = {"noop", "duplicate"} & set(names)
    stored = index.signatures(state.column(0)) if image_checks else {}
    state.signatures = SignatureTable.from_blobs([stored.get(i) for i in state.column(0)])
    for p, (_, _, before, after, *_rest) in enumerate(state.rows):
        reason = gone(before) or gone(after)
        if reason:
            state.errors[p] = reason
    reverse = "reversed" in names and state.z_forward is not None and bool(np.isfinite(state.z_forward).any())
    need = ~state.signatures.known if image_checks else np.zeros(n, dtype=bool)
    if reverse:
        need |= np.isfinite(state.z_forward)  # type: ignore[arg-type]
    need[list(state.errors)] = False
    todo = np.flatnonzero(need).tolist()
    if not todo:
        return
    if reverse and model is None:
        model = _load_model(index)
    info = index.model_info
    assert info is not None
    size = model.config.image_size if model is not None else model_image_size(info["config"])
    transform = model.pair_transform if model is not None else _transform(info["config"], size)
    scorer = state.scorer if reverse else None
    own = scorer.own_rows(state.column(4)) if scorer is not None else None
    z_rev = np.full(n, np.nan)
    locators = [(p, state.rows[p][2], state.rows[p][3]) for p in todo]
    for batch in _progress(iter_pixels(locators, transform.pixels, size, workers), len(todo), progress):
        good = [(p, x) for p, x, err in batch if x is not None]
        state.errors.update({p: err for p, x, err in batch if x is None and err})
        if not good:
            continue
        pos = np.asarray([p for p, _ in good])
        pixels = np.stack([x for _, x in good])
        missing = ~state.signatures.known[pos]
        if image_checks and missing.any():
            state.signatures.fill(pos[missing], pair_signatures(pixels[missing]))
        if scorer is not None and own is not None:
            import torch

            rows = own[pos] >= 0
            if rows.any():
                swapped = torch.from_numpy(pixels[rows][:, [3, 4, 5, 0, 1, 2]])
                z_rev[pos[rows]] = scorer.z(model.embed_pair_tensors(swapped).numpy(), own[pos[rows]])
    if reverse:
        state.scores["reversed"] = z_rev - state.z_forward


def _load_model(index: EditIndex) -> Any:
    """The index's own model (refused if its weights changed since the build)."""
    from editsearch.encoder import load_model

    info = index.model_info
    assert info is not None
    model = load_model(info["name"])
    index.check_model(model.fingerprint, model.name)
    return model


def _transform(config: str | None, size: int) -> Any:
    """The pair transform of the index's model, from its stored config (no weights loaded)."""
    from editsearch.encoder.preprocess import PairTransform

    cfg = json.loads(config or "{}")
    mean = cfg.get("image_mean", (0.48145466, 0.4578275, 0.40821073))
    std = cfg.get("image_std", (0.26862954, 0.26130258, 0.27577711))
    return PairTransform(size, mean, std)


def _progress(batches: Iterable[Any], total: int, progress: bool) -> Iterable[Any]:
    from tqdm import tqdm

    with tqdm(total=total, desc="reading pairs", unit="pair", file=sys.stderr, disable=not progress) as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


def _threshold(check: str, scores: np.ndarray, given: Mapping[str, float]) -> Threshold:
    if check in given:
        return Threshold(float(given[check]), "given")
    return data_threshold(scores, BOUNDS[check])


def _assemble(
    state: AuditState, names: list[str], cut: dict[str, Threshold], dist: np.ndarray | None, index: EditIndex
) -> tuple[Any, dict[str, Any]]:
    """The table and the summary from the scores and thresholds."""
    n = len(state.rows)
    flags: dict[str, np.ndarray] = {}
    for c in names:
        value = cut[c].value
        scored = np.isfinite(state.scores[c])
        flags[c] = scored & (state.scores[c] > value) if value is not None else np.zeros(n, dtype=bool)
    kept = np.full(n, -1)
    if dist is not None and state.neighbours is not None:
        flags["duplicate"], kept = duplicate_groups(dist, state.neighbours, cut["duplicate"].value, _keep_order(state))
    wanted = np.zeros(n, dtype=bool)
    for c in ("mismatch", "reversed"):
        wanted |= flags.get(c, wanted)
    _suggest(index, state, wanted)
    return build_table(state, names, cut, flags, kept, index)


def _suggest(index: EditIndex, state: AuditState, wanted: np.ndarray) -> None:
    """The best-fitting instruction (EC2T) of the edits whose own one is flagged: mismatched or reversed."""
    if state.scorer is None or not wanted.any():
        return
    ids = [state.rows[p][0] for p in np.flatnonzero(wanted)]
    found = index.vectors_of_edits(ids, index.model_info["fingerprint"])  # type: ignore[index]
    position = {edit_id: p for p, edit_id in enumerate(state.column(0))}
    mat = np.frombuffer(b"".join(blob for _, _, blob in found), dtype=np.float32).reshape(len(found), -1)
    for (edit_id, _, _), row in zip(found, state.scorer.best(mat).tolist(), strict=True):
        state.suggested[position[edit_id]] = state.scorer.texts[row]


def _keep_order(state: AuditState) -> np.ndarray:
    """Rank of each edit as the one a duplicate group keeps: the largest image files first, then the lowest id."""
    sizes = np.asarray([(r[7] or 0) + (r[8] or 0) for r in state.rows], dtype=np.float64)
    order = np.lexsort((np.asarray(state.column(0)), -sizes))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank
