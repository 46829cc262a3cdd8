"""CLI cold start: wall time and peak memory of `editsearch query` in fresh processes, beside bare Python and torch.

    python benchmarks/cli_coldstart.py            # 5 runs of each command
    python benchmarks/cli_coldstart.py --quick    # 2 runs
    python benchmarks/cli_coldstart.py --large h100k h1m   # also text queries on kept large indexes

`--large` adds, interleaved with the rest, a text and an edit-id query on each given index (one that
`benchmarks/hybrid_scale.py --n N --keep DIR` built: one distinct instruction per edit, default model).

Builds a small index (200 synthetic JPEG pairs) with the default model, runs one text and one exemplar query
to export the ONNX towers into a fresh cache (timed once: the first-use cost), then times, each in a fresh
process and interleaved: `python -c pass`, `import torch`, `editsearch --help`, `query --edit-id`,
`query --text`, `query --before/--after` and `score` of one pair against a text on the ONNX path, and the
two queries on the torch path (onnxruntime hidden, as when it is not installed). Prints median (min) wall
seconds and median peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLI = [sys.executable, "-c", "from editsearch.cli.main import cli; cli()"]
BUILD = """
import sys
from pathlib import Path
from editsearch.data.synthetic.generator import write_synth
from editsearch.encoder import load_model
from editsearch.index.store import EditIndex
root = Path(sys.argv[1])
write_synth(root / "data", 200, seed=0, size=256, split="train", image_format="jpg")
model = load_model(sys.argv[2] or None)
with EditIndex.open(root / "index", create=True) as index:
    index.sync([root / "data" / "manifest.jsonl"], model, workers=0)
(root / "model.txt").write_text(model.name)
"""
NO_ONNX = [
    sys.executable,
    "-c",
    "import sys; sys.modules['onnxruntime'] = None; from editsearch.cli.main import cli; cli()",
]


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command in a fresh process (must succeed)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def large_commands(indexes: list[Path]) -> dict[str, list[str]]:
    """A text and an edit-id query on each kept large index, named by its folder."""
    out = {}
    for directory in indexes:
        idx = ["--index", str(directory)]
        out[f"query --text, {directory.name}"] = [*CLI, "query", *idx, "--text", "make it brighter", "--json"]
        out[f"query --edit-id, {directory.name}"] = [*CLI, "query", *idx, "--edit-id", "5", "--json"]
    return out


def large_goals(indexes: list[Path], median: dict[str, tuple[float, float]], torch_s: float) -> list:
    """The cold path's goals on large indexes: at 100k edits <= 0.5x import torch and <= 400 MB, at 1M <= 1.0 s."""
    goals = []
    for directory in indexes:
        seconds, rss = median[f"query --text, {directory.name}"]
        with sqlite3.connect(f"file:{directory / 'catalog.db'}?mode=ro", uri=True) as db:
            edits = db.execute("SELECT count(*) FROM edits WHERE deleted = 0").fetchone()[0]
        where = f"{directory.name} ({edits:,} edits)"
        if edits >= 500_000:  # the 1M-class goal (a kept 1M index loses an edit or two to a write test)
            goals.append((f"query --text on {where} <= 1.0 s", f"{seconds:.2f} s", seconds <= 1.0))
        else:
            ratio = seconds / torch_s
            goals.append((f"query --text on {where} <= 0.5x import torch", f"{ratio:.2f}x", ratio <= 0.5))
            goals.append((f"query --text on {where} peak RSS <= 400 MB", f"{rss:.0f} MB", rss <= 400))
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 runs per command")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None, help="model for the index (default: the registry default)")
    parser.add_argument("--large", type=Path, nargs="*", default=[], help="kept indexes to query too")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="editsearch-coldstart-"))
    os.environ["EDITSEARCH_CACHE_DIR"] = str(root / "cache")  # a cold cache: the first queries export
    # As on a user's machine, modules run from compiled bytecode (pip compiles a package as it installs it; an
    # editable install's first run writes it): a shell that forbids writing it would time compiling instead.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = 2 if args.quick else args.runs
    try:
        # Built in a child: this process stays small, so a child's peak RSS (counted from the fork) is its own.
        subprocess.run([sys.executable, "-c", BUILD, str(root), args.model or ""], check=True)
        idx = ["--index", str(root / "index")]
        pair = ["--before", str(root / "data/images/000000_before.jpg"), "--after",
                str(root / "data/images/000000_after.jpg")]  # fmt: skip
        text = ["query", *idx, "--text", "make it brighter", "--json"]
        exemplar = ["query", *idx, *pair, "--json"]
        first = {"first query --text (exports)": measure([*CLI, *text]),
                 "first query --before/--after (exports)": measure([*CLI, *exemplar])}  # fmt: skip
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import torch": [sys.executable, "-c", "import torch"],
            "editsearch --help": [*CLI, "--help"],
            "query --edit-id": [*CLI, "query", *idx, "--edit-id", "1", "--json"],
            "query --text": [*CLI, *text],
            "query --before/--after": [*CLI, *exemplar],
            "score of one pair": [*CLI, "score", *pair, "--text", "make it brighter", "--json"],
            **large_commands(args.large),
            "query --text, torch path": [*NO_ONNX, *text],
            "query --before/--after, torch path": [*NO_ONNX, *exemplar],
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                results[name].append(measure(cmd))
        model = (root / "model.txt").read_text()
        print(f"model {model}; {runs} runs each, interleaved, fresh processes; wall s median (min), peak RSS median")
        for name, (seconds, rss) in first.items():
            print(f"{name:40s} {seconds:6.2f}  (once)  {rss:6.0f} MB")
        median = {}
        for name, values in results.items():
            walls, rss = [v[0] for v in values], [v[1] for v in values]
            median[name] = statistics.median(walls), statistics.median(rss)
            print(f"{name:40s} {median[name][0]:6.2f}  ({min(walls):.2f})  {median[name][1]:6.0f} MB")
        text_s, text_mb = median["query --text"]
        torch_s = median["import torch"][0]
        exemplar_s = median["query --before/--after"][0]
        score_s = median["score of one pair"][0]
        goals = [
            ("query --text <= 1.0 s", f"{text_s:.2f} s", text_s <= 1.0),
            ("query --text < 0.5x import torch", f"{text_s / torch_s:.2f}x", text_s < 0.5 * torch_s),
            ("query --before/--after <= 2.5 s", f"{exemplar_s:.2f} s", exemplar_s <= 2.5),
            ("query --text peak RSS <= 400 MB", f"{text_mb:.0f} MB", text_mb <= 400),
            (
                "query --text <= 0.4 s and <= 0.25x import torch",
                f"{text_s:.2f} s, {text_s / torch_s:.2f}x",
                text_s <= 0.4 and text_s <= 0.25 * torch_s,
            ),
            ("score of one pair <= 0.5x import torch", f"{score_s / torch_s:.2f}x", score_s <= 0.5 * torch_s),
        ]
        goals += large_goals(args.large, median, torch_s)
        for goal, value, met in goals:
            print(f"goal: {goal}: {value}, {'met' if met else 'NOT met'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
