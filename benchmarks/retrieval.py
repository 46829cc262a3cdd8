"""Retrieval quality of an EditCLIP vs baselines on held-out synthetic edits and, with --real DIR, real edit pairs.

    python benchmarks/retrieval.py [--model NAME|PATH] [--per-family 3] [--json]

Synthetic: unseen photos (held-out split) and held-out phrasings never used in training. Real: the
pairs of the --real folder (evaluation only), when given. Chance levels are printed per task.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from editsearch.cli.evaluate import metrics_table
from editsearch.encoder import load_model
from editsearch.evaluation.compare import run_evaluation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--real", default=None, help="a real-edits folder (manifest.jsonl with an `edit` label per pair)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    print(f"model: {model.name} (trained={model.trained})")
    res = run_evaluation(model, per_family=args.per_family, real_dir=Path(args.real) if args.real else None)
    print(json.dumps(res, indent=1) if args.json else metrics_table(res))


if __name__ == "__main__":
    main()
