"""The adaptive fusion on constructed cosines: how much each query trusts its instruction match."""

from __future__ import annotations

import numpy as np
import pytest

from editsearch.core.errors import UsageError
from editsearch.index.legibility import legibility, legibility_of
from editsearch.search.ranking import fuse, instruction_trust, instruction_weight

# Six candidate edits; the pair ranks 0 first, 1 second and so on.
PAIR = np.array([0.30, 0.25, 0.20, 0.15, 0.10, 0.05])
TRUST = instruction_trust(0.96)  # a collection whose pairs the model reads well


def order(scores: np.ndarray) -> list[int]:
    return list(np.argsort(-scores, kind="stable"))


def test_a_query_far_from_every_instruction_falls_back_to_the_pair():
    far = np.array([0.10, 0.10, 0.10, 0.10, 0.10, 0.155])  # all about alike; the noise favours edit 5
    assert instruction_weight(PAIR, far, TRUST) < 0.1
    assert order(fuse(PAIR, far, trust=TRUST)) == order(PAIR)
    assert order(fuse(PAIR, far, "weighted")) != order(PAIR)  # the fixed mean lets the noise reorder


def test_a_clear_instruction_match_is_trusted():
    clear = np.array([0.10, 0.12, 0.11, 0.10, 0.92, 0.13])  # edit 4's instruction says what the query asks
    flat = np.array([0.06, 0.05, 0.07, 0.06, 0.05, 0.06])  # a pair model that cannot read these photos
    assert instruction_weight(flat, clear, TRUST) > 0.5
    assert order(fuse(flat, clear, trust=TRUST))[0] == 4
    far = np.array([0.10, 0.10, 0.10, 0.10, 0.10, 0.155])
    assert instruction_weight(PAIR, clear, TRUST) > 4 * instruction_weight(PAIR, far, TRUST)


def test_an_edit_without_an_instruction_keeps_its_pair_cosine():
    instr = np.array([0.9, np.nan, 0.2, np.nan, 0.1, 0.3])
    fused = fuse(PAIR, instr, trust=TRUST)
    missing = np.isnan(instr)
    np.testing.assert_array_equal(fused[missing], PAIR[missing])
    np.testing.assert_array_equal(fuse(PAIR, np.full(6, np.nan), trust=TRUST), PAIR)  # none stored: the pair alone
    one = np.where(np.arange(6) == 2, 0.9, np.nan)
    assert instruction_weight(PAIR, one, TRUST) == 0  # one instruction has no spread to judge it by
    np.testing.assert_array_equal(fuse(PAIR, one, trust=TRUST), PAIR)


def test_the_fused_score_is_a_convex_mix_of_cosines_per_query():
    rng = np.random.default_rng(0)
    pair, instr = rng.uniform(-0.2, 0.4, (5, 40)), rng.uniform(0.0, 0.9, (5, 40))
    weight = instruction_weight(pair, instr, TRUST)
    assert weight.shape == (5,) and ((weight > 0) & (weight < 1)).all()
    np.testing.assert_allclose(fuse(pair, instr, trust=TRUST), (1 - weight[:, None]) * pair + weight[:, None] * instr)
    for row in range(5):  # each query is fused on its own: the rows do not mix
        np.testing.assert_allclose(fuse(pair[row], instr[row], trust=TRUST), fuse(pair, instr, trust=TRUST)[row])
    assert (instruction_weight(pair, instr, trust=1.0) > weight).all()  # more trust, a larger share


def test_every_candidate_scored_alike_leaves_the_pair():
    same = np.full(4, 0.2)
    assert instruction_weight(same, same, TRUST) == 0
    np.testing.assert_array_equal(fuse(same, same, trust=TRUST), same)


def test_a_collection_read_poorly_trusts_its_instructions_more():
    trusts = [instruction_trust(a) for a in (0.995, 0.95, 0.85, 0.7, 0.6)]
    assert trusts == sorted(trusts) and trusts[0] < 0.1 < 1 < trusts[-1]
    assert instruction_trust(0.3) == instruction_trust(0.6)  # clipped to the range the fit saw
    assert instruction_trust(None) == 0  # nothing to judge by: the pair alone
    clear = np.array([0.10, 0.12, 0.11, 0.10, 0.92, 0.13])
    assert order(fuse(PAIR, clear, trust=instruction_trust(0.6)))[0] == 4
    with pytest.raises(UsageError, match="trust"):
        fuse(PAIR, clear)


def test_legibility_is_the_share_of_other_instructions_a_pair_beats():
    texts = np.eye(4, dtype=np.float32)  # four distinct instructions
    read = texts.copy()  # each pair points at its own instruction
    assert legibility_of(read, ["a", "b", "c", "d"], texts) == 1.0
    swapped = texts[[1, 0, 3, 2]]  # each pair points at another's instruction
    assert legibility_of(swapped, ["a", "b", "c", "d"], texts) == 0.0
    half = np.array([[0.5, 1.0, 0.2, 0.0]], np.float32)  # beats two of three rivals
    own = texts[:1]
    assert legibility(half, own, np.array([0]), texts, np.arange(4)) == pytest.approx(2 / 3)
    assert legibility_of(read[:2], ["a", None], texts[:2]) is None  # one instruction: no rival
    assert legibility_of(read[:2], ["a", "a"], texts[[0, 0]]) is None


def test_unknown_fusion_is_a_usage_error():
    with pytest.raises(UsageError, match="fusion must be one of"):
        fuse(PAIR, PAIR, "max")
