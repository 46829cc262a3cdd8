"""Instruction-aware ranking: pair-only, instruction-only, weighted sum and RRF, on held-out edits.

    python benchmarks/hybrid.py [--model NAME|PATH] [--per-family 3] [--split heldout|shift] [--json]

Each held-out pair keeps the instruction it was generated with (a test-split phrasing), as a catalog
keeps a data set's instruction. The queries are the held-out phrasings (`--split heldout`: the same
phrasings the stored instructions are drawn from) or the phrasing-shift queries (`--split shift`:
styles training never produces, different from every stored instruction). Every pair is a candidate;
the fusions are those of editsearch.ranking. Also run with half the instructions removed (those edits
fall back to the pair alone).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from editsearch.encoder import load_model
from editsearch.evaluation.metrics import chance_metrics, retrieval_metrics
from editsearch.evaluation.phrasing_shift import with_shifted_queries
from editsearch.evaluation.retrieval import instruction_embeddings, synthetic_eval_set
from editsearch.ranking import fuse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--split", choices=["heldout", "shift"], default="heldout")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    es = synthetic_eval_set(per_family=args.per_family)
    if args.split == "shift":
        es = with_shifted_queries(es)
    queries = [(label, t) for label, texts in es.label_texts.items() for t in texts]
    pair_emb = model.embed_pairs(es.befores, es.afters).numpy()
    instr_emb = instruction_embeddings(model, es).numpy()
    text_emb = model.embed_texts([t for _, t in queries]).numpy()
    rel = torch.from_numpy(np.array([q for q, _ in queries])[:, None] == np.array(es.labels)[None, :])
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
    print(f"model: {model.name}; {len(es.labels)} held-out pairs, {len(queries)} {args.split} queries")
    if args.json:
        print(json.dumps(out, indent=1))
        return
    keys = list(out["pair"])
    print(f"{'ranking':40s}" + "".join(f"{k:>10s}" for k in keys))
    for name, metrics in out.items():
        print(f"{name:40s}" + "".join(f"{metrics.get(k, float('nan')):10.3f}" for k in keys))


if __name__ == "__main__":
    main()
