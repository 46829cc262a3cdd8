"""`apply --method visii`: the exemplar (and its nearest edits), a learned instruction kept in the catalog, the edit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from editsearch.errors import UsageError
from editsearch.images import ImageLike
from editsearch.transfer.exemplar import Exemplar
from editsearch.transfer.methods import MethodOutput, MethodReport, ec2ec_scores, load_queries
from editsearch.transfer.visii import InversionSettings, LearnedInstruction, Pair, Visii


@dataclass
class VisiiRun:
    """How to apply: the inversion settings, the sampling settings, the hybrid text, noise reuse."""

    inversion: InversionSettings
    text: str | None = None
    steps: int = 50
    seed: int = 0
    guidance: float = 7.5
    image_guidance: float = 1.5
    size: int | None = None
    reuse_noise: bool = False


def neighbour_pairs(index_dir: str | Path | None, edit_id: int, k: int) -> tuple[list[Pair], list[int]]:
    """The K nearest edits of an indexed edit (EC2EC on stored vectors) as loaded pairs, and their ids."""
    from editsearch.data.records import ImageRef
    from editsearch.search import EditSearch

    if k < 1:
        return [], []
    with EditSearch.open(index_dir) as search:
        hits = search.search_edit(edit_id, k=k)
    pairs = [(ImageRef.from_locator(h.before).load(), ImageRef.from_locator(h.after).load()) for h in hits]
    return pairs, [int(h.id) for h in hits if h.id is not None]


def stored_instruction(
    index_dir: str | Path | None, edit_id: int, pipeline: str, key: str, settings: InversionSettings
) -> LearnedInstruction | None:
    """The instruction learned earlier for this edit, pipeline and settings key, or None."""
    from editsearch.index.store import EditIndex

    with EditIndex.open(index_dir) as index:
        row = index.visii_instruction(edit_id, pipeline, key)
    if row is None:
        return None
    flat = np.frombuffer(row["embeddings"], dtype=np.float32).copy()
    embeddings = torch.from_numpy(flat.reshape(row["tokens"], row["width"]))
    return LearnedInstruction(embeddings, settings, loss=row["loss"], seconds=row["seconds"] or 0.0, reused=True)


def keep_instruction(
    index_dir: str | Path | None, edit_id: int, pipeline: str, key: str, learned: LearnedInstruction
) -> None:
    """Store a learned instruction beside its edit (the writer lock is taken only for this write)."""
    from editsearch.index.store import EditIndex

    blob = learned.embeddings.float().numpy().astype(np.float32).tobytes()
    with EditIndex.open(index_dir, writable=True) as index:
        index.save_visii_instruction(
            edit_id, pipeline, key, tuple(learned.embeddings.shape), blob, loss=learned.loss, seconds=learned.seconds
        )


def learn(
    visii: Visii,
    exemplar: Exemplar,
    inversion: InversionSettings,
    index_dir: str | Path | None = None,
    neighbours: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[LearnedInstruction, list[int]]:
    """The exemplar's instruction: reused from the catalog for an indexed edit when present, else learned (and kept).

    With `neighbours` K > 0 (an indexed edit only) the edit's K nearest edits join it: the paper's n-pair variant.
    """
    if exemplar.edit_id is None and neighbours:
        raise UsageError("--neighbours needs an indexed edit: pass --edit-id N (with --index)")
    if inversion.init_text is None and exemplar.instruction:
        inversion = InversionSettings(**{**asdict(inversion), "init_text": exemplar.instruction})
    extra, ids = neighbour_pairs(index_dir, exemplar.edit_id, neighbours) if neighbours else ([], [])
    pairs = [(exemplar.before, exemplar.after), *extra]
    key = inversion.key({"pairs": len(pairs), "neighbours": ids})
    if exemplar.edit_id is not None:
        stored = stored_instruction(index_dir, exemplar.edit_id, visii.name, key, inversion)
        if stored is not None:
            stored.pairs = len(pairs)
            return stored, ids
    learned = visii.invert(pairs, inversion, progress)
    if exemplar.edit_id is not None:
        keep_instruction(index_dir, exemplar.edit_id, visii.name, key, learned)
    return learned, ids


def apply_visii(
    visii: Visii,
    exemplar: Exemplar,
    images: Sequence[ImageLike],
    run: VisiiRun,
    *,
    index_dir: str | Path | None = None,
    neighbours: int = 0,
    editclip: Any = None,
    progress: Callable[[int, float], None] | None = None,
) -> MethodReport:
    """Learn (or reuse) the exemplar's instruction, apply it to each readable image, score with `editclip` if given."""
    started = time.perf_counter()
    loaded, failed = load_queries(images)
    learned, ids = learn(visii, exemplar, run.inversion, index_dir, neighbours, progress)
    inverted = time.perf_counter()
    sampling = {k: v for k, v in asdict(run).items() if k != "inversion"}
    queries = [img for _, _, img in loaded]
    outputs = visii.apply(learned, queries, **sampling)
    applied = time.perf_counter()
    scores = ec2ec_scores(editclip, exemplar.before, exemplar.after, queries, outputs) if editclip else None
    report = MethodReport(
        "visii",
        visii.name,
        {**sampling, "inversion": asdict(learned.settings), "clip": visii.clip_name, "device": str(visii.device)},
        {
            "edit": exemplar.describe(),
            "neighbours": ids,
            "pairs": 1 + len(ids),
            "reused": learned.reused,
            "tokens": learned.tokens,
            "loss": learned.loss,
        },
        [
            MethodOutput(i, name, out, scores[j] if scores else None)
            for j, ((i, name, _), out) in enumerate(zip(loaded, outputs, strict=True))
        ],
        failed,
    )
    report.timings = {
        "invert_s": 0.0 if learned.reused else round(inverted - started, 3),
        "apply_s": round(applied - inverted, 3),
        "per_image_s": round((applied - inverted) / len(queries), 3),
    }
    return report
