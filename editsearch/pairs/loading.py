"""Loading edit pairs for a forward: hash, decode and resize them in DataLoader workers, batch by batch.

A build's workers also make each pair's signature (editsearch.pairs.signatures) from the pixels they hold, so
the main process, which runs the model, only stores them.

Shared by build-index (editsearch.index.build) and `embed` (editsearch.scale): both read the same
pixels through the model's own `pair_transform.pixels`, so both store the same vectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from editsearch.data.records import EditPair
from editsearch.pairs.signatures import pair_signatures

if TYPE_CHECKING:
    import torch


@dataclass
class Planned:
    """A pair that needs hashing and maybe embedding, with what the catalog knew of it."""

    pair: EditPair
    origin: str
    existing: dict[str, Any] | None
    stats: tuple[tuple[int, float], tuple[int, float]]


class PairDataset:
    """Map-style dataset for DataLoader workers: hash both images, decode them, resize and crop to uint8."""

    def __init__(self, items: Sequence[Planned], pixels: Callable[[Any, Any], torch.Tensor], min_size: int):
        self.pairs = [p.pair for p in items]
        self.pixels, self.min_size = pixels, min_size  # min_size: JPEGs decode at reduced DCT scale

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[int, Any, tuple[str, str] | None, str | None]:
        """(i, uint8 pixels or None, (before hash, after hash) or None, failure reason or None)."""
        from editsearch.media.images import ImageLoadError

        pair = self.pairs[i]
        try:
            hashes = (pair.before.content_hash(), pair.after.content_hash())
        except (OSError, ValueError, ImageLoadError) as e:
            return i, None, None, failure_reason(e)
        try:
            return i, self.pixels(*pair.load(self.min_size)), hashes, None
        except ImageLoadError as e:
            return i, None, hashes, str(e)
        except Exception as e:  # noqa: BLE001 - one bad item must never stop a build
            return i, None, hashes, f"cannot preprocess: {type(e).__name__}: {e}"


@dataclass
class LoadedBatch:
    """One batch as a worker hands it over: the good pairs' pixels stacked in one tensor, the failures apart."""

    ok: list[int]  # positions in the plan
    hashes: list[tuple[str, str]]
    pixels: torch.Tensor | None  # uint8 [len(ok), 6, S, S]; None when nothing loaded
    failed: list[tuple[int, str]]  # (position, reason)
    signatures: list[bytes | None] = field(default_factory=list)  # per ok pair, when the loader makes them

    def __len__(self) -> int:
        return len(self.ok) + len(self.failed)


def collate_loaded(
    batch: list[tuple[int, Any, tuple[str, str] | None, str | None]], signatures: bool = False
) -> LoadedBatch:
    """Stack a batch in the worker, so it crosses to the main process as one shared-memory tensor; with
    `signatures`, the worker also makes the good pairs' signature blobs (for the audit: see editsearch.audit)."""
    import torch
    from torch.utils.data import get_worker_info

    good = [(i, x, h) for i, x, h, err in batch if err is None]
    pixels = None
    if good:
        first = good[0][1]
        pixels = torch.empty((len(good), *first.shape), dtype=first.dtype)
        if get_worker_info() is not None:  # in a worker: allocate the shared memory here, where a failure raises
            pixels.share_memory_()
        torch.stack([x for _, x, _ in good], out=pixels)
    return LoadedBatch(
        ok=[i for i, _, _ in good],
        hashes=[h for _, _, h in good],  # type: ignore[misc]
        pixels=pixels,
        failed=[(i, err) for i, _, _, err in batch if err is not None],
        signatures=_signatures(pixels) if signatures and pixels is not None else [],
    )


def _signatures(pixels: torch.Tensor) -> list[bytes | None]:
    """The pairs' signature blobs; None for each when they cannot be made (an audit then makes them from images)."""
    try:
        return list(pair_signatures(pixels.numpy()))
    except Exception:  # noqa: BLE001 - a signature is a cache: it must never fail the pairs themselves
        return [None] * len(pixels)


def failure_reason(e: BaseException) -> str:
    """One line saying why an item failed: `reason: path` for an OSError, else the message."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return str(e) or type(e).__name__


def default_workers(device: str) -> int:
    """DataLoader workers: on a GPU all but one usable core (at most 8); on a CPU half of them (at most 4).

    A CPU forward already runs a torch thread per core, so every worker oversubscribes the cores; on 2
    cores 1 worker builds ~10% faster than 2 (benchmarks/RESULTS_index.md).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores - 1)) if device == "cuda" else max(1, min(4, cores // 2))


def edit_row(planned: Planned, hashes: tuple[str, str]) -> dict[str, Any]:
    """The edits-table row of a freshly hashed pair."""
    pair = planned.pair
    (bs, bm), (as_, am) = planned.stats
    return {
        "key": pair.key,
        "origin": planned.origin,
        "source": pair.source,
        "before": pair.before.locator,
        "before_size": bs,
        "before_mtime": bm,
        "before_hash": hashes[0],
        "after": pair.after.locator,
        "after_size": as_,
        "after_mtime": am,
        "after_hash": hashes[1],
        "instruction": pair.instruction,
        "metadata": pair.metadata,
    }


def die_with_parent(parent: int, _worker: int = 0) -> None:
    """A DataLoader worker_init_fn (bound to the loading process's pid): the worker is killed when that process dies.

    torch's own watchdog ends an idle worker a few seconds after its parent died, but a worker whose results
    are pickled through the queue's pipe (rather than sent as shared memory) blocks forever on the full pipe
    once nobody reads it. PR_SET_PDEATHSIG (Linux) has the kernel send SIGKILL instead; a parent already gone
    by the time it is set ends the worker at once. Elsewhere this does nothing.
    """
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
