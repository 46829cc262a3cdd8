"""Held-out edit-transfer tasks on synthetic edits, and how close a pipeline's outputs come to the truth."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import numpy as np
from PIL import Image

from editsearch.core.rng import stream

GLOBAL_EDITS = (
    "grayscale",
    "invert",
    "tint_red",
    "tint_green",
    "tint_blue",
    "tint_purple",
    "warmer",
    "cooler",
    "brighter",
    "darker",
)


def make_tasks(count: int, size: int, seed: int, families: tuple[str, ...] = ()) -> list[dict]:
    """Held-out transfer tasks; families (default: all) cycle, and an edit whose params depend on the image is
    redrawn."""
    from editsearch.data.synthetic.generator import FAMILIES, MIN_CHANGE, mean_change
    from editsearch.data.synthetic.photos import sample_source

    names = list(families) or sorted(FAMILIES)
    stride = 7 if not families else 1
    tasks: list[dict] = []
    attempt = 0
    while len(tasks) < count and attempt < count * 20:
        rng = stream(seed, "transfer-task", attempt)
        family = FAMILIES[names[(len(tasks) * stride + seed) % len(names)]]
        attempt += 1
        ex_before, ex_source = sample_source(rng, "test", size)
        query, q_source = sample_source(rng, "test", size)
        if q_source == ex_source:
            continue
        ex_after, params = family.apply(ex_before, stream(seed, "transfer-edit", attempt))
        truth, q_params = family.apply(query, stream(seed, "transfer-edit", attempt))  # the same edit
        if params != q_params or min(mean_change(ex_before, ex_after), mean_change(query, truth)) < MIN_CHANGE:
            continue
        tasks.append(
            {
                "family": family.name,
                "params": params,
                "ex_before": ex_before,
                "ex_after": ex_after,
                "query": query,
                "truth": truth.resize(query.size, Image.BICUBIC),
            }
        )
    return tasks


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR in dB of a mean squared error, for values spanning `peak` (255 for 8-bit pixels, 2 for [-1, 1])."""
    return 10 * math.log10(peak**2 / max(mse, 1e-12 * peak**2))


def image_psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR in dB between two RGB images (b resized to a's size if needed)."""
    b = b if b.size == a.size else b.resize(a.size, Image.BICUBIC)
    return psnr_from_mse(float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def transfer_all(
    transfer: Any, tasks: list[dict], steps: int, seed: int, size: int
) -> tuple[list[Image.Image], list[float]]:
    """Each task's output (at the query's size) and the seconds it took (batch of one)."""
    outputs, seconds = [], []
    for t in tasks:
        start = time.perf_counter()
        out = transfer.apply(t["ex_before"], t["ex_after"], [t["query"]], steps=steps, seed=seed, size=size)[0]
        seconds.append(time.perf_counter() - start)
        outputs.append(out.resize(t["query"].size, Image.BICUBIC) if out.size != t["query"].size else out)
    return outputs, seconds


def global_edit_check(transfer: Any, per_family: int, steps: int, seed: int, size: int) -> dict:
    """Per global edit: mean PSNR of the output and of the unchanged query vs the truth; passes on a majority."""
    tasks = make_tasks(per_family * len(GLOBAL_EDITS), size, seed, GLOBAL_EDITS)
    outputs, _ = transfer_all(transfer, tasks, steps, seed, size)
    rows = {}
    for family in GLOBAL_EDITS:
        mine = [(t, o) for t, o in zip(tasks, outputs, strict=True) if t["family"] == family]
        rows[family] = {
            "output_db": statistics.mean(image_psnr(t["truth"], o) for t, o in mine),
            "identity_db": statistics.mean(image_psnr(t["truth"], t["query"]) for t, _ in mine),
            "tasks": len(mine),
        }
    wins = sum(r["output_db"] > r["identity_db"] for r in rows.values())
    return {"families": rows, "wins": wins, "passed": wins > len(rows) / 2}
