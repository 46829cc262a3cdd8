"""Helpers for the map tests: indexes filled with vectors around known centres (no images embedded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from editsearch.atlas import store as atlas_store
from editsearch.index.instructions import save_instruction_vectors
from editsearch.index.store import EditIndex


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(centres: np.ndarray, per: int, seed: int, spread: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, family of each) with `per` vectors around each centre."""
    rng = np.random.default_rng(seed)
    family = np.repeat(np.arange(len(centres)), per)
    return unit(centres[family] + rng.normal(scale=spread, size=(len(family), centres.shape[1]))), family


def add_vectors(
    index: EditIndex, vectors: np.ndarray, tag: str, instructions: list[str | None] | None = None
) -> list[int]:
    """Save one edit per vector (made-up locators) through the catalog; returns their edit ids."""
    rows = [
        {
            "key": f"{tag}-{i}",
            "origin": "vectors",
            "source": "manifest",
            "before": f"/pairs/{tag}-{i}-before.png",
            "after": f"/pairs/{tag}-{i}-after.png",
            "instruction": None if instructions is None else instructions[i],
        }
        for i in range(len(vectors))
    ]
    fp = index.model_info["fingerprint"]
    return index.catalog.save_edits(rows, [v.astype(np.float32).tobytes() for v in vectors], fp)


def vector_index(
    directory: Path,
    model,
    vectors: np.ndarray,
    instructions: list[str | None] | None = None,
    text_vectors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A new index bound to `model` holding these vectors and the text vectors of their instructions: those of
    `text_vectors` where given (chosen alike or unlike), else the model's."""
    with EditIndex.open(directory, create=True) as index:
        index.bind_model(model)
        add_vectors(index, vectors, "v", instructions)
        texts = sorted({t for t in instructions or [] if t})
        if texts:
            matrix = (
                model.embed_texts(texts).numpy()
                if text_vectors is None
                else unit(np.stack([text_vectors[t] for t in texts]))
            )
            save_instruction_vectors(index.catalog, model.fingerprint, texts, matrix)
    return directory


def store_map(
    directory: Path, clusters: dict[int, int], names: dict[int, str] | None, seed: int = 0
) -> dict[int, tuple]:
    """Store a made-up map of every live edit, as `map` stores one (no UMAP): cluster c's edits around (4c, 0),
    edits not in `clusters` noise, the clusters named `names` (None: named as `map` names them, with the
    agreement with the instructions); returns edit id -> (x, y, cluster)."""
    from editsearch.atlas import build

    rng = np.random.default_rng(seed)
    with EditIndex.open(directory, writable=True) as index:
        points = []
        for edit, vid in sorted(atlas_store.live_vector_ids_by_edit(index).items()):
            c = clusters.get(edit, -1)
            x, y = (4.0 * c, 0.0) if c >= 0 else (rng.uniform(-4, 12), rng.uniform(-6, 6))
            points.append((edit, vid, x + rng.normal(0, 0.4), y + rng.normal(0, 0.4), c, 1))
        state = build.FitState(index.model_info["fingerprint"], len(points), seed, names or {})
        atlas_store.save_map(index, points, state.to_json(), replace=True)
        if names is None:
            ids, _, vectors = build._vectors(index.catalog.vectors_of_edits([p[0] for p in points], state.model))
            build._named(index, state, ids, vectors, np.array([p[4] for p in points], dtype=np.int32))
    return {p[0]: (p[2], p[3], p[4]) for p in points}
