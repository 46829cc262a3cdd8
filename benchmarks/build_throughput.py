"""build-index end-to-end pairs/s over the bare model forward's pairs/s, on the same pairs, in one run.

    python benchmarks/build_throughput.py            # 400 synthetic 256-px JPEG pairs, default model
    python benchmarks/build_throughput.py --quick    # 96 pairs

End to end = EditIndex.sync on a fresh index: scan the manifest, stat and hash every file, decode and
preprocess in DataLoader workers, forward in the main process, commit each batch, save FAISS.
Bare forward = the model's embed_pair_tensors over the same pairs already decoded and preprocessed
in memory. Forward runs and builds alternate; each build is compared with the forward runs just
before and after it, to cancel the drift of a shared machine. Goal: ratio >= 0.85.

Also measured: the input side alone (hash, decode and preprocess each pair in one process) and the forward
on one thread. On a CPU-only machine both compete for the same cores, so no overlap can beat the ceiling
min(forward, cores / (CPU s per pair to decode + CPU s per pair to forward)); the build's ratio to that
ceiling says how much of the hardware the pipeline uses. Cores that share execution units (SMT siblings,
or vCPUs on one host core) slow each other down, so both rates are measured again while running side by
side, one process each; the ceiling from those rates is the one a pipeline can actually approach.

Like `editsearch build-index`, this runs torch with OMP_WAIT_POLICY=PASSIVE; `--omp-wait-policy default`
measures libgomp's default (spin a while, then sleep), as a library user who imports torch first gets.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def bare_forward(model, tensors, batch_size: int) -> float:
    """pairs/s of the model forward alone over preprocessed tensors."""
    start = time.perf_counter()
    for i in range(0, len(tensors), batch_size):
        model.embed_pair_tensors(tensors[i : i + batch_size])
    return len(tensors) / (time.perf_counter() - start)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the previous count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def input_side(model, items):
    """The build's own input side over these pairs: PairDataset (hash, DCT-scaled decode, resize, crop)."""
    from editsearch.pairs.loading import PairDataset

    return PairDataset([SimpleNamespace(pair=p) for p in items], model.pair_transform.pixels, model.config.image_size)


def bare_decode(model, items) -> float:
    """pairs/s of the build's input side in one process."""
    dataset = input_side(model, items)
    start = time.perf_counter()
    for i in range(len(dataset)):
        assert dataset[i][3] is None, dataset[i][3]
    return len(items) / (time.perf_counter() - start)


def _decode_until(model, items, stop, count) -> None:
    """Child process: run the input side over and over until told to stop; count the pairs."""
    import torch

    torch.set_num_threads(1)  # as in a DataLoader worker (a forked OpenMP pool would hang)
    dataset = input_side(model, items)
    while not stop.is_set():
        for i in range(len(dataset)):
            dataset[i]
            with count.get_lock():
                count.value += 1


def side_by_side(model, items, tensors, batch_size: int) -> tuple[float, float]:
    """(1-thread forward, input side) pairs/s while both run at once, one process each."""
    ctx = mp.get_context("fork")
    stop, count = ctx.Event(), ctx.Value("q", 0)
    child = ctx.Process(target=_decode_until, args=(model, items, stop, count))
    child.start()
    time.sleep(0.5)  # let the child get going
    with one_thread():
        start_count, start = count.value, time.perf_counter()
        forward = bare_forward(model, tensors, batch_size)
        decode = (count.value - start_count) / (time.perf_counter() - start)
    stop.set()
    child.join()
    return forward, decode


def end_to_end(model, manifest: Path, root: Path, batch_size: int, workers: int) -> float:
    """pairs/s of a full build into a fresh index."""
    from editsearch.index.store import EditIndex

    index_dir = root / f"index-{workers}"
    shutil.rmtree(index_dir, ignore_errors=True)
    start = time.perf_counter()
    with EditIndex.open(index_dir, create=True) as index:
        report = index.sync([manifest], model, batch_size=batch_size, workers=workers)
    elapsed = time.perf_counter() - start
    assert report.failed == 0 and report.embedded == report.added, report.summary()
    return report.added / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="96 pairs")
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--model", default=None, help="model name or folder (default: the registry default)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", default="0,1,2", help="DataLoader worker counts to compare")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument(
        "--omp-wait-policy",
        choices=["passive", "default", "active"],
        default="passive",
        help="how torch's idle OpenMP threads wait (default: passive, as build-index sets)",
    )
    args = parser.parse_args()
    os.environ.pop("OMP_WAIT_POLICY", None)  # read once, when torch loads OpenMP: set it before importing torch
    if args.omp_wait_policy != "default":
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    from editsearch.data.records import EditPair
    from editsearch.data.sources import iter_source
    from editsearch.data.synthetic.generator import write_synth
    from editsearch.encoder import load_model

    pairs = 96 if args.quick else args.pairs
    root = Path(tempfile.mkdtemp(prefix="editsearch-bench-"))
    try:
        write_synth(root / "data", pairs, seed=0, size=256, split="both", image_format="jpg")
        manifest = root / "data" / "manifest.jsonl"
        model = load_model(args.model)
        items = [p for p in iter_source(manifest) if isinstance(p, EditPair)]
        tensors = torch.stack([model.pair_transform(*p.load()) for p in items])
        bare_forward(model, tensors[: args.batch_size], args.batch_size)  # warm-up
        print(f"model {model.name} ({model.config.image_size} px), {pairs} pairs of 256-px JPEG, "
              f"batch {args.batch_size}, torch threads {torch.get_num_threads()}")  # fmt: skip
        bare = [bare_forward(model, tensors, args.batch_size)]
        e2e: dict[int, float] = {}
        for w in (int(x) for x in args.workers.split(",")):  # interleaved: forward, build, forward, build, ...
            e2e[w] = end_to_end(model, manifest, root, args.batch_size, w)
            bare.append(bare_forward(model, tensors, args.batch_size))
        decode = bare_decode(model, items)
        with one_thread():
            forward_1 = bare_forward(model, tensors, args.batch_size)
        forward_c, decode_c = side_by_side(model, items, tensors, args.batch_size)
        cores = len(os.sched_getaffinity(0))
        naive = min(statistics.mean(bare), cores / (1 / decode + 1 / forward_1))
        ceiling = min(statistics.mean(bare), cores / (1 / decode_c + 1 / forward_c))
        print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: libgomp default)')}")
        print(f"bare forward runs (pairs/s): {', '.join(f'{b:.1f}' for b in bare)}; on 1 thread {forward_1:.1f}")
        print(f"input side alone (hash + decode + preprocess, 1 process): {decode:.1f} pairs/s")
        print(f"side by side, one process each: 1-thread forward {forward_c:.1f}, input side {decode_c:.1f} pairs/s")
        print(f"CPU ceiling on {cores} cores, rates alone: min(forward, {cores} / (1/{decode:.0f} + 1/{forward_1:.0f}))"
              f" = {naive:.1f} pairs/s; rates side by side: {ceiling:.1f} pairs/s")  # fmt: skip
        for i, (workers, rate) in enumerate(e2e.items()):
            forward = (bare[i] + bare[i + 1]) / 2  # the forward runs just before and after this build
            print(f"build-index, {workers} workers: {rate:8.1f} pairs/s; forward around it {forward:8.1f} pairs/s; "
                  f"ratio {rate / forward:.3f} (goal >= 0.85); of the CPU ceiling {rate / ceiling:.3f}")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
