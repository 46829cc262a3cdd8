"""Write the held-out set: before/after PNGs of test-split photos under every family, and their JSONL manifest."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.heldout.families import FAMILIES
from benchmarks.heldout.wordings import wordings
from editsearch.core.errors import GenerationError, UsageError
from editsearch.core.files import write_atomic
from editsearch.core.rng import stream
from editsearch.data.synthetic.photos import sample_source

MEAN_CHANGE = 3.0  # a pair is visibly changed when its mean absolute change (0..255) reaches this ...
LOCAL_CHANGE, LOCAL_SHARE = 24, 0.01  # ... or when 1 % of its pixels changed by over 24 levels (a small caption)
TRIES = 8  # photos tried per pair before giving up on making a visible change


def visibly_changed(before: Image.Image, after: Image.Image) -> bool:
    """Whether the after differs visibly from the before: a small global change or a strong local one."""
    diff = np.abs(np.asarray(before, np.int16) - np.asarray(after, np.int16))
    return bool(diff.mean() >= MEAN_CHANGE or (diff.max(axis=2) > LOCAL_CHANGE).mean() >= LOCAL_SHARE)


def make_pair(family: str, seed: int, index: int, size: int) -> tuple[Image.Image, Image.Image, str, str]:
    """Pair `index` of run `seed`: (before, after, instruction, source id), the after visibly changed."""
    rng = stream(seed, "heldout-pair", index)
    instruction = str(rng.choice(wordings()[family]))
    for _ in range(TRIES):
        before, source = sample_source(rng, "test", size)
        after = FAMILIES[family].edit(before, rng)
        if after.size != before.size or after.mode != "RGB":
            raise GenerationError(f"family {family} returned a {after.mode} {after.size} image for {before.size}")
        if visibly_changed(before, after):
            return before, after, instruction, source
    raise GenerationError(f"family {family} left {TRIES} photos unchanged (pair {index}, seed {seed})")


def _png(img: Image.Image) -> bytes:
    """An image's PNG bytes."""
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def write_heldout(out: Path, pairs: int, seed: int, size: int = 224, families: Sequence[str] | None = None) -> Path:
    """Write `pairs` pairs (families round-robin) under out/images and out/manifest.jsonl; return the manifest."""
    names = list(families) if families else list(FAMILIES)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise UsageError(f"unknown families: {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    if pairs < 1 or size < 32:
        raise UsageError(f"need at least 1 pair and a size of at least 32 px (got {pairs} pairs, {size} px)")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(pairs):
        family = names[i % len(names)]
        before, after, instruction, source = make_pair(family, seed, i, size)
        stem = f"images/{i:06d}_{family}"
        write_atomic(out / f"{stem}_before.png", _png(before))
        write_atomic(out / f"{stem}_after.png", _png(after))
        record = {"before": f"{stem}_before.png", "after": f"{stem}_after.png", "instruction": instruction,
                  "family": family, "source": source, "directional": FAMILIES[family].directional}  # fmt: skip
        lines.append(json.dumps(record) + "\n")
    return write_atomic(out / "manifest.jsonl", "".join(lines))
