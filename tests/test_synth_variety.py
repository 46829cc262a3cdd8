"""The wider training world: other implementations of the families, weaker and regional edits, two at once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from editsearch.core.rng import stream
from editsearch.data.synthetic.families import COMPOUND_STEPS, FAMILIES
from editsearch.data.synthetic.generator import make_pair, mean_change
from editsearch.data.synthetic.paraphrase import DESCRIPTIONS
from editsearch.data.synthetic.photos import sample_source
from editsearch.data.synthetic.phrasings import fill
from editsearch.data.synthetic.variety import (
    OTHER_IMPLEMENTATIONS,
    REGION_WORDS,
    describe,
    make_wide_pair,
    region_mask,
)

IMPLEMENTATIONS = [(family, k) for family, fns in OTHER_IMPLEMENTATIONS.items() for k in range(len(fns))]


@pytest.mark.parametrize(("family", "k"), IMPLEMENTATIONS, ids=[f"{f}-{k}" for f, k in IMPLEMENTATIONS])
def test_every_other_implementation_changes_the_image_and_can_be_phrased(family: str, k: int) -> None:
    before, _ = sample_source(stream(3, "variety-test", k), "train", 64)
    after, params = OTHER_IMPLEMENTATIONS[family][k](before, stream(3, "variety-edit", k))
    assert after.size == before.size and after.mode == "RGB"
    assert mean_change(before, after) > 0.25  # a sharpen of a smooth crop changes little, but it changes
    names, results = DESCRIPTIONS[family]
    for phrase in [*FAMILIES[family].phrasings("train"), *FAMILIES[family].phrasings("test"), *names, *results]:
        fill(phrase, params)  # every {placeholder} of the family's texts is among the params


def test_wide_pairs_are_reproducible_and_cover_every_kind() -> None:
    first = make_wide_pair(stream(0, "wide", 7), "train", 48)
    again = make_wide_pair(stream(0, "wide", 7), "train", 48)
    assert first.family == again.family and first.instruction == again.instruction
    assert np.array_equal(np.asarray(first.after), np.asarray(again.after))

    kinds: Counter = Counter()
    compounds = {frozenset(steps) for steps in COMPOUND_STEPS.values()}
    for i in range(300):
        pair = make_wide_pair(stream(0, "wide", i), "train", 48)
        if "+" in pair.family:
            kinds["two"] += 1
            steps = [s["family"] for s in pair.params["steps"]]
            assert pair.family == "+".join(steps) and frozenset(steps) not in compounds
            assert FAMILIES[steps[0]].group != FAMILIES[steps[1]].group
        else:
            assert pair.family in FAMILIES
            kinds.update(k for k in ("implementation", "strength", "region") if k in pair.params)
    assert set(kinds) == {"two", "implementation", "strength", "region"}, kinds
    assert 0.1 < kinds["two"] / 300 < 0.3


def test_the_canonical_generator_is_untouched_by_the_wide_one() -> None:
    made = make_pair(stream(0, "synth-pair", 5), "train", 48)
    assert "implementation" not in made.params and "region" not in made.params and made.family in FAMILIES


def test_a_region_mask_covers_its_side_only() -> None:
    rng = np.random.default_rng(0)
    for region in REGION_WORDS:
        mask = region_mask(region, (64, 64), rng)
        inside = {"left": mask[:, :10], "right": mask[:, -10:], "top": mask[:10], "bottom": mask[-10:]}.get(
            region, mask[28:36, 28:36]
        )
        outside = {"left": mask[:, -10:], "right": mask[:, :10], "top": mask[-10:], "bottom": mask[:10]}.get(
            region, mask[:4, :4]
        )
        assert inside.min() > 0.99 and outside.max() < 0.01, region


def test_describe_joins_two_edits_and_sometimes_names_the_region() -> None:
    steps = {"steps": [{"family": "sepia", "params": {}}, {"family": "blur", "params": {"region": "left"}}]}
    texts = {describe("sepia+blur", steps, "train", np.random.default_rng(i)) for i in range(60)}
    sepia, blur = set(FAMILIES["sepia"].train_phrasings), set(FAMILIES["blur"].train_phrasings)
    for text in texts:
        assert any(s in text for s in sepia) and any(b in text for b in blur), text
    assert any(w in t for t in texts for w in REGION_WORDS["left"])
    assert any(not any(w in t for w in REGION_WORDS["left"]) for t in texts)
    rewording = describe("sepia", {}, "train", np.random.default_rng(0), vary=lambda f, t, p, r: f"<{f}:{t}>")
    assert rewording.startswith("<sepia:") and rewording.endswith(">")
