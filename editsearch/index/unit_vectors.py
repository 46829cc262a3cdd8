"""Stored edit vectors are finite unit vectors: the check each way into the catalog applies, and `verify`.

Search scores are inner products, so a vector scaled up would be every query's first hit and one with a
NaN would never be found; a blob of another length cannot even be read as a row of the index. A build
(its own embeddings) and `build-index --from-embeddings` (each shard row) refuse such a vector as one
failed item; `verify` names the edits whose stored vector is one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORM_TOLERANCE = 1e-3  # |norm - 1| allowed: float32 normalisation is exact to ~1e-7


def row_problems(mat: np.ndarray) -> dict[int, str]:
    """Row -> why, for each row of an [n, d] matrix that is not a finite unit vector (checked in float64)."""
    x = np.asarray(mat, dtype=np.float64).reshape(len(mat), -1)
    finite = np.isfinite(x).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], x, 0.0), axis=1)
    out = {int(i): "the vector has non-finite values (NaN or infinity)" for i in np.flatnonzero(~finite)}
    for i in np.flatnonzero(finite & (np.abs(norms - 1.0) > NORM_TOLERANCE)):
        out[int(i)] = f"the vector's norm is {norms[i]:.6g}, not 1 (stored vectors are L2-normalised)"
    return out


def blob_problems(rows: Sequence[tuple[int, bytes]], dim: int) -> dict[int, str]:
    """Id -> why, for each (id, float32 blob) that is not `dim` values of a finite unit vector."""
    out = {i: f"{len(b) / 4:g} float32 values, not {dim}" for i, b in rows if len(b) != 4 * dim}
    good = [(i, b) for i, b in rows if len(b) == 4 * dim]
    if good:
        mat = np.frombuffer(b"".join(b for _, b in good), dtype=np.float32).reshape(len(good), dim)
        out.update({good[n][0]: reason for n, reason in row_problems(mat).items()})
    return out
