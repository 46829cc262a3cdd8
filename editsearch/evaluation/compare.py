"""The retrieval evaluation behind `editsearch eval` and benchmarks/retrieval.py: model vs baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from editsearch.evaluation.phrasing_shift import with_shifted_queries
from editsearch.evaluation.retrieval import (
    EvalSet,
    evaluate_embeddings,
    evaluate_model,
    real_eval_set,
    synthetic_eval_set,
)


def _candidates(model: Any, baselines: bool) -> dict[str, Any]:
    from editsearch.encoder.config import EditCLIPConfig
    from editsearch.encoder.registry import random_model
    from editsearch.evaluation.baselines import AfterOnly, DeltaStatsEmbedder

    out: dict[str, Any] = {model.name: model}
    if baselines:
        untrained = random_model(EditCLIPConfig.from_dict(model.config.to_dict() | {"trained": False}), seed=0)
        untrained.name = "untrained network"
        out["after-only ablation"] = AfterOnly(model)
        out["untrained network"] = untrained
        out["delta-stats (no text)"] = DeltaStatsEmbedder()
    return out


def _evaluate(candidate: Any, es: EvalSet) -> dict[str, Any]:
    if hasattr(candidate, "embed_texts"):
        return evaluate_model(candidate, es)
    return evaluate_embeddings(candidate.embed_pairs(es.befores, es.afters), None, es)


def run_evaluation(
    model: Any,
    per_family: int = 3,
    real_dir: Path | None = None,
    baselines: bool = True,
    size: int = 128,
    real_queries: dict[str, list[str]] | None = None,
) -> dict[str, dict[str, dict]]:
    """{set: {model: {task: metrics}}} for the synthetic held-out set, its phrasing-shift queries and the real pairs."""
    synthetic = synthetic_eval_set(per_family=per_family, size=size)
    sets = {"synthetic": synthetic, "phrasing-shift": with_shifted_queries(synthetic)}
    if real_dir is not None and (real_dir / "manifest.jsonl").exists():
        sets["real"] = real_eval_set(str(real_dir), real_queries)
    cands = _candidates(model, baselines)
    return {name: {c: _evaluate(cand, es) for c, cand in cands.items()} for name, es in sets.items()}
