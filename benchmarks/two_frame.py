"""Scoring: EditCLIP (pair as 6 channels) against the two-frame evaluator (pair as a 2-frame video), time and quality.

    python benchmarks/two_frame.py [--models editclip-mini twoframe-mini] [--per-family 3]
        [--real DIR [--real-queries benchmarks/real_queries.json]] [--trials 3] [--json]

Per model, on the same pairs: pair-embedding speed by torch (the held-out set in batches of 64, median of
interleaved trials) and by the exported ONNX tower that `score` and queries use (the set in batches of 32, and
one pair at a time: the pair forward of one `score` call); then `editsearch eval`'s tasks (text->edit by the
pair, held-out and phrasing-shift queries; edit->edit on other photos; the reversed pairs) and the poster's
protocol: each pair's own instruction retrieving that pair among all the set's pairs (R@k, mean and median
rank). The last row is the poster's figures for ViFi-CLIP on MagicBrush (Donabauer, Kruschwitz, Tack,
"Learning Temporal Relations for Evaluating Instruction-Guided Image Editing"): other data, not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from editsearch.cli.common import format_table
from editsearch.encoder import load_model
from editsearch.encoder.embedder import Embedder
from editsearch.evaluation.compare import run_evaluation
from editsearch.evaluation.metrics import ranks_of_relevant, retrieval_metrics
from editsearch.evaluation.retrieval import EvalSet, read_label_queries, real_eval_set, synthetic_eval_set

# The poster's text->pair retrieval of ViFi-CLIP fine-tuned on HumanEdit, on MagicBrush: 1,128 candidates.
POSTER = {"R@1": 0.0919, "R@5": 0.2413, "R@10": 0.3342, "mean rank": 161.22, "median rank": 29.60, "pairs": 1128}


def own_instruction_recall(model: Any, es: EvalSet, pair_emb: torch.Tensor) -> dict[str, float]:
    """The poster's protocol: each pair's instruction ranks all pairs; R@1/5/10, mean and median rank of its own."""
    rows = [i for i, t in enumerate(es.instructions) if t]
    scores = model.embed_texts([es.instructions[i] for i in rows]).float() @ pair_emb.T
    own = torch.zeros_like(scores, dtype=torch.bool)
    own[torch.arange(len(rows)), torch.tensor(rows)] = True
    m = retrieval_metrics(scores, own)
    ranks = [int(r[0]) + 1 for r in ranks_of_relevant(scores, own)]
    return {
        "R@1": m["top1"],
        "R@5": m["hit@5"],
        "R@10": m["hit@10"],
        "mean rank": statistics.fmean(ranks),
        "median rank": float(statistics.median(ranks)),
        "pairs": len(es.befores),
    }


def torch_rates(models: dict[str, Any], es: EvalSet, trials: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Median pairs/s of each model's torch embedding of the set (interleaved trials), and the embeddings."""
    rates: dict[str, list[float]] = {name: [] for name in models}
    embedded: dict[str, torch.Tensor] = {}
    for _ in range(trials):
        for name, model in models.items():
            t0 = time.perf_counter()
            embedded[name] = model.embed_pairs(es.befores, es.afters, batch_size=64)
            rates[name].append(len(es.befores) / (time.perf_counter() - t0))
    return {name: statistics.median(r) for name, r in rates.items()}, embedded


def onnx_times(name: str, es: EvalSet, trials: int) -> dict[str, float | None]:
    """The exported vision tower's pairs/s on the set and ms for one pair (what `score` runs); None if not exported."""
    embedder = Embedder(name)
    if not embedder.ready_towers():
        return {"onnx pairs/s": None, "onnx ms/pair": None}
    pairs = list(zip(es.befores, es.afters, strict=True))
    batch, single = [], []
    for _ in range(trials):
        t0 = time.perf_counter()
        embedder.pair_vectors(pairs, batch_size=32)
        batch.append(len(pairs) / (time.perf_counter() - t0))
        for pair in pairs[:10]:
            t0 = time.perf_counter()
            embedder.pair_vectors([pair])
            single.append(1000 * (time.perf_counter() - t0))
    return {"onnx pairs/s": statistics.median(batch), "onnx ms/pair": statistics.median(single)}


def summary_rows(report: dict[str, Any], set_name: str) -> list[list[Any]]:
    """One row per model for a set: speed, eval's tasks and the poster's protocol; then the poster's own row."""
    rows = []
    for name, r in report["models"].items():
        tasks, shift = r["eval"][set_name], r["eval"].get("phrasing-shift", {})
        rev, own = tasks.get("reversed", {}), r["own instruction"][set_name]
        rows.append(
            [
                name,
                r["fusion"],
                r["torch pairs/s"] if set_name == "synthetic" else None,  # timed on the synthetic pairs
                r["onnx ms/pair"] if set_name == "synthetic" else None,
                tasks.get("text->edit", {}).get("hit@5"),
                shift.get("text->edit", {}).get("hit@5") if set_name == "synthetic" else None,
                tasks.get("edit->edit", {}).get("top1"),
                rev.get("accuracy"),
                rev.get("ties"),
                own["R@1"],
                own["R@5"],
                own["median rank"],
                own["pairs"],
            ]
        )
    p = POSTER
    rows.append(
        [
            "ViFi-CLIP (poster, MagicBrush)",
            "frames",
            None,
            None,
            *[None] * 5,
            p["R@1"],
            p["R@5"],
            p["median rank"],
            p["pairs"],
        ]
    )
    return rows


HEADERS = [
    "model", "fusion", "torch pairs/s", "onnx ms/pair", "text->edit hit@5", "shift hit@5", "edit->edit top1",
    "reversed acc", "reversed ties", "own R@1", "own R@5", "own median rank", "pairs",
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["editclip-mini", "twoframe-mini"], metavar="NAME|PATH")
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--real", default=None, help="a real-edits folder (manifest.jsonl with an `edit` label per pair)")
    ap.add_argument("--real-queries", default=None, help="JSON {edit label: [queries]} for the real pairs")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    models = {name: load_model(name, device="cpu") for name in args.models}
    sets = {"synthetic": synthetic_eval_set(per_family=args.per_family, size=128)}
    if args.real:
        sets["real"] = real_eval_set(args.real)
    rates, embedded = torch_rates(models, sets["synthetic"], args.trials)
    queries = read_label_queries(args.real_queries) if args.real_queries else None
    first, *others = models.values()
    real = Path(args.real) if args.real else None
    results = run_evaluation(first, args.per_family, real, baselines=False, real_queries=queries, others=others)
    report: dict[str, Any] = {"poster": POSTER, "models": {}}
    for name, model in models.items():
        pair_emb = {"synthetic": embedded[name]}
        pair_emb |= {
            s: model.embed_pairs(es.befores, es.afters, batch_size=64) for s, es in sets.items() if s != "synthetic"
        }
        report["models"][name] = {
            "fusion": model.config.pair_fusion,
            "trained": model.trained,
            "torch pairs/s": rates[name],
            **onnx_times(name, sets["synthetic"], args.trials),
            "eval": {s: results[s][model.name] for s in results},
            "own instruction": {s: own_instruction_recall(model, es, pair_emb[s]) for s, es in sets.items()},
        }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch {torch.__version__}")
    for set_name, es in sets.items():
        print(f"\n{set_name}: {len(es.befores)} pairs")
        print(format_table(HEADERS, summary_rows(report, set_name), digits=3))


if __name__ == "__main__":
    main()
