"""reversed: the pair read backwards fits its instruction better than forwards.

The score is the z of the pair's own instruction read backwards (after -> before) minus its z read forwards
(instructions.py): an edit that undoes itself (invert, mirror) reads the same both ways and scores near zero.

Reliability: planted reversals. Every pair read backwards is a reversed pair, and its score is exactly minus the
pair's own, so each pair is compared with itself reversed at no cost: it wins when its instruction fits it better
forwards than backwards (score below zero). A model that reads direction wins for nearly every directional pair,
since most of a collection's pairs are the right way round; at chance it wins half the time. Self-undoing edits
and the collection's real reversals lower the share, as they should: the former cannot be reversed, the latter
are what the check is for, and a collection made mostly of either is no place for this check's flags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks.base import BACKWARDS, TEXT, Check, Reliability, reading

if TYPE_CHECKING:
    from editsearch.audit.state import AuditState


class Reversed(Check):
    """Pairs stored after-first: their instruction describes going from the after to the before."""

    name = "reversed"
    explains = "the pair read backwards fits its instruction better than forwards"
    colour = "#7048e8"
    needs = frozenset({TEXT, BACKWARDS})
    bounds = (1.0, 1.5)  # backwards fits at least 1 sd better than forwards; 1.5 sd always flags
    suggests = True

    def score(self, state: AuditState) -> np.ndarray:
        if state.z_backward is None or state.z_forward is None:
            return np.full(len(state.edits), np.nan)
        return state.z_backward - state.z_forward

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        s = scores[np.isfinite(scores)]
        wins = (s < 0) + 0.5 * (s == 0)
        what = "{share} of the pairs fit their instruction better forwards than backwards"
        return reading(wins.astype(np.float64), what, "no pair has an instruction to read it with")

    def card(self, row: dict[str, Any]) -> list[str]:
        suggestion = row.get("suggested_instruction")
        return [f"Suggested instruction: {suggestion}"] if suggestion else []
