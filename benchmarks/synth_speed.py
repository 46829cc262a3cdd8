"""Synthetic edit generator speed: pairs/s in memory (the training path) and written to disk (the CLI)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from editsearch.data.families import FAMILIES  # noqa: E402
from editsearch.data.synth import synth_pairs, write_synth  # noqa: E402


def in_memory(pairs: int, size: int, seed: int, per_family: dict[str, list[float]]) -> float:
    """Pairs/s generating `pairs` pairs in this process; appends seconds per pair to per_family."""
    start = last = time.perf_counter()
    for pair in synth_pairs(pairs, seed, size=size):
        now = time.perf_counter()
        per_family.setdefault(pair.family, []).append(now - last)
        last = now
    return pairs / (time.perf_counter() - start)


def on_disk(pairs: int, size: int, seed: int, workers: int, image_format: str) -> float:
    """Pairs/s of write_synth (images + manifest) into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_synth(tmp, pairs, seed, size=size, workers=workers, image_format=image_format)
        return pairs / (time.perf_counter() - start)


def main() -> None:
    """Print one line of pairs/s (and, with --families, ms per pair of each family)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=4 * len(FAMILIES))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes for the on-disk measurement")
    parser.add_argument("--format", dest="image_format", default="png", choices=["png", "jpg"])
    parser.add_argument("--families", action="store_true", help="also print ms per pair for each family")
    args = parser.parse_args()
    per_family: dict[str, list[float]] = {}
    cold = in_memory(args.pairs, args.size, args.seed, {})  # includes decoding photos, rendering scenes
    warm = in_memory(args.pairs, args.size, args.seed + 1, per_family)
    disk = on_disk(args.pairs, args.size, args.seed + 2, args.workers, args.image_format)
    if args.families:
        mean_ms = {name: 1000 * sum(t) / len(t) for name, t in per_family.items()}
        for name, ms in sorted(mean_ms.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<18} {ms:6.1f} ms/pair")
    print(f"synth_speed: {args.size}px, {args.pairs} pairs over {len(FAMILIES)} families, "
          f"{os.cpu_count()} cpus: in memory {warm:.1f} pairs/s warm ({cold:.1f} cold, first use of sources), "
          f"written as {args.image_format.upper()} + manifest {disk:.1f} pairs/s ({args.workers} process(es))")


if __name__ == "__main__":
    main()
