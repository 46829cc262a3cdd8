"""The atlas as a picture: matplotlib, points coloured by cluster, noise in grey, each name at its cluster's median."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from editsearch.atlas.clusters import NOISE
from editsearch.atlas.layout import INSTALL_HINT
from editsearch.atlas.table import AtlasMap
from editsearch.errors import MissingDependencyError
from editsearch.files import fsync_replace

MAX_LABELS = 60  # the largest clusters are named on the picture; the table has every name
LABEL_WIDTH = 22  # characters per line of a name on the picture


def draw_png(atlas: AtlasMap, path: str | Path, title: str = "Edit atlas", dpi: int = 200) -> Path:
    """Write the map as a PNG (written to a temp file, then renamed); returns its path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import patheffects
    except ImportError:
        raise MissingDependencyError(f"`editsearch map --png` needs matplotlib: {INSTALL_HINT}") from None
    path = Path(path)
    fig, ax = plt.subplots(figsize=(10, 10))
    try:
        noise = atlas.cluster == NOISE
        point = float(np.clip(40_000 / max(len(atlas), 1), 0.3, 30))
        ax.scatter(atlas.x[noise], atlas.y[noise], s=point, c="#c8c8c8", linewidths=0, rasterized=True)
        colours = plt.get_cmap("tab20")
        clustered = ~noise
        ax.scatter(
            atlas.x[clustered],
            atlas.y[clustered],
            s=point,
            c=[colours(int(c) % 20) for c in atlas.cluster[clustered]],
            linewidths=0,
            rasterized=True,
        )
        outline = [patheffects.withStroke(linewidth=3, foreground="white")]
        for c in sorted(atlas.clusters(), key=lambda c: -c.size)[:MAX_LABELS]:
            text = "\n".join(textwrap.wrap(c.label, LABEL_WIDTH))
            ax.text(c.x, c.y, text, ha="center", va="center", fontsize=8, weight="bold", path_effects=outline)
        ax.set_title(f"{title}: {len(atlas)} edits, {len(atlas.clusters())} clusters", fontsize=12)
        ax.set_axis_off()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
            fsync_replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
    return path
