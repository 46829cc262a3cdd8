"""noop: the after is the before up to re-encoding or invisible noise.

The score is -log10 of the pair's visible change in grey levels (its signature, signatures.py). The change is
measured on the pixels, not read by the model, so the check is as reliable as its coverage: the share of pairs
whose signature it has. How many no-ops a collection holds (the spread or bimodality of the changes) says nothing
about whether the measurement can be trusted, so it is not part of the reliability.

Threshold: from the scores (thresholds.py), and no stricter than where the largest visible change of the
collection's own no-op copies lands (copies.py: befores taken to another size and back and saved again as JPEG):
a pair that changes no more than that is as unchanged as a re-saved copy of its before, within the check's bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from editsearch.audit.checks.base import COPIES, SIGNATURES, Check, Reliability, copies_threshold, coverage
from editsearch.audit.thresholds import Threshold
from editsearch.pairs.signatures import SignatureTable

if TYPE_CHECKING:
    from editsearch.audit.state import AuditState


NEVER = 5.0  # grey levels of visible change the check never flags (or more)
ALWAYS = 1.0  # ... and under which it always flags


def noop_score(change: np.ndarray | float) -> np.ndarray:
    """-log10 of visible changes in grey levels (NaN where unknown)."""
    return -np.log10(np.maximum(change, 0.01))


def noop_scores(signatures: SignatureTable) -> np.ndarray:
    """The score of each pair's visible change (NaN without a signature)."""
    return noop_score(signatures.change)


class Noop(Check):
    """Pairs whose after shows no visible change from their before."""

    name = "noop"
    explains = "the after is the before up to re-encoding or invisible noise"
    colour = "#e8590c"
    needs = frozenset({SIGNATURES, COPIES})
    bounds = (-np.log10(NEVER), -np.log10(ALWAYS))

    def score(self, state: AuditState) -> np.ndarray:
        return noop_scores(state.signatures)

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        return coverage(int(np.isfinite(scores).sum()), len(scores), "visible change")

    def threshold(self, state: AuditState, scores: np.ndarray) -> Threshold:
        what = "where the largest change of {n} re-saved copies of the collection's own befores lands ({value:.2f} grey"
        what += " levels)"
        return copies_threshold(self, state, scores, "noop", lambda change: float(noop_score(change)), what)
