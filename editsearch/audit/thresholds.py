"""Default thresholds from the scores themselves: a two-component mixture when a problem cluster stands out, else
the modified z-score rule (median + 3.5 robust standard deviations), each kept within a check's sane bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from editsearch.core.rng import stream

ROBUST_Z = 3.5  # Iglewicz and Hoaglin's modified z-score bound for outliers
MIN_MIXTURE = 20  # fewer scores than this: no mixture fit
MAX_PROBLEM_SHARE = 0.35  # a higher-score component larger than this is not a problem cluster
MIN_SEPARATION = 2.5  # ... nor one closer than this many pooled standard deviations to the rest
MIXTURE_SAMPLE = 20_000  # scores a mixture is fitted on at most (a fixed random subset of more)


@dataclass(frozen=True)
class Threshold:
    """A check's threshold on its score (flag when score > value; None flags nothing) and how it was set."""

    value: float | None
    how: str

    def as_dict(self) -> dict[str, float | str | None]:
        """JSON-able form for summary.json."""
        return {"value": self.value, "how": self.how}


def robust_threshold(scores: np.ndarray) -> tuple[float, str]:
    """median + ROBUST_Z x 1.4826 x MAD of the scores."""
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median))) * 1.4826
    return median + ROBUST_Z * max(mad, 1e-6), f"median {median:.4g} + {ROBUST_Z} x robust sd {mad:.4g}"


def mixture_threshold(scores: np.ndarray) -> tuple[float, str] | None:
    """Where a small, well-separated high-score component of a 2-Gaussian mixture takes over; None if none."""
    from sklearn.mixture import GaussianMixture

    if len(scores) > MIXTURE_SAMPLE:
        scores = stream(0, "audit-mixture-sample").choice(scores, MIXTURE_SAMPLE, replace=False)
    x = scores.reshape(-1, 1).astype(np.float64)
    if len(np.unique(x)) < 4:
        return None
    gm = GaussianMixture(2, random_state=0, n_init=2).fit(x)
    means, sds, weights = gm.means_.ravel(), np.sqrt(gm.covariances_.ravel()), gm.weights_
    lo, hi = np.argsort(means)
    separation = (means[hi] - means[lo]) / np.sqrt((sds[hi] ** 2 + sds[lo] ** 2) / 2)
    if weights[hi] > MAX_PROBLEM_SHARE or separation < MIN_SEPARATION:
        return None
    grid = np.linspace(means[lo], means[hi], 2001).reshape(-1, 1)
    problem = gm.predict_proba(grid)[:, hi] > 0.5
    crossing = float(grid[np.argmax(problem), 0])
    tail = float(means[lo] + ROBUST_Z * sds[lo])
    how = (
        f"2-component mixture: problem cluster {weights[hi]:.1%} at {means[hi]:.4g}, the rest at {means[lo]:.4g} "
        f"(sd {sds[lo]:.3g}; {separation:.1f} sd apart); the threshold is the higher of where the problem cluster "
        f"becomes likelier ({crossing:.4g}) and the rest's mean + {ROBUST_Z} sd ({tail:.4g})"
    )
    return max(crossing, tail), how


def data_threshold(scores: np.ndarray, bounds: tuple[float | None, float | None] = (None, None)) -> Threshold:
    """The default threshold of one check from its scores, clipped into `bounds` (lowest, highest allowed)."""
    x = np.asarray(scores, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not len(x):
        return Threshold(None, "no scores: nothing to set a threshold from")
    fit = mixture_threshold(x) if len(x) >= MIN_MIXTURE else None
    value, how = fit if fit is not None else robust_threshold(x)
    low, high = bounds
    if low is not None and value < low:
        value, how = low, f"{how}; raised to the check's floor {low:.4g}"
    if high is not None and value > high:
        value, how = high, f"{how}; lowered to the check's ceiling {high:.4g}"
    return Threshold(value, how)


def no_stricter_than(found: Threshold, value: float, floor: float | None, why: str) -> Threshold:
    """`found`, lowered to `value` (never under `floor`) where that flags more; `why` says where `value` is from."""
    value = value if floor is None else max(value, floor)
    if found.value is not None and value >= found.value:
        return found
    return Threshold(value, f"{found.how}; lowered to {why}")
