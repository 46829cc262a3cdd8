"""The evaluation sets the audit and map benchmarks report beside the project's generator: held-out and real pairs.

- heldout: `benchmarks/heldout/` (47 families written independently of the project's generator, on test-split
  photos, eight wordings per family), written afresh to a temporary folder.
- real: a folder of genuine edits (`manifest.jsonl` with `before`, `after`, `instruction`, `edit`: the label shared
  by pairs that show the same edit), given on the command line; never part of the repository.

Both are for evaluation only: nothing of the product is fitted or chosen on them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from editsearch.core.errors import DataError

SETS = ("generator", "heldout", "real")
# an instruction whose edit is its own reverse (after -> before is the same edit): no reversal can be planted on it
INVOLUTION = re.compile(r"\b(mirror|flip|invert)", re.IGNORECASE)


@dataclass
class SetPair:
    """One pair of an evaluation set: its images, instruction, ground-truth group and whether it has a direction."""

    before: Image.Image
    after: Image.Image
    instruction: str
    group: str  # the family (synthetic sets) or the `edit` label (real pairs)
    directional: bool


def read_manifest(manifest: Path, group_key: str) -> list[SetPair]:
    """The pairs of a manifest (images decoded as RGB), grouped by `group_key`; DataError naming a bad line."""
    pairs = []
    for n, line in enumerate(manifest.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            before, after = (Image.open(manifest.parent / row[k]).convert("RGB") for k in ("before", "after"))
            instruction, group = str(row["instruction"]), str(row[group_key])
        except (ValueError, KeyError, OSError) as e:
            raise DataError(f"{manifest}:{n}: cannot read the pair ({e})") from None
        directional = bool(row.get("directional", not INVOLUTION.search(instruction)))
        pairs.append(SetPair(before, after, instruction, group, directional))
    if not pairs:
        raise DataError(f"{manifest}: no pairs")
    return pairs


def heldout_pairs(out: Path, pairs: int, seed: int) -> list[SetPair]:
    """`pairs` held-out pairs (families take turns), written under `out` and read back."""
    from benchmarks.heldout import write_heldout

    return read_manifest(write_heldout(out, pairs, seed), "family")


def real_pairs(folder: Path) -> list[SetPair]:
    """The real pairs of `folder`/manifest.jsonl, grouped by their `edit` label; directional unless an involution."""
    manifest = Path(folder) / "manifest.jsonl"
    if not manifest.is_file():
        raise DataError(f"{folder}: no manifest.jsonl (give the folder of the real pairs with --real)")
    return read_manifest(manifest, "edit")
