"""An independent held-out set of synthetic edits (47 families on test-split photos); never train or tune on it."""

from benchmarks.heldout.generate import write_heldout

__all__ = ["write_heldout"]
