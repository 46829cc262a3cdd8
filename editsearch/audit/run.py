"""Audit every live edit of an index: the passes over its vectors and images, then each check (checks/): its scores,
its reliability on the collection, its threshold and its flags."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks.base import BACKWARDS, COPIES, NEIGHBOURS, PEERS, SIGNATURES, TEXT, Check, CheckResult
from editsearch.audit.checks.registry import NAMES, select
from editsearch.audit.copies import COPY_SAMPLE, Copies, make_copies
from editsearch.audit.instructions import InstructionScorer
from editsearch.audit.neighbours import EXACT_MAX, PAIR_NEIGHBOURS, PositionMap, cheaper_than_exact, pair_neighbours
from editsearch.audit.peers import InstructionPeers
from editsearch.audit.pixels import gone, iter_pixels, model_image_size
from editsearch.audit.state import AuditState, Edits
from editsearch.audit.table import build_table
from editsearch.audit.thresholds import Threshold
from editsearch.core.errors import UsageError
from editsearch.core.limits import check_memory
from editsearch.core.rng import stream
from editsearch.data.records import ImageRef
from editsearch.index.instructions import instruction_vectors
from editsearch.pairs.signatures import SignatureTable, pair_signatures
from editsearch.pairs.store import signatures as stored_signatures

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex
    from editsearch.search.api import EditSearch

# Peak memory, measured with `editsearch audit --checks noop,mismatch,duplicate` on catalogs of 20,000 and 100,000
# edits with 384-d vectors: 526 and 845 MB, about 4 KB an edit over 450 MB (a floor: wider vectors and the
# reversed check's backward vectors need more). A collection past what the machine has is refused up front.
MEMORY_PER_EDIT = 4_000
MEMORY_BASE = 450 << 20


def audit(
    index_or_search: EditIndex | EditSearch | str | Path,
    checks: Iterable[str] = NAMES,
    thresholds: Mapping[str, float] | None = None,
    *,
    workers: int = 0,
) -> Any:
    """Audit an index (an EditIndex, an EditSearch, or its directory): a pyarrow Table, one row per live edit.

    Columns: id, before, after, instruction, source, origin, metadata (JSON), C_score and is_C for each check C,
    duplicate_of, suggested_instruction (where mismatch or reversed flags the edit), error. The summary (counts,
    each check's reliability on the collection, thresholds and how each was set, duplicate groups that cross
    sources, notes, per-edit errors) is JSON in the schema metadata under `table.SUMMARY_KEY`.
    """
    from editsearch.index.store import EditIndex

    if isinstance(index_or_search, (str, Path)):
        with EditIndex.open(index_or_search) as index:
            return run_audit(index, None, checks, thresholds, workers=workers)[0]
    index = getattr(index_or_search, "index", index_or_search)
    chosen = select(checks)
    backwards = any(BACKWARDS in c.needs for c in chosen)
    model = index_or_search.model if index_or_search is not index and backwards else None
    return run_audit(index, model, [c.name for c in chosen], thresholds, workers=workers)[0]


def check_names(checks: Iterable[str]) -> list[str]:
    """The checks asked for, in the registry's order; UsageError for an unknown one."""
    return [c.name for c in select(checks)]


def check_thresholds(thresholds: Mapping[str, float | str]) -> dict[str, float]:
    """The thresholds given (numbers or their text), as floats; UsageError for an unknown check or a value that is
    not a finite number."""
    unknown = [c for c in thresholds if c not in NAMES]
    if unknown:
        raise UsageError(f"a threshold for unknown check(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
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
    checks: Iterable[str] = NAMES,
    thresholds: Mapping[str, float | str] | None = None,
    *,
    workers: int = 0,
    progress: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """(table, summary) of an audit; `model` is the index's EditCLIP when already loaded (else loaded if needed)."""
    chosen = select(checks)
    given = check_thresholds(thresholds or {})
    check_memory(index.catalog.live_edit_count(), MEMORY_PER_EDIT, MEMORY_BASE, "an audit")
    generation = index.generation  # read before the edits: a write while they are read makes the audit stale
    state = AuditState(edits=Edits.read(index), index=index, generation=generation)
    n = len(state.edits)
    state.suggested = [None] * n
    needs = frozenset().union(*(c.needs for c in chosen))
    if not n:
        state.notes.append("the index holds no live edits: nothing to audit")
    else:
        _forward_pass(index, state, needs)
        _image_pass(index, state, needs, model, workers, progress)
        if COPIES in needs:
            state.extra[COPIES] = _copies(index, state, progress)
    results = [_run_check(check, state, given) for check in chosen]
    if n and not any(r.reliability.reliable for r in results):
        state.notes.append("no check is reliable on this collection: the audit flags nothing on its own word")
    _suggest(index, state, results)
    return build_table(state, results, index)


def _run_check(check: Check, state: AuditState, given: Mapping[str, float]) -> CheckResult:
    """Score, measure the reliability, set the threshold (none for an unreliable check unless given) and flag."""
    n = len(state.edits)
    scores = check.score(state) if n else np.full(0, np.nan)
    reliability = check.reliability(state, scores)
    if check.name in given:
        how = "given" if reliability.reliable else "given, although the check is not reliable on this collection"
        threshold = Threshold(given[check.name], how)
    elif reliability.reliable:
        threshold = check.threshold(state, scores)
    else:
        threshold = Threshold(None, "the check is not reliable on this collection, so it flags nothing")
    flags = check.flags(state, scores, threshold)
    if n and not reliability.reliable:
        what = f"{int(flags.sum())} flagged by the threshold you gave" if check.name in given else "nothing flagged"
        state.notes.append(f"{check.name}: not reliable on this collection ({reliability.why}); {what}")
    return CheckResult(check, scores, reliability, threshold, flags)


def _forward_pass(index: EditIndex, state: AuditState, needs: frozenset[str]) -> None:
    """A pass over the stored pair vectors: EC2T z-scores, FAISS neighbours, instruction peers (settled after)."""
    n = len(state.edits)
    where = state.where = PositionMap(state.edits.vector_id)
    scorer = state.scorer = _instruction_scorer(index, state, needs)
    own = state.own = scorer.own_rows(state.edits.instruction) if scorer is not None else np.full(n, -1)
    dim = index.model_info["dim"]  # type: ignore[index]
    peers = InstructionPeers(own, dim) if scorer is not None and PEERS in needs else None
    vi = index.caches.neighbour_index(EXACT_MAX) if NEIGHBOURS in needs and n > 1 else None
    if vi is not None and not cheaper_than_exact(vi):
        vi = index.vectors  # the cache itself: exact
    state.neighbours = np.full((n, PAIR_NEIGHBOURS), -1, dtype=np.int64)
    state.z_forward = np.full(n, np.nan)
    for pos, mat in state.vector_chunks():
        if scorer is not None:
            state.z_forward[pos] = scorer.z(mat, own[pos])
        if peers is not None:
            peers.add(pos, mat)
        if vi is not None:
            state.neighbours[pos] = pair_neighbours(vi, mat, pos, where, PAIR_NEIGHBOURS)
    if peers is not None and scorer is not None:
        peers.settle(scorer.matrix, index.target_recall)
        state.peers = peers


def _instruction_scorer(index: EditIndex, state: AuditState, needs: frozenset[str]) -> InstructionScorer | None:
    """The instruction scorer, or None (with a note) when the index has too few instruction vectors."""
    if TEXT not in needs:
        return None
    texts, matrix = instruction_vectors(index.catalog, index.model_info)  # type: ignore[arg-type]
    if len(texts) < 2:
        what = "no instructions" if not texts else "a single distinct instruction"
        state.notes.append(f"mismatch and reversed: the index has {what} to compare with; not scored")
        return None
    return InstructionScorer(texts, matrix)


def _image_pass(
    index: EditIndex, state: AuditState, needs: frozenset[str], model: Any, workers: int, progress: bool
) -> None:
    """Signatures from the catalog, the missing ones and the pairs read backwards from decoded images."""
    edits, n = state.edits, len(state.edits)
    signatures = SIGNATURES in needs
    stored = stored_signatures(index.catalog.conn, edits.id) if signatures else {}
    state.signatures = SignatureTable.from_blobs([stored.get(i) for i in edits.id])
    for p, (before, after) in enumerate(zip(edits.before, edits.after, strict=True)):
        reason = gone(before) or gone(after)
        if reason:
            state.errors[p] = reason
    forward = state.z_forward
    reverse = BACKWARDS in needs and forward is not None and bool(np.isfinite(forward).any())
    need = ~state.signatures.known if signatures else np.zeros(n, dtype=bool)
    if reverse:
        need |= np.isfinite(forward)  # type: ignore[arg-type]
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
    scorer, own = (state.scorer, state.own) if reverse else (None, None)
    z_back = np.full(n, np.nan)
    locators = [(p, edits.before[p], edits.after[p]) for p in todo]
    for batch in _progress(iter_pixels(locators, transform.pixels, size, workers), len(todo), progress):
        good = [(p, x) for p, x, err in batch if x is not None]
        state.errors.update({p: err for p, x, err in batch if x is None and err})
        if not good:
            continue
        pos = np.asarray([p for p, _ in good])
        pixels = np.stack([x for _, x in good])
        missing = ~state.signatures.known[pos]
        if signatures and missing.any():
            state.signatures.fill(pos[missing], pair_signatures(pixels[missing]))
        if scorer is not None and own is not None:
            import torch

            rows = own[pos] >= 0
            if rows.any():
                swapped = torch.from_numpy(pixels[rows][:, [3, 4, 5, 0, 1, 2]])
                z_back[pos[rows]] = scorer.z(model.embed_pair_tensors(swapped).numpy(), own[pos[rows]])
    if reverse:
        state.z_backward = z_back


def _copies(index: EditIndex, state: AuditState, progress: bool) -> Copies:
    """Where copies of up to COPY_SAMPLE of the pairs, drawn at random, land (copies.py)."""
    from tqdm import tqdm

    readable = [p for p in range(len(state.edits)) if p not in state.errors]
    rng = stream(0, "audit-copies")
    chosen = sorted(rng.choice(readable, min(COPY_SAMPLE, len(readable)), replace=False))
    refs = [(ImageRef.from_locator(state.edits.before[p]), ImageRef.from_locator(state.edits.after[p])) for p in chosen]
    info = index.model_info
    assert info is not None
    size = model_image_size(info["config"])
    shown = tqdm(refs, desc="copying pairs", unit="pair", file=sys.stderr, disable=not progress)
    return make_copies(shown, _transform(info["config"], size).pixels, size, rng)


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


def _suggest(index: EditIndex, state: AuditState, results: list[CheckResult]) -> None:
    """The best-fitting instruction (EC2T) of the edits flagged by a check that suggests one (mismatch, reversed)."""
    wanted = np.zeros(len(state.edits), dtype=bool)
    for result in results:
        if result.check.suggests:
            wanted |= result.flags
    if state.scorer is None or not wanted.any():
        return
    ids = [state.edits.id[p] for p in np.flatnonzero(wanted)]
    found = index.catalog.vectors_of_edits(ids, index.model_info["fingerprint"])  # type: ignore[index]
    position = {edit_id: p for p, edit_id in enumerate(state.edits.id)}
    mat = np.frombuffer(b"".join(blob for _, _, blob in found), dtype=np.float32).reshape(len(found), -1)
    for (edit_id, _, _), row in zip(found, state.scorer.best(mat).tolist(), strict=True):
        state.suggested[position[edit_id]] = state.scorer.texts[row]
