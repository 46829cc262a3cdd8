"""`apply --method visii`: the exemplar (and its nearest edits), a learned instruction kept in the catalog, the edit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from editsearch.core.errors import UsageError
from editsearch.media.images import ImageLike
from editsearch.transfer.exemplar import Exemplar
from editsearch.transfer.methods.common import ec2ec_scores, load_queries
from editsearch.transfer.methods.report import Applied, ApplyReport
from editsearch.transfer.pipeline_names import is_demonstration
from editsearch.transfer.projector import OFFICIAL_WEIGHTS
from editsearch.transfer.visii import (
    InversionDivergedError,
    InversionSettings,
    LearnedInstruction,
    Pair,
    VisiiBase,
    pairs_digest,
)


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
    from editsearch.search.api import EditSearch

    if k < 1:
        return [], []
    with EditSearch.open(index_dir) as search:
        hits = search.search_edit(edit_id, k=k)
    pairs = [(ImageRef.from_locator(h.before).load(), ImageRef.from_locator(h.after).load()) for h in hits]
    return pairs, [int(h.id) for h in hits if h.id is not None]


def load_visii(model: str | Path | None = None, clip: str | Path | None = None, device: str | None = None) -> VisiiBase:
    """The VISII of a pipeline: EditCLIP-conditioned (default: the shipped editclip-ip2p-mini) or text-conditioned.

    A registry name, or a folder holding the projector, is EditCLIP-conditioned; anything else (a folder or hub id)
    must be a stock text-conditioned InstructPix2Pix, loaded with its CLIP (`clip`).
    """
    from editsearch.transfer.pipeline_names import DEFAULT_PIPELINE, PIPELINES
    from editsearch.transfer.visii import Visii
    from editsearch.transfer.visii_editclip import EditVisii

    name = str(model or DEFAULT_PIPELINE)
    folder = Path(name).expanduser()
    registered = name in PIPELINES or any(name == src.location for src in PIPELINES.values() if src.kind == "hub")
    if registered or (folder.is_dir() and (folder / OFFICIAL_WEIGHTS).is_file()):
        if clip is not None:
            raise UsageError(
                f"--clip-model goes with a text-conditioned InstructPix2Pix; {name} is EditCLIP-conditioned "
                "(its VISII has no CLIP term)"
            )
        return EditVisii.from_pretrained(name, device)
    return Visii.from_pretrained(name, clip, device)


def reuse_key(visii: VisiiBase, inversion: InversionSettings, pairs: Sequence[Pair], neighbours: list[int]) -> str:
    """The key a learned instruction is kept under: the settings, the exemplar pixels and the pipeline's weights."""
    extra = {"pairs": len(pairs), "neighbours": neighbours, "images": pairs_digest(pairs)}
    return inversion.key(extra | {"weights": visii.fingerprint})


def stored_instruction(
    index_dir: str | Path | None, edit_id: int, pipeline: str, key: str, settings: InversionSettings
) -> LearnedInstruction | None:
    """The instruction learned earlier for this edit, pipeline and key, or None (also for one not finite)."""
    from editsearch.index.store import EditIndex
    from editsearch.transfer.store import visii_instruction

    with EditIndex.open(index_dir) as index:
        row = visii_instruction(index, edit_id, pipeline, key)
    if row is None:
        return None
    flat = np.frombuffer(row["embeddings"], dtype=np.float32).copy()
    if not np.isfinite(flat).all() or flat.size != row["tokens"] * row["width"]:
        return None
    embeddings = torch.from_numpy(flat.reshape(row["tokens"], row["width"]))
    return LearnedInstruction(embeddings, settings, loss=row["loss"], seconds=row["seconds"] or 0.0, reused=True)


def keep_instruction(
    index_dir: str | Path | None, edit_id: int, pipeline: str, key: str, learned: LearnedInstruction
) -> None:
    """Store a learned instruction beside its edit (the writer lock is taken only for this write); never a NaN."""
    from editsearch.index.store import EditIndex
    from editsearch.transfer.store import save_visii_instruction

    values = learned.embeddings.detach().float().cpu().numpy().astype(np.float32)
    if not np.isfinite(values).all() or (learned.loss is not None and not np.isfinite(learned.loss)):
        raise InversionDivergedError(f"refusing to keep a VISII instruction that is not finite (edit {edit_id})")
    with EditIndex.open(index_dir, writable=True) as index:
        save_visii_instruction(
            index,
            edit_id,
            pipeline,
            key,
            tuple(values.shape),
            values.tobytes(),
            loss=learned.loss,
            seconds=learned.seconds,
        )


def learn(
    visii: VisiiBase,
    exemplar: Exemplar,
    inversion: InversionSettings,
    index_dir: str | Path | None = None,
    neighbours: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[LearnedInstruction, list[int]]:
    """The exemplar's instruction: reused from the catalog for an indexed edit when present, else learned (and kept).

    Reuse needs the same settings, the same exemplar pixels (an edit whose files changed learns anew) and the
    same pipeline weights. With `neighbours` K > 0 (an indexed edit only) the edit's K nearest edits join it:
    the paper's n-pair variant.
    """
    if exemplar.edit_id is None and neighbours:
        raise UsageError("--neighbours needs an indexed edit: pass --edit-id N (with --index)")
    if visii.takes_text and inversion.init_text is None and exemplar.instruction:
        inversion = InversionSettings(**{**asdict(inversion), "init_text": exemplar.instruction})
    extra, ids = neighbour_pairs(index_dir, exemplar.edit_id, neighbours) if neighbours else ([], [])
    pairs = [(exemplar.before, exemplar.after), *extra]
    if exemplar.edit_id is None:
        return visii.invert(pairs, inversion, progress), ids
    key = reuse_key(visii, inversion, pairs, ids)
    stored = stored_instruction(index_dir, exemplar.edit_id, visii.name, key, inversion)
    if stored is not None:
        stored.pairs = len(pairs)
        return stored, ids
    learned = visii.invert(pairs, inversion, progress)
    keep_instruction(index_dir, exemplar.edit_id, visii.name, key, learned)
    return learned, ids


def apply_visii(
    visii: VisiiBase,
    exemplar: Exemplar,
    images: Sequence[ImageLike],
    run: VisiiRun,
    *,
    index_dir: str | Path | None = None,
    neighbours: int = 0,
    editclip: Any = None,
    progress: Callable[[int, float], None] | None = None,
) -> ApplyReport:
    """Learn (or reuse) the exemplar's instruction, apply it to each readable image, score with `editclip` if given."""
    started = time.perf_counter()
    visii.refuse_text(run.text)  # before any optimisation
    loaded, failed = load_queries(images)
    learned, ids = learn(visii, exemplar, run.inversion, index_dir, neighbours, progress)
    inverted = time.perf_counter()
    sampling = {k: v for k, v in asdict(run).items() if k != "inversion"}
    queries = [img for _, _, img in loaded]
    outputs = visii.apply(learned, queries, **sampling)
    applied = time.perf_counter()
    scores = ec2ec_scores(editclip, exemplar.before, exemplar.after, queries, outputs) if editclip else None
    report = ApplyReport(
        "visii",
        visii.name,
        {
            **sampling,
            "inversion": asdict(learned.settings),
            "clip": visii.clip_name or None,
            "device": str(visii.device),
        },
        exemplar.describe(),
        editclip.name if editclip else None,
        {
            "neighbours": ids,
            "pairs": 1 + len(ids),
            "conditioning": "text" if visii.takes_text else "editclip",
            "reused": learned.reused,
            "tokens": learned.tokens,
            "loss": learned.loss,
        },
        [
            Applied(i, name, out, scores[j] if scores else None)
            for j, ((i, name, _), out) in enumerate(zip(loaded, outputs, strict=True))
        ],
        failed,
        demonstration=is_demonstration(visii.name),
    )
    report.timings = {
        "invert_s": 0.0 if learned.reused else round(inverted - started, 3),
        "apply_s": round(applied - inverted, 3),
        "per_image_s": round((applied - inverted) / len(queries), 3),
    }
    return report
