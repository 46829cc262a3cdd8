"""Synthetic edit generator speed: pairs/s in memory (the training path) and written to disk (the CLI)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from editsearch.data.families import FAMILIES  # noqa: E402
from editsearch.data.synth import synth_pairs, write_synth  # noqa: E402


def measure(pairs: int, size: int, seed: int) -> tuple[float, float, dict[str, float]]:
    """(in-memory pairs/s, on-disk pairs/s, mean ms per family) over `pairs` pairs cycling all families."""
    list(synth_pairs(len(FAMILIES), seed + 1, size=size))  # warm up: imports, photo decoding
    per_family: dict[str, list[float]] = {}
    start = time.perf_counter()
    last = start
    for pair in synth_pairs(pairs, seed, size=size):
        now = time.perf_counter()
        per_family.setdefault(pair.family, []).append(now - last)
        last = now
    memory = pairs / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_synth(tmp, pairs, seed, size=size)
        disk = pairs / (time.perf_counter() - start)
    mean_ms = {name: 1000 * sum(t) / len(t) for name, t in per_family.items()}
    return memory, disk, mean_ms


def main() -> None:
    """Print pairs/s (and, with --families, the slowest families)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=2 * len(FAMILIES))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", action="store_true", help="also print ms per pair for each family")
    args = parser.parse_args()
    memory, disk, mean_ms = measure(args.pairs, args.size, args.seed)
    if args.families:
        for name, ms in sorted(mean_ms.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<18} {ms:6.1f} ms/pair")
    print(f"synth_speed: {args.size}px, {args.pairs} pairs, {len(FAMILIES)} families, 1 process: "
          f"{memory:.1f} pairs/s in memory, {disk:.1f} pairs/s written as PNG + manifest")


if __name__ == "__main__":
    main()
