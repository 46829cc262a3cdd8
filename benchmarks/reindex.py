"""Unchanged re-index of 10k pairs: how long build-index takes when nothing changed (goal <= 5 s).

    python benchmarks/reindex.py            # 10,000 pairs
    python benchmarks/reindex.py --quick    # 2,000 pairs

The first build uses a tiny random model so that setting up 10k pairs stays quick; the re-index
itself never runs the model. Timed as the library call (EditIndex.open + sync, the model already
loaded) and as the whole `editsearch build-index` command in a fresh process: without --model (the
index's own model, loaded only if something changed) and with an explicit --model (loaded to check its
fingerprint), next to `editsearch stats` for the fixed start-up cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TINY = {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16, "mlp_ratio": 2.0}
TINY_TEXT = {"kind": "open_clip", "context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}


def make_pairs(root: Path, n: int) -> Path:
    """n pairs of small PNGs and a manifest."""
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{i}_b.png")
        Image.fromarray(255 - pixels).save(images / f"{i}_a.png")
        lines.append(json.dumps({"before": f"images/{i}_b.png", "after": f"images/{i}_a.png", "instruction": "invert"}))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def cli_seconds(args: list[str]) -> float:
    """Wall time of one `editsearch ...` command in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from editsearch.cli.main import cli; cli()", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 pairs")
    parser.add_argument("--pairs", type=int, default=10_000)
    args = parser.parse_args()
    from editsearch.encoder import EditCLIPConfig
    from editsearch.encoder.registry import random_model
    from editsearch.index.store import EditIndex

    n = 2_000 if args.quick else args.pairs
    root = Path(tempfile.mkdtemp(prefix="editsearch-reindex-"))
    try:
        manifest = make_pairs(root, n)
        model = random_model(EditCLIPConfig(embed_dim=64, vision=TINY, text=TINY_TEXT, name="bench-tiny"))
        model_dir = model.save_pretrained(root / "model")
        index_dir = root / "index"
        start = time.perf_counter()
        with EditIndex.open(index_dir, create=True) as index:
            first = index.sync([manifest], model, batch_size=128)
        print(f"{n} pairs; first build {time.perf_counter() - start:.1f} s ({first.summary()})")
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            with EditIndex.open(index_dir, writable=True) as index:
                report = index.sync([manifest], model)
            timings.append(time.perf_counter() - start)
            assert report.skipped == n and report.embedded == 0, report.summary()
        print(f"unchanged re-index, library: {min(timings):.2f} s best of 3 "
              f"({', '.join(f'{t:.2f}' for t in timings)})   goal <= 5 s")  # fmt: skip
        build = ["build-index", str(manifest), "--index", str(index_dir), "-q"]
        command = cli_seconds(build)
        noop = cli_seconds(["stats", "--index", str(index_dir)])
        print(f"unchanged re-index, CLI: {command:.2f} s (the index's own model is not even loaded; "
              f"`editsearch stats` takes {noop:.2f} s)")  # fmt: skip
        forced = cli_seconds([*build, "--model", str(model_dir)])
        print(f"unchanged re-index, CLI with an explicit --model (loads and checks it): {forced:.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
