"""Helpers for the index tests: small on-disk edit collections (real PNG files plus a JSONL manifest)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

EDITS = [
    ("invert the colors", lambda im: ImageOps.invert(im)),
    ("make it a watercolor painting", lambda im: im.filter(ImageFilter.GaussianBlur(2))),
    ("convert to black and white", lambda im: ImageOps.grayscale(im).convert("RGB")),
    ("mirror the image", lambda im: ImageOps.mirror(im)),
    ("add strong contrast", lambda im: ImageOps.autocontrast(im, cutoff=20)),
]


def write_image(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> Path:
    """A reproducible noisy RGB PNG."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def make_collection(root: Path, n: int, seed: int = 0, name: str = "manifest.jsonl") -> Path:
    """n before/after pairs under root/images with a JSONL manifest (paths relative to it); returns it."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        instruction, fn = EDITS[i % len(EDITS)]
        before = write_image(images / f"p{seed}_{i}_before.png", seed * 100_000 + i)
        after = images / f"p{seed}_{i}_after.png"
        fn(Image.open(before).convert("RGB")).save(after)
        lines.append(
            {
                "before": f"images/{before.name}",
                "after": f"images/{after.name}",
                "instruction": instruction,
                "family": f"f{i % len(EDITS)}",
                "n": i,
            }
        )
    manifest = root / name
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


class CountingModel:
    """Wraps a model and counts pairs sent through the forward (to check incremental builds)."""

    def __init__(self, model):
        self._model = model
        self.embedded = 0

    def embed_pair_tensors(self, x):
        self.embedded += len(x)
        return self._model.embed_pair_tensors(x)

    def __getattr__(self, name):
        return getattr(self._model, name)


def synthetic(n: int = 4000, d: int = 32, seed: int = 0) -> np.ndarray:
    """n i.i.d. random unit vectors of d dimensions (an IVF's lists split their true neighbourhoods: nprobe matters)."""
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_shard(out: Path, x: np.ndarray, shard: int = 0, first: int = 0) -> Path:
    """Embeddings shard number `shard` of synthetic edits `first`, `first` + 1, ... (no instructions: no model is
    needed to index it)."""
    from editsearch.pairs.shards import ShardMeta, write_shard

    out.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "key": f"s/{i}.png|s/{i}-after.png",
            "origin": f"/synthetic/shard-{shard}",
            "source": "files",
            "before": f"s/{i}.png",
            "before_size": 1,
            "before_mtime": 0.0,
            "before_hash": f"b{i}",
            "after": f"s/{i}-after.png",
            "after_size": 1,
            "after_mtime": 0.0,
            "after_hash": f"a{i}",
            "instruction": None,
            "metadata": {},
        }
        for i in range(first, first + len(x))
    ]
    meta = ShardMeta("synthetic", "synthetic-tuning", x.shape[1], False, {}, rows[0]["origin"], "0")
    return write_shard(out / f"shard-{shard:05d}.parquet", meta, rows, x)


def traced(conn: sqlite3.Connection, call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What `call()` returns and the SQL statements it ran on `conn`."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        return call(), statements
    finally:
        conn.set_trace_callback(None)


def exported_tiny_index(root: Path, config: Any, pairs: int, seed: int, image_format: str) -> Any:
    """A tiny random EditCLIP saved to root/model and loaded by folder, its index of `pairs` synthetic pairs at
    root/index, its ONNX towers exported; returns the model."""
    from editsearch.data.synthetic.generator import write_synth
    from editsearch.encoder import load_model
    from editsearch.encoder.export import export_towers
    from editsearch.encoder.registry import random_model
    from editsearch.index.store import EditIndex

    random_model(config, seed=seed).save_pretrained(root / "model")
    model = load_model(str(root / "model"), device="cpu")
    write_synth(root / "data", pairs, seed=seed, size=64, split="train", image_format=image_format)
    with EditIndex.open(root / "index", create=True) as index:
        index.sync([root / "data" / "manifest.jsonl"], model, workers=0)
    assert export_towers(model, model.name)
    return model
