"""Synthetic edit pairs, in memory (for training on the fly) or written to disk as a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from editsearch.core.errors import UsageError
from editsearch.core.files import atomic_path
from editsearch.core.jsonl import read_jsonl
from editsearch.core.rng import stream
from editsearch.data.synthetic.families import FAMILIES, Family
from editsearch.data.synthetic.photos import SPLITS, sample_source, source_photo

MANIFEST = "manifest.jsonl"
IMAGE_FORMATS = ("png", "jpg")
MIN_CHANGE = 4.0  # mean abs pixel difference below which a pair is redrawn from another source
MAX_TRIES = 4

__all__ = [
    "FAMILIES",
    "Family",
    "SynthPair",
    "make_demo",
    "make_pair",
    "mean_change",
    "pair_rng",
    "source_photo",
    "synth_pairs",
    "write_synth",
]


@dataclass
class SynthPair:
    """One generated pair: images, the family and params that made it, and an instruction for its split."""

    before: Image.Image
    after: Image.Image
    family: str
    params: dict
    instruction: str
    split: str
    photo: str = ""


def make_pair(rng: np.random.Generator, split: str, size: int, family: str | Family | None = None) -> SynthPair:
    """A random source crop of `split`, edited by `family` (random if None), phrased from the split only."""
    if split not in SPLITS:
        raise UsageError(f"split must be one of {SPLITS}, got {split!r}")
    if family is None:
        names = sorted(FAMILIES)
        family = names[int(rng.integers(len(names)))]
    fam = FAMILIES[family] if isinstance(family, str) else family
    for _ in range(MAX_TRIES):  # a flip of a symmetric scene, say, changes too little: draw another source
        before, photo = sample_source(rng, split, size)
        after, params = fam.apply(before, rng)
        if after.size != before.size:
            after = after.resize(before.size, Image.BICUBIC)
        if mean_change(before, after) >= MIN_CHANGE:
            break
    return SynthPair(before, after, fam.name, params, fam.instruction(split, params, rng), split, photo)


def mean_change(before: Image.Image, after: Image.Image) -> float:
    """Mean absolute pixel difference (0..255) between two same-size RGB images."""
    a = np.asarray(before, dtype=np.int16)
    b = np.asarray(after, dtype=np.int16)
    return float(np.abs(a - b).mean())


def pair_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of pair `index` in run `seed`: pairs are independent, so any subset is reproducible."""
    return stream(seed, "synth-pair", index)


def pair_plan(count: int, seed: int, split: str) -> list[tuple[str, str]]:
    """(family, split) of each pair: families cycle in a seeded order; 'both' puts every 5th in test."""
    names = sorted(FAMILIES)
    order = [names[i] for i in stream(seed, "synth-family-order").permutation(len(names))]
    plan = []
    for i in range(count):
        pair_split = split if split != "both" else ("test" if i % 5 == 4 else "train")
        plan.append((order[i % len(order)], pair_split))
    return plan


def synth_pairs(count: int, seed: int, split: str = "train", size: int = 256) -> Iterator[SynthPair]:
    """Generate `count` pairs deterministically for a seed; split is 'train', 'test' or 'both'."""
    for i, (family, pair_split) in enumerate(pair_plan(count, seed, split)):
        yield make_pair(pair_rng(seed, i), pair_split, size, family)


def write_synth(
    out: str | Path,
    pairs: int,
    seed: int,
    size: int = 256,
    split: str = "train",
    image_format: str = "png",
    workers: int = 1,
    progress: bool = False,
) -> dict:
    """Write images and manifest.jsonl under `out`; return a summary (counts per family and split)."""
    from tqdm import tqdm

    if split not in (*SPLITS, "both"):
        raise UsageError(f"split must be train, test or both, got {split!r}")
    if image_format not in IMAGE_FORMATS:
        raise UsageError(f"image format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(out), i, fam, pair_split, seed, size, image_format)
        for i, (fam, pair_split) in enumerate(pair_plan(pairs, seed, split))
    ]
    families: dict[str, int] = {}
    splits: dict[str, int] = {}
    with atomic_path(out / MANIFEST) as tmp, open(tmp, "w", encoding="utf-8") as f, _mapper(workers) as mapper:
        rows = mapper(_write_pair, jobs)
        for row in tqdm(rows, total=pairs, desc="synth", unit="pair", disable=not progress):
            f.write(json.dumps(row, sort_keys=True) + "\n")
            families[row["family"]] = families.get(row["family"], 0) + 1
            splits[row["split"]] = splits.get(row["split"], 0) + 1
    return {
        "manifest": str(out / MANIFEST),
        "pairs": pairs,
        "seed": seed,
        "size": size,
        "families": dict(sorted(families.items())),
        "splits": splits,
    }


@contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """An ordered map: the builtin for one worker, else a process pool's (pairs are independent)."""
    if workers <= 1:
        yield map
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        yield lambda fn, jobs: pool.map(fn, jobs, chunksize=4)


def _write_pair(job: tuple[str, int, str, str, int, int, str]) -> dict:
    """Generate pair `index` of run `seed`, save both images, return its manifest row."""
    out, index, family, split, seed, size, image_format = job
    pair = make_pair(pair_rng(seed, index), split, size, family)
    row: dict = {"id": f"{index:06d}"}
    for half in ("before", "after"):
        rel = f"images/{index:06d}_{half}.{image_format}"
        _save(getattr(pair, half), Path(out) / rel, image_format)
        row[half] = rel
    row.update(instruction=pair.instruction, family=pair.family, params=pair.params, split=pair.split, photo=pair.photo)
    return row


def _save(img: Image.Image, path: Path, image_format: str) -> None:
    """Encode deterministically: fast lossless PNG, or high-quality JPEG (through an exclusive temp file)."""
    with atomic_path(path) as tmp:
        if image_format == "png":
            img.save(tmp, "PNG", compress_level=1, compress_type=3)  # zlib Z_RLE: fast, smaller
        else:
            img.save(tmp, "JPEG", quality=94)


def manifest_complete(manifest: Path, pairs: int) -> bool:
    """True when a manifest has `pairs` rows whose image files all exist."""
    if not manifest.is_file():
        return False
    rows = [row for _, row in read_jsonl(manifest)]
    base = manifest.parent
    return len(rows) == pairs and all(
        isinstance(r, dict) and isinstance(r.get(k), str) and (base / r[k]).is_file()
        for r in rows
        for k in ("before", "after")
    )


def make_demo(out_dir: str | Path, pairs: int = 300, seed: int = 0) -> Path:
    """Write a demo collection (all families, instructions, train+test) unless complete; return the manifest."""
    manifest = Path(out_dir) / MANIFEST
    if not manifest_complete(manifest, pairs):
        write_synth(out_dir, pairs, seed, size=256, split="both", image_format="jpg")
    return manifest
