"""The audit's score arithmetic on made-up vectors: z-scores from moments, instruction peers, neighbours, groups."""

from __future__ import annotations

import numpy as np

import editsearch.audit.neighbours as neighbours_module
from editsearch.audit.checks.duplicate import duplicate_groups
from editsearch.audit.checks.mismatch import mismatch_scores
from editsearch.audit.moments import Moments
from editsearch.audit.neighbours import PositionMap, nearest_rows, signature_neighbours, without_self
from editsearch.audit.peers import InstructionPeers


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_moments_give_the_z_score_of_a_full_scan():
    rng = np.random.default_rng(0)
    population, queries = rng.normal(size=(300, 12)), rng.normal(size=(40, 12))
    values = rng.normal(size=40)
    moments = Moments(12)
    moments.add(population[:100])
    moments.add(population[100:])  # chunk by chunk, as a pass reads them
    sims = queries @ population.T
    expected = (values - sims.mean(axis=1)) / sims.std(axis=1)
    np.testing.assert_allclose(moments.z(queries, values), expected, rtol=1e-9)
    assert np.isnan(Moments(12).z(queries, values)).all()  # an empty population


def clustered(rng: np.random.Generator, centres: np.ndarray, each: int, spread: float) -> np.ndarray:
    return unit(np.repeat(centres, each, axis=0) + spread * rng.normal(size=(len(centres) * each, centres.shape[1])))


def test_a_pair_far_from_the_pairs_of_its_instruction_scores_low_and_the_rest_high():
    rng = np.random.default_rng(1)
    dim, kinds, each = 32, 4, 12
    pairs = clustered(rng, rng.normal(size=(kinds, dim)), each, 0.3)  # pairs of kind k at k*each ...
    texts = clustered(rng, rng.normal(size=(kinds, dim)), 3, 0.3)  # three wordings of each kind: rows 3k .. 3k+2
    own = np.asarray([3 * (i // each) + i % 3 for i in range(len(pairs))])
    own[5] = 3 * 2  # a kind-0 pair labelled with a kind-2 wording
    own[20] = -1  # a pair with no instruction
    peers = InstructionPeers(own, dim)
    for start in range(0, len(pairs), 10):
        peers.add(np.arange(start, min(start + 10, len(pairs))), pairs[start : start + 10])
    peers.settle(texts, target=0.95)
    z = peers.z(np.arange(len(pairs)), pairs)
    assert np.isnan(z[20]) and np.isfinite(np.delete(z, 20)).all()
    assert z[5] < 0 < 1 < np.nanmin(np.delete(z, 5))


def test_a_lone_instruction_borrows_the_pairs_of_the_nearest_ones():
    rng = np.random.default_rng(2)
    pairs = clustered(rng, rng.normal(size=(4, 16)), 10, 0.2)
    texts = clustered(rng, rng.normal(size=(4, 16)), 10, 0.05)  # ten near-identical wordings per kind
    peers = InstructionPeers(np.arange(40), 16)  # every pair has a wording of its own
    peers.add(np.arange(40), pairs)
    peers.settle(texts, target=0.95)
    assert (peers.peer_counts == 9).all()  # its own pair and eight others, all of its kind
    assert (peers.z(np.arange(40), pairs) > 1).all()


def test_the_mismatch_score_falls_back_to_the_text_reading_without_peers():
    text, peer = np.asarray([2.0, -1.0, np.nan]), np.asarray([0.0, np.nan, 1.0])
    np.testing.assert_array_equal(mismatch_scores(text, peer), [-1.0, 1.0, np.nan])
    np.testing.assert_array_equal(mismatch_scores(text, None), -text)


def test_nearest_rows_leave_each_row_out_and_an_ivf_finds_what_an_exact_search_does(monkeypatch):
    rng = np.random.default_rng(3)
    matrix = clustered(rng, rng.normal(size=(40, 24)), 50, 0.4)
    exact = nearest_rows(matrix, 5, target=0.95)
    assert exact.shape == (2000, 5) and not (exact == np.arange(2000)[:, None]).any()
    monkeypatch.setattr(neighbours_module, "EXACT_MAX", 100)
    approx = nearest_rows(matrix, 5, target=0.95)
    found = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact, strict=True)])
    assert found >= 0.9 and not (approx == np.arange(2000)[:, None]).any()


def test_without_self_pads_and_positions_map_unknown_ids_to_minus_one():
    found = np.asarray([[7, 3, -1], [3, 7, 9]])
    np.testing.assert_array_equal(without_self(found, np.asarray([7, 3]), 3), [[3, -1, -1], [7, 9, -1]])
    where = PositionMap([30, 10, 20])
    np.testing.assert_array_equal(where(np.asarray([[10, 20, 99, -1]])), [[1, 2, -1, -1]])


def test_duplicate_links_form_groups_that_keep_their_first_pair():
    dist = np.asarray([[0.0, np.inf], [1.0, 50.0], [0.5, np.inf], [np.inf, np.inf], [50.0, np.inf]])
    links = np.asarray([[1, -1], [2, 4], [1, -1], [-1, -1], [3, -1]])
    keep_order = np.asarray([3, 1, 2, 0, 4])  # pair 1 ranks first in the chain 0-1-2
    is_dup, kept = duplicate_groups(dist, links, threshold=-3.0, keep_order=keep_order)
    np.testing.assert_array_equal(is_dup, [True, False, True, False, False])
    np.testing.assert_array_equal(kept, [1, -1, 1, -1, -1])


def test_signature_neighbours_find_a_copy_whatever_the_pair_vectors_say(monkeypatch):
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**63, size=(300, 2), dtype=np.uint64)
    copy = hashes[17] ^ np.uint64(0b1011)  # a re-encoded copy: 3 bits of each pHash flipped
    hashes = np.vstack([hashes, copy[None].repeat(1, axis=0)])
    known = np.ones(len(hashes), dtype=bool)
    known[5] = False  # no signature: no candidates, and nobody's candidate
    found = signature_neighbours(hashes, known, 4)
    assert found.shape == (301, 4) and found[300, 0] == 17 and found[17, 0] == 300
    assert (found[5] == -1).all() and not (found == 5).any() and not (found == np.arange(301)[:, None]).any()
    monkeypatch.setattr(neighbours_module, "BINARY_EXACT_MAX", 10)  # the approximate (HNSW) search
    assert signature_neighbours(hashes, known, 4)[300, 0] == 17
    assert (signature_neighbours(hashes[:1], known[:1], 4) == -1).all()
