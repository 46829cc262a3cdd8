"""What every check is: its name and one-line explanation, its score, its reliability on the collection, its default
threshold, its flags and what its flagged cards show; and the reliability rules the checks share.

Reliability is a share of the collection's pairs that the check can speak for, from 0 to 1, measured on the
collection alone before anything is flagged. A check that reads the pairs through the model (mismatch, reversed)
counts the pairs the model reads beyond chance; a check that measures pixels (noop, duplicate) counts the pairs
whose pixels it measured. Either way a check is reliable when it speaks for most of the pairs (RELIABLE), and a
check that is not reliable flags nothing unless the user gives its threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from editsearch.audit.thresholds import Threshold, data_threshold, no_stricter_than

if TYPE_CHECKING:
    from editsearch.audit.state import AuditState

# What a check needs the audit's passes to make (Check.needs):
TEXT = "text"  # the index's instruction vectors and each pair's own-instruction z, read forwards (EC2T)
PEERS = "peers"  # each instruction's peers: the pairs carrying it or the nearest instructions (peers.py)
NEIGHBOURS = "neighbours"  # each pair's nearest other pair vectors
SIGNATURES = "signatures"  # each pair's pixel signature (stored, or made from its images)
BACKWARDS = "backwards"  # each pair's own-instruction z read backwards (its images decoded and embedded swapped)
COPIES = "copies"  # where copies of a sample of the pairs, made as duplicates and no-ops arise, land (copies.py)

# A check is reliable when it speaks for most of the collection's pairs: at least half of them. For a check that
# reads pairs through the model, a share s of comparisons won where 1/2 is chance is 2s - 1 pairs read beyond
# chance (a pair either read, and won, or guessed, and won half the time); half of them read is s = 3/4, halfway
# from chance to a perfect reading. A principle, not a fit: no collection was used to choose it.
RELIABLE = 0.5
# ... and more than chance alone could give on this many pairs: a one-sided sign test at the usual 5% level, so
# that a handful of pairs that happen to win reads as too few to tell.
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Reliability:
    """How far a check can be trusted on this collection: reliable or not, the share it speaks for, and why."""

    reliable: bool
    value: float | None  # 0..1, higher = more trustworthy; None where nothing could be measured
    why: str  # one plain sentence

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for summary.json."""
        value = None if self.value is None else round(float(self.value), 4)
        return {"reliable": self.reliable, "reliability": value, "why": self.why}


class Check:
    """One check: subclasses set the class attributes and implement `score` and `reliability`."""

    name: ClassVar[str]
    explains: ClassVar[str]  # what a flag means, one line
    colour: ClassVar[str]  # its flagged points in the Atlas view (#rrggbb)
    needs: ClassVar[frozenset[str]] = frozenset()  # what the audit's passes must make for it (TEXT, ...)
    bounds: ClassVar[tuple[float | None, float | None]] = (None, None)  # its data threshold stays within them
    suggests: ClassVar[bool] = False  # whether its flagged edits get the best-fitting instruction

    def score(self, state: AuditState) -> np.ndarray:
        """Each edit's score (higher: likelier a problem); NaN where the check cannot apply to an edit."""
        raise NotImplementedError

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        """How far the check can be trusted on this collection, from the collection alone."""
        raise NotImplementedError

    def threshold(self, state: AuditState, scores: np.ndarray) -> Threshold:
        """The default threshold, set from the scores within the check's bounds (thresholds.py)."""
        return data_threshold(scores, self.bounds)

    def flags(self, state: AuditState, scores: np.ndarray, threshold: Threshold) -> np.ndarray:
        """Which edits the check flags: those scored over the threshold (none without one)."""
        if threshold.value is None:
            return np.zeros(len(scores), dtype=bool)
        return np.isfinite(scores) & (np.nan_to_num(scores, nan=-np.inf) > threshold.value)

    def card(self, row: dict[str, Any]) -> list[str]:
        """What a flagged edit's card shows beyond its score: plain-text lines (the audit table's row)."""
        return []


@dataclass
class CheckResult:
    """One check's outcome on the audited edits."""

    check: Check
    scores: np.ndarray
    reliability: Reliability
    threshold: Threshold
    flags: np.ndarray


def copied(state: AuditState, kind: str) -> np.ndarray:
    """Where the collection's own copies of `kind` ('duplicate' or 'noop') landed (copies.py); none if not made."""
    copies = state.extra.get(COPIES)
    return getattr(copies, kind) if copies is not None else np.zeros(0)


def copies_threshold(
    check: Check, state: AuditState, scores: np.ndarray, kind: str, score: Callable[[float], float], what: str
) -> Threshold:
    """The check's threshold from its scores, lowered to where the farthest of the collection's own copies of
    `kind` lands (copies.py; `score` makes that a score) where that flags more, never past the check's lenient
    bound; `what` says where, with {n} copies and the {value}."""
    found = data_threshold(scores, check.bounds)
    landed = copied(state, kind)
    if not len(landed):
        return found
    farthest = float(np.max(landed))
    return no_stricter_than(found, score(farthest), check.bounds[0], what.format(n=len(landed), value=farthest))


def read_share(wins: np.ndarray) -> tuple[float, float, float]:
    """(share won, pairs read beyond chance = 2 x share - 1 (0 below chance), one-sided sign-test p) of per-pair
    wins in [0, 1]."""
    from scipy.stats import binom

    n = len(wins)
    share = float(np.mean(wins))
    won = int(round(float(np.sum(wins))))
    return share, max(2 * share - 1, 0.0), float(binom.sf(won - 1, n, 0.5))


def reading(wins: np.ndarray, what: str, fewest: str) -> Reliability:
    """The reliability of a check that reads pairs through the model, from each pair's wins against a planted
    problem (1: it scored its planted twin higher, 0: lower, 1/2: a tie). `what` says what a win is, as
    '{share} of ...'; `fewest` what too few pairs lack."""
    if not len(wins):
        return Reliability(False, None, f"no pair could be read: {fewest}")
    share, value, p = read_share(wins)
    said = what.format(share=f"{share:.0%}")
    if value >= RELIABLE and p < SIGNIFICANCE:
        return Reliability(True, value, f"the model reads these pairs: {said} (50% is chance)")
    if value >= RELIABLE:
        return Reliability(False, value, f"only {len(wins)} pairs could be read, too few to tell from chance: {said}")
    how = "barely better than chance" if value < RELIABLE / 2 else "too weakly to trust its flags"
    needed = f"{(1 + RELIABLE) / 2:.0%}"
    why = f"the model reads these pairs {how}: {said}, where 50% is chance and {needed} is needed"
    return Reliability(False, value, why)


def coverage(measured: int, total: int, what: str) -> Reliability:
    """The reliability of a pixel check: the share of pairs it measured (`what` names the measurement)."""
    if not total:
        return Reliability(False, None, "there are no pairs to measure")
    share = measured / total
    said = "every pair's" if measured == total else f"{measured} of {total} pairs'"
    if share >= RELIABLE:
        return Reliability(True, share, f"{said} {what} measured from the pixels")
    return Reliability(False, share, f"only {measured} of {total} pairs' {what} could be measured from the pixels")
