"""Named random streams: reproducible, and distinct for distinct names or keys."""

from __future__ import annotations

import numpy as np

from editsearch.core.rng import stream, stream_seed


def draws(rng: np.random.Generator) -> list[int]:
    return rng.integers(0, 1 << 62, 4).tolist()


def test_same_arguments_same_stream():
    assert draws(stream(3, "pairs", 5)) == draws(stream(3, "pairs", 5))
    assert stream_seed(3, "step", 1, 0) == stream_seed(3, "step", 1, 0)


def test_distinct_names_seeds_and_keys_give_distinct_streams():
    variants = [
        (0, "pairs"),
        (0, "pairs", 0),  # a trailing zero key is not the same as no key
        (0, "pairs", 0, 0),
        (0, "pairs", 1),
        (0, "pairs", 1, 0),
        (1, "pairs", 0),
        (0, "step", 1, 0),  # the same keys under another name
        (0, "family-order"),
    ]
    assert len({tuple(draws(stream(*v))) for v in variants}) == len(variants)
