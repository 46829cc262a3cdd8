"""Varied training phrasings: templates re-worded as requests, descriptions, named effects, compounds, synonyms, typos.

Training draws its texts here so the pair embedding learns what an edit *is*, not one way of saying it.
Every style produced here is a training style; evaluation keeps other styles (first-person wishes,
questions, accounts of what was done) in a file this module never reads.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import numpy as np

from editsearch.data.synthetic.phrasings import fill, load_table

# What each family's result is called: (names, results), from descriptions.json. Names are short labels an
# editor's menu or a tag would use; results are noun phrases for the edited picture. {key} fills from params.
DESCRIPTIONS = load_table("descriptions", "names", "results")

STYLES = ("imperative", "request", "description", "tag", "compound")
_REQUEST = ("please {p}", "{p}, please", "could you {p}", "can you {p}", "{p} for me", "go ahead and {p}")
_DESCRIBE = (
    "{d}",
    "{d}, please",
    "result: {d}",
    "edit: {d}",
    "turn it into {d}",
    "make {d}",
    "convert the photo to {d}",
    "transform it into {d}",
    "render {d}",
    "output: {d}",
    "after: {d}",
)
_NAMED = (
    "{n}",
    "{n} effect",
    "{n} filter",
    "{n} look",
    "{n} style",
    "{n} preset",
    "apply a {n} effect",
    "use the {n} filter",
    "give it a {n} look",
    "add {n}",
    "style: {n}",
    "filter: {n}",
)
_COMPOUND = ("{p} ({n})", "{p} - {n}", "{n}: {p}", "{p}, {n} style", "{p}. {d}", "{d}: {p}")
_SYNONYMS = {
    "image": ("photo", "picture", "pic", "shot", "image"),
    "photo": ("image", "picture", "pic", "shot", "photo"),
    "picture": ("photo", "image", "pic", "picture"),
    "colours": ("colors", "colours", "tones"),
    "colors": ("colours", "colors", "tones"),
    "colour": ("color", "colour"),
    "color": ("colour", "color"),
    "it": ("it", "this", "this one", "the image"),
    "make": ("make", "turn", "get"),
    "add": ("add", "put", "apply"),
    "version": ("version", "variant", "copy", "edit"),
    "scene": ("scene", "view", "setting"),
}
TYPO_RATE = 0.2  # share of texts given one or two typos


def _swap_synonyms(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if w in _SYNONYMS and rng.random() < 0.5:
            options = _SYNONYMS[w]
            words[i] = options[int(rng.integers(len(options)))]
    return " ".join(words)


def add_typos(text: str, rng: np.random.Generator, count: int = 1) -> str:
    """`count` keyboard slips (a dropped, doubled, swapped or wrong letter) inside words of 4+ letters."""
    for _ in range(count):
        words = list(re.finditer(r"[a-z]{4,}", text))
        if not words:
            break
        word = words[int(rng.integers(len(words)))]
        pos = int(rng.integers(word.start() + 1, word.end() - 2))  # a word keeps its first and last letters
        kind = int(rng.integers(4))
        if kind == 0:
            text = text[:pos] + text[pos + 1 :]
        elif kind == 1:
            text = text[:pos] + text[pos] + text[pos:]
        elif kind == 2:
            text = text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
        else:
            text = text[:pos] + string.ascii_lowercase[int(rng.integers(26))] + text[pos + 1 :]
    return text


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def vary(family: str, base: str, params: dict, rng: np.random.Generator) -> str:
    """A training text for one pair: its template `base` re-worded in a random training style."""
    style = STYLES[int(rng.integers(len(STYLES)))]
    names, results = DESCRIPTIONS[family]
    n, d = fill(_pick(names, rng), params), fill(_pick(results, rng), params)
    if style == "imperative":
        text = base
    elif style == "request":
        text = _pick(_REQUEST, rng).format(p=base)
    elif style == "tag":
        text = _pick(_NAMED, rng).format(n=n)
    elif style == "description":
        text = _pick(_DESCRIBE, rng).format(d=d)
    else:
        text = _pick(_COMPOUND, rng).format(p=base, n=n, d=d)
    text = _swap_synonyms(text.lower(), rng)
    if rng.random() < TYPO_RATE:
        text = add_typos(text, rng, count=1 + int(rng.random() < 0.3))
    return text
