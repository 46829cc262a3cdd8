"""Decode the pairs an audit needs images of (signatures the catalog lacks, the reversed check), in a DataLoader."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from editsearch.data.records import ImageRef
from editsearch.media.locators import parse_locator

BATCH = 64


def gone(locator: str) -> str | None:
    """Why the image behind a locator cannot be read any more (its file is gone), or None."""
    try:
        path = parse_locator(locator)[0]
    except ValueError as e:
        return str(e)
    return None if os.path.exists(path) else f"image file is gone: {path}"


class PairPixels:
    """Map-style dataset: (position, uint8 pixels [6, S, S] or None, failure reason or None) per pair."""

    def __init__(self, pairs: Sequence[tuple[int, str, str]], pixels: Callable[[Any, Any], Any], size: int):
        self.pairs, self.pixels, self.size = list(pairs), pixels, size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray | None, str | None]:
        from editsearch.index.build import failure_reason

        pos, before, after = self.pairs[i]
        try:
            images = [ImageRef.from_locator(loc).load(self.size) for loc in (before, after)]
            return pos, self.pixels(*images).numpy(), None
        except Exception as e:  # noqa: BLE001 - one unreadable pair must not stop the audit
            return pos, None, failure_reason(e)


def _collate(batch: list[tuple[int, np.ndarray | None, str | None]]) -> list[tuple[int, np.ndarray | None, str | None]]:
    return batch


def iter_pixels(
    pairs: Sequence[tuple[int, str, str]], pixels: Callable[[Any, Any], Any], size: int, workers: int
) -> Iterator[list[tuple[int, np.ndarray | None, str | None]]]:
    """Batches of (position, pixels or None, reason or None) for (position, before, after) locators."""
    from torch.utils.data import DataLoader

    from editsearch.pairs.loading import die_with_parent

    workers = workers if len(pairs) > BATCH else 0
    loader = DataLoader(
        PairPixels(pairs, pixels, size),
        batch_size=BATCH,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=partial(die_with_parent, os.getpid()),  # no worker outlives a killed audit
    )
    yield from loader


def model_image_size(config: str | None) -> int:
    """The image side the index's model works at, from the catalog's stored config (224 if unknown)."""
    import json

    try:
        return int(json.loads(config or "{}").get("vision", {}).get("image_size", 224))
    except (ValueError, TypeError, AttributeError):
        return 224
