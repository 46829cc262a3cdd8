"""Batch EC2T / EC2EC scoring of edit pairs, e.g. an editing model's outputs against instructions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from editsearch.core.errors import EditSearchError, UsageError
from editsearch.core.limits import check_text
from editsearch.data.records import EditPair, ImageRef, ItemError, resolve
from editsearch.encoder.embedder import Embedder
from editsearch.media.images import ImageLike, load_image
from editsearch.search.vocabulary import EDIT_PHRASES

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

    Raises UsageError for a half or non-string reference, or one outside `root`; ImageLoadError for an unreadable one.
    """
    values = [pair.metadata.get(k) for k in REF_KEYS]
    if not any(values):
        return default_ref
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise UsageError(f"'{REF_KEYS[0]}' and '{REF_KEYS[1]}' must both be non-empty strings")
    paths = [resolve(v.strip(), base) for v in values]
    for key, path in zip(REF_KEYS, paths, strict=True):
        if root is not None and not Path(path).resolve().is_relative_to(root):
            raise UsageError(f"{key} is outside --root {root}: {path}")
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

    `model` is a name, folder, EditCLIP or Embedder (its ONNX towers embed when exported). Per-row references
    are taken relative to `base` and, with `root`, must resolve inside that folder.
    """
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    embedder = model if isinstance(model, Embedder) else Embedder(model)
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
            except (EditSearchError, OSError) as e:  # this row's error only
                row.error = str(e)
            rows.append(row)
        if good:
            _score_chunk(embedder, good, rows, batch_size)
        yield from rows


def _score_chunk(embedder: Embedder, good: list[tuple[int, Any, Any, Any]], rows: list[ScoreRow], batch: int) -> None:
    """Fill in EC2T (rows with an instruction) and EC2EC (rows with a reference) of a chunk's loaded pairs."""
    emb = embedder.pair_vectors([(g[1], g[2]) for g in good], batch_size=batch)
    texts = [(i, rows[g[0]].instruction) for i, g in enumerate(good) if rows[g[0]].instruction]
    if texts:
        t_emb = embedder.text_vectors([t for _, t in texts])
        for (i, _), s in zip(texts, (emb[[i for i, _ in texts]] * t_emb).sum(-1).tolist(), strict=True):
            rows[good[i][0]].ec2t = s
    with_ref = [i for i, g in enumerate(good) if g[3] is not None]
    if with_ref:
        r_emb = embedder.pair_vectors([good[i][3] for i in with_ref], batch_size=batch)
        for i, s in zip(with_ref, (emb[with_ref] * r_emb).sum(-1).tolist(), strict=True):
            rows[good[i][0]].ec2ec = s


def score_one(
    model: Any, before: ImageLike, after: ImageLike, text: str | None = None, ref: RefPair | None = None
) -> dict[str, Any]:
    """EC2T (with `text`) and/or EC2EC (with `ref`) of a single pair, with where the EC2T falls.

    `ec2t_rank` is the text's rank (of `ec2t_among`) among itself and the shipped EDIT_PHRASES by EC2T of this
    pair (1: it fits the text better than any of those instructions); `ec2t_percentile`, the share it beats.
    """
    if text is not None and not text.strip():
        raise UsageError("the text is empty: give the instruction to score against")
    embedder = model if isinstance(model, Embedder) else Embedder(model)
    emb = embedder.pair_vectors([(load_image(before), load_image(after))])[0]
    out: dict[str, Any] = {}
    if text is not None:
        others = [p for p in EDIT_PHRASES if p.casefold() != text.strip().casefold()]
        sims = embedder.text_vectors([check_text(text, "the text"), *others]) @ emb
        out["ec2t"] = float(sims[0])
        out["ec2t_rank"] = int((sims[1:] > sims[0]).sum()) + 1
        out["ec2t_among"] = len(sims)
        out["ec2t_percentile"] = round(float((sims[1:] < sims[0]).mean()) * 100, 1)
    if ref is not None:
        out["ec2ec"] = float(emb @ embedder.pair_vectors([(load_image(ref[0]), load_image(ref[1]))])[0])
    return out


@dataclass
class Tally:
    """Running totals of scored rows, so a manifest of any length is summarised without keeping its rows."""

    scored: int = 0
    failed: int = 0
    sums: dict[str, float] = field(default_factory=lambda: {"ec2t": 0.0, "ec2ec": 0.0})
    counts: dict[str, int] = field(default_factory=lambda: {"ec2t": 0, "ec2ec": 0})

    def add(self, row: ScoreRow) -> None:
        """Count one row and its scores."""
        self.failed += row.error is not None
        self.scored += row.error is None
        for key in self.sums:
            if (value := getattr(row, key)) is not None:
                self.sums[key] += value
                self.counts[key] += 1

    def means(self) -> dict[str, float | None]:
        """{"mean_ec2t", "mean_ec2ec"}: each score's mean over the rows that have it (None: none has)."""
        return {f"mean_{k}": self.sums[k] / self.counts[k] if self.counts[k] else None for k in self.sums}
