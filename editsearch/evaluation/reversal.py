"""The reversed-pair task: does a model fit a pair's instruction better forwards than backwards?

For each directional pair with an instruction, EC2T(before, after) is set against EC2T(after, before). A pair
counts 1 when forwards wins, 0 when backwards does and 1/2 for a tie (the two within float32 rounding), so 0.5
is chance, and exactly 0.5 with every pair tied is a model that cannot see direction (one that average-pools
frames). Edits whose reverse is an edit of the same kind (a mirror, a negative, a quarter turn either way, a
small tilt either way, a hue rotation) have no direction to find and are left out.
"""

from __future__ import annotations

from typing import Any

import torch

from editsearch.evaluation.retrieval import EvalSet

# Synthetic families whose reverse is an instance of the same family.
SELF_INVERSE = frozenset({"flip_horizontal", "flip_vertical", "hue_shift", "invert", "rotate_90", "tilt"})
TIE = 1e-6  # cosines this close are a tie: float32 rounding of one pair batched in another order


def directional(es: EvalSet) -> list[int]:
    """Positions of the pairs that have an instruction and a direction to find."""
    return [
        i
        for i, (label, text) in enumerate(zip(es.labels, es.instructions, strict=False))
        if text and label not in SELF_INVERSE
    ]


def reversal_metrics(forward: torch.Tensor, backward: torch.Tensor) -> dict[str, Any]:
    """{'accuracy' (ties count 1/2), 'ties', 'margin' (mean forward minus backward), 'pairs'} of EC2T scores."""
    diff = (forward - backward).double()
    tie = diff.abs() <= TIE
    wins = (diff > 0) & ~tie
    n = max(len(diff), 1)
    return {
        "accuracy": float(wins.sum() + 0.5 * tie.sum()) / n,
        "ties": float(tie.sum()) / n,
        "margin": float(diff.mean()) if len(diff) else 0.0,
        "pairs": len(diff),
    }


def evaluate_reversal(
    model: Any, es: EvalSet, pair_emb: torch.Tensor | None = None, batch_size: int = 64
) -> dict[str, Any] | None:
    """The reversed-pair metrics of a model on a set; None without a text side or directional pairs.

    `pair_emb` (the set's forward embeddings by this model, one row per pair) saves embedding them again.
    """
    rows = directional(es)
    if not rows or not hasattr(model, "embed_texts"):
        return None
    befores, afters = [es.befores[i] for i in rows], [es.afters[i] for i in rows]
    texts = model.embed_texts([es.instructions[i] for i in rows]).float()
    forward = pair_emb[rows] if pair_emb is not None else model.embed_pairs(befores, afters, batch_size=batch_size)
    backward = model.embed_pairs(afters, befores, batch_size=batch_size)
    return reversal_metrics((forward * texts).sum(-1), (backward * texts).sum(-1))
