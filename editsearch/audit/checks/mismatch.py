"""mismatch: the instruction fits this pair no better than the index's other instructions do.

The score is minus the mean of two z-scores of the pair's own instruction, so no raw cosine is compared across
pairs: its EC2T standardised over every distinct instruction of the index (how far above a typical instruction its
own one fits; instructions.py), and its peer z, the pair's cosine to the other pairs with that instruction or the
nearest ones, standardised over every live pair (peers.py), which holds where the model misreads a kind of edit.
The EC2T z alone for a pair with no peers.

Reliability: planted mismatches. Each of a sample of pairs is read, the way the check reads it, with the
instructions of DRAWS other pairs (a planted mislabel: a swapped label, as a mismatch in a real collection
usually is); a pair wins when its own instruction fits it better than the planted one does. On the EC2T reading
alone, the share of wins is the collection's legibility (editsearch.index.legibility): 1.0 when the model reads
every pair, 0.5 when it reads none (photos far from what it was trained on). The share comes from the
collection alone, with the check's own score, and the few real mismatches it holds only lower it, as they should.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks.base import PEERS, TEXT, Check, Reliability, reading
from editsearch.core.rng import stream

if TYPE_CHECKING:
    from editsearch.audit.instructions import InstructionScorer
    from editsearch.audit.peers import InstructionPeers
    from editsearch.audit.state import AuditState

SAMPLE = 1000  # pairs whose reading is measured at most (as many as the index's legibility sample)
DRAWS = 8  # other pairs' instructions each sampled pair is read with


def mismatch_scores(text_z: np.ndarray, peer_z: np.ndarray | None) -> np.ndarray:
    """Minus the mean of the two readings of each pair's own instruction (the EC2T z alone where it has no peers)."""
    if peer_z is None:
        return -text_z
    return -np.where(np.isfinite(peer_z), (text_z + peer_z) / 2, text_z)


@dataclass
class Planted:
    """A sample of pairs, each given the instructions of DRAWS other pairs, and both readings of those."""

    positions: np.ndarray  # [m] the sampled pairs
    donors: np.ndarray  # [m, DRAWS] the pairs whose instruction each is given, -1 where the draw carried its own
    text_z: np.ndarray  # [m, DRAWS]
    peer_z: np.ndarray  # [m, DRAWS]

    @classmethod
    def draw(cls, own: np.ndarray) -> Planted:
        """A fixed random sample of the pairs with an instruction, and for each DRAWS other pairs' instructions."""
        rng = stream(0, "audit-planted-mismatch")
        labelled = np.flatnonzero(own >= 0)
        positions = np.sort(rng.choice(labelled, min(SAMPLE, len(labelled)), replace=False))
        donors = rng.choice(labelled, (len(positions), DRAWS)) if len(labelled) else np.zeros((0, DRAWS), int)
        donors = np.where(own[donors] != own[positions][:, None], donors, -1)
        empty = np.full(donors.shape, np.nan)
        return cls(positions, donors, empty, empty.copy())

    def read(
        self, pos: np.ndarray, mat: np.ndarray, own: np.ndarray, scorer: InstructionScorer, peers: InstructionPeers
    ) -> None:
        """Read the sampled pairs among this chunk of pair vectors with their planted instructions."""
        at = np.searchsorted(self.positions, pos)
        hit = (at < len(self.positions)) & (self.positions[np.minimum(at, len(self.positions) - 1)] == pos)
        if not hit.any():
            return
        rows, vectors = at[hit], np.repeat(mat[hit], DRAWS, axis=0)
        donors = self.donors[rows].ravel()
        given = np.where(donors >= 0, own[donors], -1)
        self.text_z[rows] = scorer.z(vectors, given).reshape(-1, DRAWS)
        groups = np.where(donors >= 0, peers.group[np.maximum(donors, 0)], -1)
        self.peer_z[rows] = peers.z_as(np.repeat(self.positions[rows], DRAWS), vectors, groups).reshape(-1, DRAWS)

    def wins(self, scores: np.ndarray, peer_z: np.ndarray) -> np.ndarray:
        """Per sampled pair, the share of its planted instructions that fit it worse than its own (ties: half)."""
        with_peers = np.isfinite(peer_z[self.positions])[:, None]  # read the way its own instruction was read
        planted = -np.where(with_peers & np.isfinite(self.peer_z), (self.text_z + self.peer_z) / 2, self.text_z)
        mine = scores[self.positions][:, None]
        valid = (self.donors >= 0) & np.isfinite(planted) & np.isfinite(mine)
        won = np.where(valid, (planted > mine) + 0.5 * (planted == mine), 0.0)
        counted = valid.sum(axis=1)
        return won.sum(axis=1)[counted > 0] / counted[counted > 0]


class Mismatch(Check):
    """Pairs whose instruction does not describe them."""

    name = "mismatch"
    explains = "the instruction fits this pair no better than the index's other instructions do"
    colour = "#c92a2a"
    needs = frozenset({TEXT, PEERS})
    bounds = (-1.0, 0.0)  # never flag an instruction 1 sd or more above typical; always one fitting worse
    suggests = True

    def score(self, state: AuditState) -> np.ndarray:
        n = len(state.edits)
        scorer, peers, own = state.scorer, state.peers, state.own
        if scorer is None or peers is None or own is None or state.z_forward is None:
            return np.full(n, np.nan)  # fewer than two instructions (a note says so)
        planted = Planted.draw(own)
        peer_z = np.full(n, np.nan)
        for pos, mat in state.vector_chunks():  # a second pass: the peers are settled after the first
            peer_z[pos] = peers.z(pos, mat)
            planted.read(pos, mat, own, scorer, peers)
        state.extra[self.name] = (planted, peer_z)
        return mismatch_scores(state.z_forward, peer_z)

    def reliability(self, state: AuditState, scores: np.ndarray) -> Reliability:
        planted, peer_z = state.extra.get(self.name, (None, None))
        wins = planted.wins(scores, peer_z) if planted is not None else np.zeros(0)
        what = "{share} of the time a pair fits its own instruction better than another pair's"
        return reading(wins, what, "no two pairs carry different instructions")

    def card(self, row: dict[str, Any]) -> list[str]:
        suggestion = row.get("suggested_instruction")
        return [f"Suggested instruction: {suggestion}"] if suggestion else []
