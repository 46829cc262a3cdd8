"""Cluster names: the instruction most of a cluster's edits carry (alike ones counted together, agreement.py), or
"mixed: A / B (+N more)" when no group of them holds a clear majority; a cluster whose edits carry no instruction
is named by the shipped edit phrase (vocabulary.py) nearest its mean pair vector (EC2T), embedded with the
index's model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from editsearch.atlas.agreement import Groups
from editsearch.atlas.clusters import NOISE
from editsearch.search.vocabulary import EDIT_PHRASES

# A cluster is named after its top group of instructions only when that group holds at least this share of its
# edits with instructions: above one half, so that an even mix of two edits (the plainest mixed cluster, each
# half at 0.5) is called mixed even where its texts are told apart; the value itself was chosen with ALIKE
# (agreement.py) on the project's own generator.
MIXED_SHARE = 0.55
NAMED_IN_MIX = 2  # the groups a mixed cluster's name spells out


@dataclass
class ClusterName:
    """A cluster's name and where it comes from, as the map keeps it."""

    label: str
    source: str  # "instructions" (its edits' own) or "vocabulary" (the shipped edit phrases: they carry none)
    mixed: bool = False  # no group of its instructions holds MIXED_SHARE of its edits with instructions
    purity: float | None = None  # the share its top group holds (None: named from the vocabulary)
    instructed: int = 0  # its edits that carry an instruction

    def to_json(self) -> dict:
        """The stored form (the map's state), without the label (kept apart, as the names)."""
        return {k: v for k, v in asdict(self).items() if k != "label"}


def cluster_means(vectors: np.ndarray, clusters: np.ndarray) -> dict[int, np.ndarray]:
    """cluster id -> the unit mean of its members' vectors (noise left out)."""
    out = {}
    for c in np.unique(clusters[clusters != NOISE]):
        mean = np.asarray(vectors[clusters == c], dtype=np.float64).mean(axis=0)
        out[int(c)] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return out


def from_instructions(groups: Groups) -> ClusterName:
    """The name of a cluster from its groups of alike instructions: the top one's text, or a mixed name."""
    purity = round(groups.purity, 4)
    mixed = groups.purity < MIXED_SHARE
    label = groups.groups[0][1]
    if mixed:
        label = "mixed: " + " / ".join(text for _, text in groups.groups[:NAMED_IN_MIX])
        more = len(groups.groups) - NAMED_IN_MIX
        label += f" (+{more} more)" if more > 0 else ""
    return ClusterName(label, "instructions", mixed, purity, groups.instructed)


def from_vocabulary(
    means: Mapping[int, np.ndarray], embed_texts: Callable[[Sequence[str]], np.ndarray]
) -> dict[int, ClusterName]:
    """cluster id -> the shipped edit phrase nearest its mean pair vector (the phrases embedded only if needed)."""
    if not means:
        return {}
    vocabulary = _unit(np.asarray(embed_texts(list(EDIT_PHRASES)), dtype=np.float32))
    return {c: ClusterName(EDIT_PHRASES[int(np.argmax(vocabulary @ mean))], "vocabulary") for c, mean in means.items()}


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
