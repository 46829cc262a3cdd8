"""Retrieval quality of an EditCLIP vs baselines on held-out synthetic edits and, with --real DIR, real edit pairs.

    python benchmarks/retrieval.py [--model NAME|PATH] [--per-family 3] [--real DIR [--real-queries FILE]] [--json]

Synthetic: unseen photos (held-out split) queried with held-out phrasings never used in training, and the
same pairs queried in the phrasing-shift styles (evaluation/phrasing_shift.json). Real: the pairs of the
--real folder (evaluation only), when given, queried with their instructions or the --real-queries texts
(benchmarks/real_queries.json re-phrases them). Text->edit is ranked by the pair, the stored instruction
and the hybrid fusion. Chance levels are printed per task.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from editsearch.cli.evaluate import metrics_table
from editsearch.encoder import load_model
from editsearch.evaluation.compare import run_evaluation
from editsearch.evaluation.retrieval import read_label_queries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--real", default=None, help="a real-edits folder (manifest.jsonl with an `edit` label per pair)")
    ap.add_argument("--real-queries", default=None, help="JSON {edit label: [queries]} for the real pairs")
    ap.add_argument("--no-baselines", dest="baselines", action="store_false", help="the model alone")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    print(f"model: {model.name} (trained={model.trained})")
    queries = read_label_queries(args.real_queries) if args.real_queries else None
    real = Path(args.real) if args.real else None
    res = run_evaluation(model, args.per_family, real, args.baselines, real_queries=queries)
    print(json.dumps(res, indent=1) if args.json else metrics_table(res))


if __name__ == "__main__":
    main()
