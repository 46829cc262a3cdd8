"""CLI cold start: wall time of `editsearch query` in a fresh process, split into where the time goes.

    python benchmarks/cli_coldstart.py            # 5 runs of each command
    python benchmarks/cli_coldstart.py --quick    # 2 runs

Builds a small index (40 pairs) with the default model, then times, each in a fresh process and
interleaved: `editsearch --help`, `stats`, `query --edit-id` (needs no model), `query --text` and
`query --before/--after` (load the model), and the bare imports and model load for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLI = [sys.executable, "-c", "from editsearch.cli.main import cli; cli()"]


def seconds(cmd: list[str]) -> float:
    """Wall time of one command (must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 runs per command")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None, help="model for the index (default: the registry default)")
    args = parser.parse_args()
    from editsearch.data.synth import write_synth
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    runs = 2 if args.quick else args.runs
    root = Path(tempfile.mkdtemp(prefix="editsearch-coldstart-"))
    try:
        write_synth(root / "data", 40, seed=0, size=256, split="train", image_format="jpg")
        model = load_model(args.model)
        with EditIndex.open(root / "index", create=True) as index:
            index.sync([root / "data" / "manifest.jsonl"], model, workers=0)
        idx = ["--index", str(root / "index")]
        pair = ["--before", str(root / "data/images/000000_before.jpg"), "--after",
                str(root / "data/images/000000_after.jpg")]  # fmt: skip
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "editsearch --help": [*CLI, "--help"],
            "stats": [*CLI, "stats", *idx],
            "query --edit-id": [*CLI, "query", *idx, "--edit-id", "1", "--json"],
            "query --text": [*CLI, "query", *idx, "--text", "make it brighter", "--json"],
            "query --before/--after": [*CLI, "query", *idx, *pair, "--json"],
            "import torch": [sys.executable, "-c", "import torch"],
            "import open_clip": [sys.executable, "-c", "import open_clip"],
            "load_model()": [sys.executable, "-c", f"import editsearch.encoder as e; e.load_model({args.model!r})"],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                times[name].append(seconds(cmd))
        print(f"model {model.name}; {runs} runs each, interleaved; median (min) wall seconds")
        for name, values in times.items():
            print(f"{name:26s} {statistics.median(values):6.2f}  ({min(values):.2f})")
        text, edit = statistics.median(times["query --text"]), statistics.median(times["query --edit-id"])
        load = statistics.median(times["load_model()"])
        print(f"query --text minus load_model(): {text - load:.2f} s (index open + text embedding + search + output)")
        print(f"query --edit-id / query --text: {edit / text:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
