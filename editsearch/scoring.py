"""Batch EC2T / EC2EC scoring of edit pairs, e.g. an editing model's outputs against instructions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from editsearch.data.records import EditPair, ImageRef, ItemError, resolve
from editsearch.errors import UsageError
from editsearch.images import ImageLike, ImageLoadError
from editsearch.limits import check_text

REF_KEYS = ("ref_before", "ref_after")
RefPair = tuple[ImageLike, ImageLike]


@dataclass
class ScoreRow:
    """One scored pair: EC2T against its instruction and EC2EC against a reference pair (None if absent)."""

    item: str
    before: str
    after: str
    instruction: str | None
    ec2t: float | None
    ec2ec: float | None
    error: str | None = None


def _refs_of(pair: EditPair, default_ref: RefPair | None, base: Path, root: Path | None) -> RefPair | None:
    """The pair's own reference (`ref_before`/`ref_after` keys, relative to `base`), else the default.

    Raises ValueError for a half or non-string reference, or one outside `root`; ImageLoadError for an unreadable one.
    """
    values = [pair.metadata.get(k) for k in REF_KEYS]
    if not any(values):
        return default_ref
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"'{REF_KEYS[0]}' and '{REF_KEYS[1]}' must both be non-empty strings")
    paths = [resolve(v.strip(), base) for v in values]
    for key, path in zip(REF_KEYS, paths, strict=True):
        if root is not None and not Path(path).resolve().is_relative_to(root):
            raise ValueError(f"{key} is outside --root {root}: {path}")
    ref_b, ref_a = (ImageRef(path).load() for path in paths)
    return ref_b, ref_a


def score_pairs(
    model: Any,
    pairs: Iterable[EditPair | ItemError],
    ref: RefPair | None = None,
    batch_size: int = 32,
    base: str | Path = ".",
    root: str | Path | None = None,
) -> Iterator[ScoreRow]:
    """Score every pair in order; a pair that fails to load yields a row with `error` set, never raises.

    Per-row references are taken relative to `base` and, with `root`, must resolve inside that folder.
    """
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    fence = Path(root).expanduser().resolve() if root is not None else None
    it = iter(pairs)
    while chunk := list(islice(it, batch_size)):
        good: list[tuple[int, Any, Any, Any]] = []
        rows: list[ScoreRow] = []
        for item in chunk:
            if isinstance(item, ItemError):
                rows.append(ScoreRow(item.item, "", "", None, None, None, item.reason))
                continue
            row = ScoreRow(item.key, item.before.locator, item.after.locator, item.instruction, None, None)
            try:
                if item.instruction is not None:
                    check_text(item.instruction, "the instruction")
                before, after = item.load()
                good.append((len(rows), before, after, _refs_of(item, ref, Path(base), fence)))
            except (ImageLoadError, OSError, ValueError, TypeError, RuntimeError) as e:  # this row's error only
                row.error = str(e)
            rows.append(row)
        if good:
            emb = model.embed_pairs([g[1] for g in good], [g[2] for g in good], batch_size=batch_size)
            texts = [(i, rows[g[0]].instruction) for i, g in enumerate(good) if rows[g[0]].instruction]
            if texts:
                t_emb = model.embed_texts([t for _, t in texts])
                for (i, _), s in zip(texts, (emb[[i for i, _ in texts]] * t_emb).sum(-1).tolist(), strict=True):
                    rows[good[i][0]].ec2t = s
            with_ref = [i for i, g in enumerate(good) if g[3] is not None]
            if with_ref:
                r_emb = model.embed_pairs([good[i][3][0] for i in with_ref], [good[i][3][1] for i in with_ref])
                for i, s in zip(with_ref, (emb[with_ref] * r_emb).sum(-1).tolist(), strict=True):
                    rows[good[i][0]].ec2ec = s
        yield from rows


def score_one(
    model: Any, before: ImageLike, after: ImageLike, text: str | None = None, ref: RefPair | None = None
) -> dict[str, float]:
    """EC2T (with `text`) and/or EC2EC (with `ref`) of a single pair."""
    out: dict[str, float] = {}
    emb = model.embed_pairs([before], [after])
    if text is not None:
        out["ec2t"] = float((emb * model.embed_texts([text])).sum())
    if ref is not None:
        out["ec2ec"] = float((emb * model.embed_pairs([ref[0]], [ref[1]])).sum())
    return out


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values, None if there are none."""
    vals = [v for v in values if v is not None]
    return float(torch.tensor(vals).mean()) if vals else None
