"""The retrieval evaluation behind `editsearch eval` and the benchmarks: models side by side, and baselines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from editsearch.evaluation.phrasing_shift import with_shifted_queries
from editsearch.evaluation.retrieval import (
    evaluate_model,
    real_eval_set,
    synthetic_eval_set,
)
from editsearch.evaluation.reversal import evaluate_reversal


def _candidates(model: Any, baselines: bool, others: Sequence[Any] = ()) -> dict[str, Any]:
    from editsearch.encoder.config import EditCLIPConfig
    from editsearch.encoder.registry import random_model
    from editsearch.evaluation.baselines import AfterOnly, DeltaStatsEmbedder

    out: dict[str, Any] = {model.name: model}
    for other in others:
        out[other.name if other.name not in out else f"{other.name} ({len(out) + 1})"] = other
    if baselines:
        untrained = random_model(EditCLIPConfig.from_dict(model.config.to_dict() | {"trained": False}), seed=0)
        untrained.name = "untrained network"
        out["after-only ablation"] = AfterOnly(model)
        out["untrained network"] = untrained
        out["delta-stats (no text)"] = DeltaStatsEmbedder()
    return out


def run_evaluation(
    model: Any,
    per_family: int = 3,
    real_dir: Path | None = None,
    baselines: bool = True,
    size: int = 128,
    real_queries: dict[str, list[str]] | None = None,
    others: Sequence[Any] = (),
) -> dict[str, dict[str, dict]]:
    """{set: {model: {task: metrics}}} for the synthetic held-out set, its phrasing-shift queries and the real pairs.

    `others` are more models asked the same (e.g. the two-frame evaluator beside EditCLIP); the baselines are the
    first model's. Each set of pairs is also asked the reversed-pair task once (`reversed`, not under the
    phrasing shift: same pairs, same instructions).
    """
    synthetic = synthetic_eval_set(per_family=per_family, size=size)
    sets = {"synthetic": synthetic, "phrasing-shift": with_shifted_queries(synthetic)}
    if real_dir is not None and (real_dir / "manifest.jsonl").exists():
        sets["real"] = real_eval_set(str(real_dir), real_queries)
    results: dict[str, dict[str, dict]] = {name: {} for name in sets}
    for c, cand in _candidates(model, baselines, others).items():
        embedded: dict[int, Any] = {}  # by pair list: the phrasing-shift set asks about the synthetic pairs
        for name, es in sets.items():
            first = id(es.befores) not in embedded
            if first:
                embedded[id(es.befores)] = cand.embed_pairs(es.befores, es.afters, batch_size=64)
            results[name][c] = evaluate_model(cand, es, pair_emb=embedded[id(es.befores)])
            if first and (reversed_pairs := evaluate_reversal(cand, es, embedded[id(es.befores)])) is not None:
                results[name][c]["reversed"] = reversed_pairs
    return results
