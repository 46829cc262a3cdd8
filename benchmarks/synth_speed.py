"""Synthetic edit generator speed: pairs/s in memory (the training path) and written to disk (the CLI).

Wall-clock rates depend on what else runs on the machine, so each is also given per CPU second
(what one idle core would do).

    python benchmarks/synth_speed.py [--pairs N] [--size 256] [--format png|jpg] [--workers 1] [--families]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from editsearch.data.synthetic.families import FAMILIES
from editsearch.data.synthetic.generator import synth_pairs, write_synth

Rates = tuple[float, float]  # (pairs per wall-clock second, pairs per CPU second)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (pool workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def in_memory(pairs: int, size: int, seed: int, per_family: dict[str, list[float]]) -> Rates:
    """Pairs/s generating `pairs` pairs in this process; appends CPU seconds per pair to per_family."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    last = time.process_time()
    for pair in synth_pairs(pairs, seed, size=size):
        now = time.process_time()
        per_family.setdefault(pair.family, []).append(now - last)
        last = now
    return pairs / (time.perf_counter() - wall), pairs / (cpu_seconds() - cpu)


def on_disk(pairs: int, size: int, seed: int, workers: int, image_format: str) -> Rates:
    """Pairs/s of write_synth (images + manifest) into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), cpu_seconds()
        write_synth(tmp, pairs, seed, size=size, workers=workers, image_format=image_format)
        return pairs / (time.perf_counter() - wall), pairs / (cpu_seconds() - cpu)


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
            print(f"  {name:<18} {ms:6.1f} CPU ms/pair")
    load = os.getloadavg()[0]
    print(
        f"synth_speed: {args.size}px, {args.pairs} pairs over {len(FAMILIES)} families, {os.cpu_count()} cpus, "
        f"load {load:.1f}: in memory {warm[0]:.1f} pairs/s warm ({warm[1]:.1f} per CPU-s; cold "
        f"{cold[0]:.1f}, first use of sources), {args.image_format.upper()} + manifest on disk "
        f"{disk[0]:.1f} pairs/s ({disk[1]:.1f} per CPU-s, {args.workers} process(es))"
    )


if __name__ == "__main__":
    main()
