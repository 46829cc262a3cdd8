"""Instruction phrasings per family: (train, held-out), from phrasings.json. {key} fills from params."""

from __future__ import annotations

import json
import string
from pathlib import Path


def load_table(name: str, first: str, second: str) -> dict[str, tuple[list[str], list[str]]]:
    """A family table shipped as JSON beside this module: {family: (first list, second list)}, in file order."""
    families = json.loads((Path(__file__).parent / f"{name}.json").read_text(encoding="utf-8"))["families"]
    return {family: (lists[first], lists[second]) for family, lists in families.items()}


PHRASINGS = load_table("phrasings", "train", "heldout")


def fill(phrase: str, params: dict) -> str:
    """`phrase` with its {placeholders} filled from an edit's params."""
    fields = [f for _, f, _, _ in string.Formatter().parse(phrase) if f]
    return phrase.format(**{f: params[f] for f in fields}) if fields else phrase
