"""The pairs of edit-pair sources, loaded the same way for every trainer (no sources: synthetic edits)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from editsearch.data.records import EditPair
from editsearch.data.sources import iter_source
from editsearch.errors import DataError


def load_pairs(sources: Sequence[str | Path], require_instruction: bool = False) -> list[EditPair]:
    """Every usable pair of the sources, in order; unusable items are counted on stderr, none usable is an error."""
    pairs: list[EditPair] = []
    skipped = 0
    for src in sources:
        for item in iter_source(src, require_instruction=require_instruction):
            if isinstance(item, EditPair):
                pairs.append(item)
            else:
                skipped += 1
    if not pairs:
        raise DataError(f"no usable edit pairs in {', '.join(map(str, sources))}")
    if skipped:
        print(f"skipped {skipped} unusable items in the sources", file=sys.stderr)
    return pairs
