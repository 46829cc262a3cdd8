"""Instruction-aware ranking on the synthetic held-out set: pair-only, instruction-only, weighted sum and RRF.

    python benchmarks/hybrid.py [--model NAME|PATH] [--per-family 3] [--json]

Each held-out pair keeps the instruction it was generated with (a test-split phrasing); the queries are
the held-out phrasings never used in training. Every pair is a candidate; the fusions are those of
editsearch.ranking. Also run with half the instructions removed (they fall back to the pair alone).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from editsearch.data.synth import FAMILIES, make_pair
from editsearch.encoder import load_model
from editsearch.evaluation.metrics import chance_metrics, retrieval_metrics
from editsearch.ranking import fuse
from editsearch.rng import stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    rng = stream(1234, "eval-synthetic")
    pairs = [make_pair(rng, "test", 128, name) for name in sorted(FAMILIES) for _ in range(args.per_family)]
    labels = np.array([p.family for p in pairs])
    queries = [(name, t) for name in sorted(FAMILIES) for t in FAMILIES[name].heldout_phrasings]
    pair_emb = model.embed_pairs([p.before for p in pairs], [p.after for p in pairs]).numpy()
    instr_emb = model.embed_texts([p.instruction for p in pairs]).numpy()
    text_emb = model.embed_texts([t for _, t in queries]).numpy()
    rel = torch.from_numpy(np.array([q for q, _ in queries])[:, None] == labels[None, :])
    pair, instr = text_emb @ pair_emb.T, text_emb @ instr_emb.T
    half = instr.copy()
    half[:, ::2] = np.nan  # every other edit without an instruction
    runs = {
        "pair": pair,
        "instruction": instr,
        "weighted": fuse(pair, instr, "weighted"),
        "rrf": fuse(pair, instr, "rrf"),
        "weighted, half without instructions": fuse(pair, half, "weighted"),
        "rrf, half without instructions": fuse(pair, half, "rrf"),
    }
    out = {name: retrieval_metrics(torch.from_numpy(np.asarray(s, np.float32)), rel) for name, s in runs.items()}
    out["chance"] = chance_metrics(rel)
    print(f"model: {model.name}; {len(pairs)} held-out pairs, {len(queries)} held-out phrasings")
    if args.json:
        print(json.dumps(out, indent=1))
        return
    keys = list(out["pair"])
    print(f"{'ranking':40s}" + "".join(f"{k:>10s}" for k in keys))
    for name, metrics in out.items():
        print(f"{name:40s}" + "".join(f"{metrics.get(k, float('nan')):10.3f}" for k in keys))


if __name__ == "__main__":
    main()
