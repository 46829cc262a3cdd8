"""The 2-D layout: UMAP fitted on (a sample of) the pair vectors, its `transform` placing every other edit.

umap-learn (and scikit-learn, for the clusters) are the `map` extra: imported here only, on first use.
The fitted model is pickled next to the catalog; the catalog keeps its SHA-256, and a file that differs
is never unpickled (the map is fitted anew instead).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.errors import MissingDependencyError
from editsearch.files import fsync_replace

MODEL_FILE = "atlas.umap"
N_NEIGHBORS = 15  # UMAP's default: local structure of ~15 neighbours per edit (fewer in a small fit, see below)
MIN_DIST = 0.05  # tight clumps for density clustering on the layout, yet each still a visible patch
TRANSFORM_BATCH = 20_000  # edits placed per `transform` call (what is held at once, beyond the fit)
INSTALL_HINT = 'pip install "editsearch[map]"  (umap-learn, scikit-learn, matplotlib)'


def require_umap() -> Any:
    """The umap module, or MissingDependencyError naming the pip command."""
    try:
        import umap
    except ImportError:
        raise MissingDependencyError(f"`editsearch map` needs umap-learn: {INSTALL_HINT}") from None
    return umap


def fit_layout(vectors: np.ndarray, seed: int) -> tuple[Any, np.ndarray]:
    """(fitted UMAP model, [N, 2] layout) of unit pair vectors, by cosine; reproducible for a seed."""
    umap = require_umap()
    model = umap.UMAP(
        n_neighbors=min(N_NEIGHBORS, max(2, len(vectors) // 10)),  # a tenth of a small fit: its groups stay apart
        min_dist=MIN_DIST,
        metric="cosine",
        random_state=seed,
        low_memory=True,
    )
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": chosen, reproducible maps
        warnings.simplefilter("ignore", UserWarning)
        xy = model.fit_transform(np.ascontiguousarray(vectors, dtype=np.float32))
    return model, np.asarray(xy, dtype=np.float32)


def place(model: Any, vectors: np.ndarray) -> np.ndarray:
    """[N, 2] positions of new vectors in a fitted layout (UMAP's transform, in batches; no refit)."""
    parts = [np.zeros((0, 2), dtype=np.float32)]
    for batch in _batches(vectors, TRANSFORM_BATCH):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parts.append(np.asarray(model.transform(np.ascontiguousarray(batch, dtype=np.float32)), np.float32))
    return np.concatenate(parts)


def trivial_layout(vectors: np.ndarray) -> np.ndarray:
    """[N, 2] layout of a handful of vectors: their two principal axes (the origin for one edit)."""
    centred = np.asarray(vectors, dtype=np.float64) - np.mean(vectors, axis=0)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    xy = np.zeros((len(vectors), 2))
    k = min(2, len(s))
    xy[:, :k] = u[:, :k] * s[:k]
    return xy.astype(np.float32)


def save_model(model: Any, directory: Path) -> str:
    """Pickle the fitted model to directory/MODEL_FILE (temp file, fsync, rename); returns its SHA-256."""
    buf = io.BytesIO()
    pickle.dump(model, buf, protocol=pickle.HIGHEST_PROTOCOL)
    data = buf.getvalue()
    target = directory / MODEL_FILE
    tmp = directory / f".{MODEL_FILE}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        fsync_replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest()


def load_model(directory: Path, sha256: str) -> Any | None:
    """The fitted model stored in directory/MODEL_FILE, or None when it is missing, differs or cannot load."""
    try:
        data = (directory / MODEL_FILE).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    require_umap()  # unpickling needs it; say so plainly rather than as a failed load
    try:
        return pickle.loads(data)
    except Exception:  # another umap-learn version's pickle, say: fitted anew
        return None


def _batches(items: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
