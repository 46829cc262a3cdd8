"""noop: the after is the before up to re-encoding or invisible noise.

The score is -log10 of the pair's visible change in grey levels (its signature, signatures.py). The change is
measured on the pixels, not read by the model, so the check is as reliable as its coverage: the share of pairs
whose signature it has. How many no-ops a collection holds (the spread or bimodality of the changes) says nothing
about whether the measurement can be trusted, so it is not part of the reliability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from editsearch.audit.checks.base import SIGNATURES, Check, Reliability, coverage
from editsearch.pairs.signatures import SignatureTable

if TYPE_CHECKING:
    from editsearch.audit.state import AuditState


def noop_scores(signatures: SignatureTable) -> np.ndarray:
    """-log10 of each pair's visible change (NaN without a signature)."""
    return -np.log10(np.maximum(signatures.change, 0.01))


class Noop(Check):
    """Pairs whose after shows no visible change from their before."""

    name = "noop"
    explains = "the after is the before up to re-encoding or invisible noise"
    colour = "#e8590c"
    needs = frozenset({SIGNATURES})
    bounds = (-np.log10(5.0), 0.0)  # never flag a change of 5 grey levels or more; always one under 1 level

    def score(self, state: AuditState) -> np.ndarray:
        return noop_scores(state.signatures)

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        return coverage(int(np.isfinite(scores).sum()), len(scores), "visible change")
