"""Pair models side by side on the same splits: the generator's validation split, the held-out set, the real pairs.

    python benchmarks/model_compare.py --real PATH/TO/real-edits --model editclip-mini --model RUN/model

Each --model (a name or folder) is asked, with an untrained mini and the Δ-statistics baseline beside them:
edit->edit top-1 (other photos), pair-only text->edit hit@5 and reversed-pair accuracy, as in
pretrained_pair.py. Choose between models on validation; held-out and real are reported once per chosen model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pretrained_pair import eval_sets, print_table, scores  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Ask every model the same sets; prints the table."""
    from editsearch.encoder.registry import MINI_CONFIG, load_model, random_model
    from editsearch.evaluation.baselines import DeltaStatsEmbedder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="a model name or folder (repeatable)")
    ap.add_argument("--real", type=Path, help="the real-edits folder (evaluation only)")
    ap.add_argument("--val-per-family", type=int, default=5)
    ap.add_argument("--val-seed", type=int, default=4321, help="the validation split's seed")
    ap.add_argument("--heldout-pairs", type=int, default=235)
    ap.add_argument("--heldout-seed", type=int, default=11)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    untrained = random_model(MINI_CONFIG, seed=0)
    cands: dict[str, Any] = {m: load_model(m, device="cpu") for m in args.model}
    cands |= {"untrained mini": untrained, "delta-stats": DeltaStatsEmbedder()}
    sets = eval_sets(args)
    results: dict[str, dict[str, Any]] = {}
    for name, cand in cands.items():
        results[name] = {set_name: scores(cand, es, rows) for set_name, (es, rows) in sets.items()}
        print(name, results[name], flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
