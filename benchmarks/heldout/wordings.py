"""Instruction wordings for the held-out families (several per family, in varied styles), read from wordings.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

WORDINGS_FILE = Path(__file__).with_name("wordings.json")


@cache
def wordings() -> dict[str, tuple[str, ...]]:
    """Each family's wordings, in file order."""
    return {family: tuple(texts) for family, texts in json.loads(WORDINGS_FILE.read_text("utf-8")).items()}
