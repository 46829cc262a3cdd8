"""How far the clusters agree with the instructions their edits carry: alike instructions grouped within a cluster,
each cluster's share of its top group (its purity), and the map's figures over the edits with instructions.

Instructions are compared as texts: the same text but for case, spacing and the punctuation around it is one
instruction (`instruction_key`); within a cluster, instructions the text tower finds alike are grouped by
average linkage (scipy) of their cosine distances, so that paraphrases of one edit count together.
"""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Two groups of instructions are alike while their texts' mean cosine (text tower) is at least ALIKE. Chosen on
# the project's own generator (`editsearch data synth`, two draws of 940 and 1,410 pairs, editclip-mini), with
# MIXED_SHARE (labels.py): the pair that calls at most 1 in 20 clusters of one synthetic family mixed while
# catching the most merges of two families' clusters (55-73% of two-family merges, 79-86% of three-family
# ones). The text tower cannot do much better: between families paraphrases can be nearer than within one
# ("flip it along the horizontal / vertical axis": 0.975; "increase / reduce the saturation": 0.94), so such
# opposites stay one group, and a synthetic map's purity reads about 0.85 where its families' is 0.97.
ALIKE = 0.425
NAME_SAMPLE = 2_000  # a cluster's groups are found among at most this many of its edits (a uniform sample)
_AROUND = string.punctuation + string.whitespace


def instruction_key(text: str) -> str:
    """The instruction as compared: case-folded, spaces collapsed, the punctuation around it dropped."""
    key = " ".join(unicodedata.normalize("NFKC", text).casefold().split()).strip(_AROUND)
    return key or text


@dataclass
class Groups:
    """The alike-instruction groups of one cluster's edits: (edits, the text most of them carry), most first."""

    groups: list[tuple[int, str]]
    instructed: int  # the cluster's edits that carry an instruction (the groups count a sample of them)

    @property
    def purity(self) -> float:
        """The share of the (sampled) edits with instructions that its top group holds."""
        return self.groups[0][0] / sum(n for n, _ in self.groups)


def alike_groups(texts: Sequence[str], vectors: Mapping[str, np.ndarray], rng: np.random.Generator) -> Groups:
    """The groups of alike instructions among these (one per edit, each with its text-tower vector in `vectors`)."""
    sample = list(texts)
    if len(sample) > NAME_SAMPLE:
        sample = [sample[i] for i in rng.choice(len(sample), NAME_SAMPLE, replace=False)]
    variants: dict[str, Counter[str]] = {}
    for text in sample:
        variants.setdefault(instruction_key(text), Counter())[text] += 1
    keys = sorted(variants, key=lambda k: (-variants[k].total(), k))
    shown = {k: variants[k].most_common(1)[0][0] for k in keys}
    group = _linkage_groups(np.stack([vectors[shown[k]] for k in keys])) if len(keys) > 1 else np.zeros(1, int)
    sizes: Counter[int] = Counter()
    leader: dict[int, str] = {}
    for k, g in zip(keys, group.tolist(), strict=True):
        sizes[g] += variants[k].total()
        leader.setdefault(g, shown[k])  # keys come most carried first: a group's first is its name
    ordered = sorted(sizes, key=lambda g: (-sizes[g], leader[g]))
    return Groups([(sizes[g], leader[g]) for g in ordered], len(texts))


def _linkage_groups(matrix: np.ndarray) -> np.ndarray:
    """Group labels of unit text vectors: average linkage on cosine distance, cut at 1 - ALIKE."""
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(np.asarray(matrix, dtype=np.float64), method="average", metric="cosine")
    return fcluster(tree, t=1.0 - ALIKE, criterion="distance")


def measure(
    clusters: Mapping[int, int], carried: Mapping[int, str], groups: Mapping[int, Groups], mixed: int
) -> dict[str, Any]:
    """The map's agreement with the instructions: `clusters` edit -> cluster (noise: -1) of the mapped edits,
    `carried` edit -> instruction of those that carry one, `groups` of each cluster named by instructions.

    purity: the clusters' purities weighted by their edits with instructions; kept_together: for each
    instruction carried by two clustered edits or more, the share of its edits in its most common cluster,
    weighted by its edits (a split instruction lowers it); None where there is nothing to measure."""
    instructed = [e for e in clusters if e in carried]
    clustered = [e for e in instructed if clusters[e] >= 0]
    weight = sum(g.instructed for g in groups.values())
    purity = sum(g.purity * g.instructed for g in groups.values()) / weight if weight else None
    spread: dict[str, Counter[int]] = {}
    for e in clustered:
        spread.setdefault(instruction_key(carried[e]), Counter())[clusters[e]] += 1
    shared = [c for c in spread.values() if c.total() >= 2]
    total = sum(c.total() for c in shared)
    return {
        "instructed": len(instructed),
        "clustered": len(clustered),
        "purity": None if purity is None else round(purity, 4),
        "kept_together": round(sum(max(c.values()) for c in shared) / total, 4) if total else None,
        "clusters": len(groups),
        "mixed": mixed,
    }


def agreement_line(agreement: Mapping[str, Any] | None, pointer: str = "") -> str:
    """One line on how far the clusters agree with the instructions; `pointer` says where the per-cluster figures
    are (" (per cluster in the table)")."""
    if agreement is None:
        return "how far the clusters agree with the instructions is not known for this map: run `editsearch map`"
    if not agreement["instructed"]:
        return "no instructions on the mapped edits: the clusters cannot be checked against them"
    if agreement["purity"] is None:
        return "the edits with instructions are all noise: no cluster to check against them"
    line = f"clusters agree with the instructions: purity {agreement['purity']:.2f}{pointer}"
    if agreement["kept_together"] is not None:
        line += f"; an instruction's edits in one cluster: {agreement['kept_together']:.2f}"
    line += f"; {agreement['mixed']} of {agreement['clusters']} clusters mixed"
    return line + f"; over {agreement['instructed']:,} edits with instructions"
