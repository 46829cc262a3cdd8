"""Instruction-aware ranking: pair, instruction and the fusions, on held-out, phrasing-shift and real pairs.

    python benchmarks/hybrid.py [--model NAME|PATH] [--per-family 3] [--split all|heldout|shift|real]
                                [--real DIR --real-queries FILE] [--json]
    python benchmarks/hybrid.py --tune [--model NAME|PATH]

Each held-out pair keeps the instruction it was generated with (a test-split phrasing), as a catalog keeps a
data set's instruction. Splits: `heldout` queries are the held-out phrasings (those instructions are drawn
from them), `shift` the phrasing-shift queries (styles training never produces, never a stored wording),
`real` the pairs of the --real folder (evaluation only) with their stored instructions, queried with the
--real-queries texts (benchmarks/real_queries.json re-phrases them). Every pair is a candidate; the fusions
are those of editsearch.search.ranking, `hybrid` the default. Also run with every other instruction removed (those
edits fall back to the pair alone).

Each split's hybrid trusts its instructions by the split's legibility (how well its pair vectors read their own
instructions, as an index measures it), printed beside the table.

--tune fits the adaptive fusion's TRUST_SCALE and TRUST_POWER on training wordings only: training-split pairs
whose instruction is a training template, queried with the data generator's training-style re-wordings
(never a stored instruction), with the pair vectors mixed with growing shares of noise so that the pair
signal (and the legibility) runs from strong to nearly none. It reads neither the phrasing-shift file nor
any real pair.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch

from editsearch.encoder import load_model
from editsearch.evaluation.metrics import chance_metrics, retrieval_metrics
from editsearch.evaluation.retrieval import EvalSet, instruction_embeddings, read_label_queries, real_eval_set
from editsearch.index.legibility import legibility_of
from editsearch.search.ranking import fuse, instruction_trust

KEYS = ("top1", "hit@5", "mAP")
NOISE = (0.0, 0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)  # --tune: share of each pair vector's variance replaced by noise
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # --tune: TRUST_SCALE values tried
POWERS = (0.25, 0.4, 0.5, 0.6, 0.75, 1.0)  # --tune: TRUST_POWER values tried


def components(model: Any, es: EvalSet, pair_emb: np.ndarray | None = None) -> tuple[Any, ...]:
    """(pair cosines, instruction cosines (NaN: none), relevance, legibility) of every query against every pair."""
    queries = [(label, t) for label, texts in es.label_texts.items() for t in texts]
    if pair_emb is None:
        pair_emb = model.embed_pairs(es.befores, es.afters).numpy()
    instr_emb = instruction_embeddings(model, es).numpy()
    text_emb = model.embed_texts([t for _, t in queries]).numpy()
    rel = np.array([q for q, _ in queries])[:, None] == np.array(es.labels)[None, :]
    keep = rel.any(1)  # a query whose label has no pair asks nothing
    legible = legibility_of(pair_emb, es.instructions, instr_emb)
    return text_emb[keep] @ pair_emb.T, text_emb[keep] @ instr_emb.T, rel[keep], legible


def rankings(pair: np.ndarray, instr: np.ndarray, legibility: float | None) -> dict[str, np.ndarray]:
    """Score matrices of each ranking for one split."""
    half = instr.copy()
    half[:, ::2] = np.nan  # every other edit without an instruction
    trust = instruction_trust(legibility)
    return {
        "pair": pair,
        "instruction": np.nan_to_num(instr, nan=-2.0),
        "hybrid (adaptive, the default)": fuse(pair, instr, trust=trust),
        "adaptive with the previous fixed trust 0.2": fuse(pair, instr, trust=0.2),
        "fixed 0.5 / 0.5 sum": fuse(pair, instr, "weighted"),
        "reciprocal-rank fusion": fuse(pair, instr, "rrf"),
        "hybrid, every other edit without an instruction": fuse(pair, half, trust=trust),
    }


def metrics(scores: np.ndarray, rel: np.ndarray) -> dict[str, float]:
    """top-1, hit@5 and mAP of a [Q, N] score matrix."""
    out = retrieval_metrics(torch.from_numpy(np.asarray(scores, np.float32)), torch.from_numpy(rel))
    return {k: out[k] for k in KEYS}


def evaluate(args: argparse.Namespace, model: Any) -> dict[str, dict[str, dict[str, float]]]:
    """{split: {ranking: metrics}} on the held-out, phrasing-shift and (with --real) real pairs."""
    from editsearch.evaluation.phrasing_shift import with_shifted_queries
    from editsearch.evaluation.retrieval import synthetic_eval_set

    synthetic = synthetic_eval_set(per_family=args.per_family)
    pair_emb = model.embed_pairs(synthetic.befores, synthetic.afters).numpy()
    sets = {"heldout": (synthetic, pair_emb), "shift": (with_shifted_queries(synthetic), pair_emb)}
    if args.real:
        queries = read_label_queries(args.real_queries) if args.real_queries else None
        sets["real"] = (real_eval_set(args.real, queries), None)
    out = {}
    for split, (es, emb) in sets.items():
        if args.split not in ("all", split):
            continue
        pair, instr, rel, legible = components(model, es, emb)
        out[split] = {name: metrics(s, rel) for name, s in rankings(pair, instr, legible).items()}
        out[split]["legibility"] = {"legibility": legible, "trust": instruction_trust(legible)}
        out[split]["chance"] = {k: chance_metrics(torch.from_numpy(rel))[k] for k in KEYS}
        out[split]["queries"] = {"queries": int(rel.shape[0]), "pairs": int(rel.shape[1])}
    return out


def tuning_set(model: Any, per_family: int = 4, seed: int = 99) -> tuple[Any, ...]:
    """Training wordings only: (pair vectors, instruction cosines, query vectors, relevance, the pairs'
    instructions and their vectors)."""
    from editsearch.core.rng import stream
    from editsearch.data.synthetic.generator import FAMILIES, make_pair
    from editsearch.data.synthetic.paraphrase import vary

    rng = stream(seed, "fusion-tuning")
    pairs = [make_pair(rng, "train", 128, name) for name in sorted(FAMILIES) for _ in range(per_family)]
    stored = {p.instruction for p in pairs}
    queries: list[tuple[str, str]] = []
    for name in sorted(FAMILIES):
        while sum(label == name for label, _ in queries) < per_family:
            params = make_pair(rng, "train", 32, name).params
            text = vary(name, FAMILIES[name].instruction("train", params, rng), params, rng)
            if text not in stored:  # a query is never a stored instruction's wording
                queries.append((name, text))
    befores, afters = [p.before for p in pairs], [p.after for p in pairs]
    es = EvalSet(befores, afters, [p.family for p in pairs], [], {}, [p.instruction for p in pairs])
    pair_emb = model.embed_pairs(es.befores, es.afters).numpy()
    text_emb = model.embed_texts([t for _, t in queries]).numpy()
    instr_emb = instruction_embeddings(model, es).numpy()
    rel = np.array([label for label, _ in queries])[:, None] == np.array(es.labels)[None, :]
    return pair_emb, text_emb @ instr_emb.T, text_emb, rel, es.instructions, instr_emb


def tune(model: Any) -> dict[str, Any]:
    """Mean mAP over the noise levels of the adaptive fusion at each (TRUST_SCALE, TRUST_POWER) of the grid."""
    pair_emb, instr, text_emb, rel, texts, instr_emb = tuning_set(model)
    noise = np.random.default_rng(0).standard_normal(pair_emb.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    levels = {}
    for share in NOISE:
        mixed = np.sqrt(1 - share) * pair_emb + np.sqrt(share) * noise
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        levels[share] = (text_emb @ mixed.T, legibility_of(mixed, texts, instr_emb))
    out: dict[str, Any] = {
        "noise levels": {f"{s}": {**metrics(p, rel), "legibility": a} for s, (p, a) in levels.items()},
        "instruction alone": metrics(instr, rel),
    }
    fits = {}
    for scale in SCALES:
        for power in POWERS:
            fused = [fuse(p, instr, trust=instruction_trust(a, scale, power)) for p, a in levels.values()]
            fits[f"scale {scale}, power {power}: mean mAP"] = float(np.mean([metrics(f, rel)["mAP"] for f in fused]))
    out["fits"] = dict(sorted(fits.items(), key=lambda kv: -kv[1]))
    out["best"] = next(iter(out["fits"]))
    return out


def print_table(out: dict[str, dict[str, dict[str, float]]]) -> None:
    """One row per ranking, top-1 / hit@5 / mAP per split."""
    splits = list(out)
    print(f"{'ranking':50s}" + "".join(f"{s + ' ' + k:>16s}" for s in splits for k in KEYS))
    for name in out[splits[0]]:
        if name not in ("queries", "legibility"):
            print(f"{name:50s}" + "".join(f"{out[s][name][k]:16.3f}" for s in splits for k in KEYS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=3)
    ap.add_argument("--split", choices=["all", "heldout", "shift", "real"], default="all")
    ap.add_argument("--real", default=None, help="a real-edits folder (manifest.jsonl with an `edit` label per pair)")
    ap.add_argument("--real-queries", default=None, help="JSON {edit label: [queries]} for the real pairs")
    ap.add_argument("--tune", action="store_true", help="fit TRUST_SCALE and TRUST_POWER on training wordings")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model = load_model(args.model)
    print(f"model: {model.name}")
    if args.tune:
        print(json.dumps(tune(model), indent=1))
        return
    out = evaluate(args, model)
    if not out:
        raise SystemExit("--split real needs --real DIR")
    print("; ".join(f"{s}: {v['queries']['queries']} queries, {v['queries']['pairs']} pairs" for s, v in out.items()))
    print(
        "; ".join(
            f"{s}: legibility {v['legibility']['legibility']:.3f}, trust {v['legibility']['trust']:.3f}"
            for s, v in out.items()
        )
    )
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
