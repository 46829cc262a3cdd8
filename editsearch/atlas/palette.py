"""The atlas's colours, one definition for the picture (`map --png`) and the page (sent in /api/map)."""

from __future__ import annotations

# matplotlib's tab10, then the first three shades of each hue of tab20b and tab20c; their greys are left out,
# grey being noise's colour. The strongest come first: cluster 0 is the largest.
CLUSTER_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#393b79", "#5254a3", "#6b6ecf", "#637939", "#8ca252", "#b5cf6b", "#8c6d31", "#bd9e39", "#e7ba52",
    "#843c39", "#ad494a", "#d6616b", "#7b4173", "#a55194", "#ce6dbd", "#3182bd", "#6baed6", "#9ecae1",
    "#e6550d", "#fd8d3c", "#fdae6b", "#31a354", "#74c476", "#a1d99b", "#756bb1", "#9e9ac8", "#bcbddc",
)  # fmt: skip
NOISE_COLOUR = "#c9c9c9"  # edits in no cluster


def cluster_colour(cluster: int) -> str:
    """The colour of a cluster (NOISE_COLOUR for noise, -1); the palette repeats past its end."""
    return NOISE_COLOUR if cluster < 0 else CLUSTER_COLOURS[cluster % len(CLUSTER_COLOURS)]
