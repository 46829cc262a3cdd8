"""The text tower under concurrent callers: shared batches (what queries use) against one run per caller.

    python benchmarks/text_batching.py [--clients 1 8] [--seconds 10] [--rounds 2]

Each client thread embeds distinct short texts one at a time, as a served text query does, for a fixed time,
through the default model's exported ONNX text tower: once with `OnnxTextTower.embed_texts` (the Coalescer:
texts asked for meanwhile share the next batch), once with a plain `session.run` per call (the tokenizer under
a lock, graphs running side by side). The two alternate, `--rounds` times each, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Callable

import numpy as np

from editsearch.encoder import load_model
from editsearch.encoder.embedder import Embedder
from editsearch.towers.runtime import shared_tower


def throughput(embed: Callable[[list[str]], np.ndarray], clients: int, seconds: float) -> float:
    """Texts embedded per second by `clients` threads each calling `embed` on one new text at a time."""
    counter, done, stop = itertools.count(), [0] * clients, time.perf_counter() + seconds

    def worker(slot: int) -> None:
        while time.perf_counter() < stop:
            embed([f"make photo {next(counter)} look like a warm vintage print"])
            done[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    model = load_model(None)
    if not Embedder(model).ready_towers():
        raise SystemExit("the ONNX towers could not be exported (is onnxruntime installed?)")
    tower = shared_tower("text", model.fingerprint)
    lock = threading.Lock()

    def unbatched(texts: list[str]) -> np.ndarray:
        with lock:
            tokens = tower.tokens(texts)
        return tower.session.run(None, tokens)[0]

    for clients in args.clients:
        shared, alone = [], []
        for _ in range(args.rounds):
            alone.append(throughput(unbatched, clients, args.seconds))
            shared.append(throughput(tower.embed_texts, clients, args.seconds))
        a, s = float(np.median(alone)), float(np.median(shared))
        rounds = f"{', '.join(f'{x:.0f}' for x in alone)} / {', '.join(f'{x:.0f}' for x in shared)}"
        print(
            f"{clients} client(s): one run per call {a:.0f} texts/s, shared batches {s:.0f} texts/s "
            f"-> {s / a:.2f}x (rounds: {rounds})"
        )


if __name__ == "__main__":
    main()
