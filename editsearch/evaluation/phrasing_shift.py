"""The phrasing-shift split: the held-out pairs queried in styles of phrasing that training never produces.

The queries (a first-person wish, a question and an account of what was done, per edit family) live in
phrasing_shift.json beside this module. Only this module reads that file, and no training code imports it.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

from editsearch.evaluation.retrieval import EvalSet, label_queries

SHIFT_FILE = "phrasing_shift.json"


def shift_phrasings() -> dict[str, list[str]]:
    """{family: phrasing-shift queries}, read from the package's phrasing_shift.json."""
    return label_queries(resources.files("editsearch.evaluation").joinpath(SHIFT_FILE).read_text("utf-8"), SHIFT_FILE)


def with_shifted_queries(es: EvalSet) -> EvalSet:
    """The same pairs with the phrasing-shift queries in place of the held-out phrasings."""
    shift = shift_phrasings()
    return replace(es, label_texts={label: shift[label] for label in es.label_texts})
