"""Named random streams: every seeded generator is `stream(seed, name, *keys)`, so two uses never share one."""

from __future__ import annotations

import hashlib

import numpy as np


def name_key(name: str) -> int:
    """A stable 64-bit number for a stream name (blake2b; the same on every machine and Python run)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """The generator of stream `name` in run `seed` at `keys` (pair index, epoch, step, rank, ...).

    The key count is part of the entropy, so ("x", 0) and ("x",) differ although SeedSequence pads with zeros.
    """
    return np.random.default_rng([seed, name_key(name), len(keys), *keys])


def stream_seed(seed: int, name: str, *keys: int) -> int:
    """A 63-bit integer seed drawn from `stream(seed, name, *keys)`, for torch generators."""
    return int(stream(seed, name, *keys).integers(1 << 63))
