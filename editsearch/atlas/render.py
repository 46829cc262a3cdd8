"""The atlas as a picture: matplotlib, points coloured by cluster, noise in grey, each name at its cluster's median."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.atlas.clusters import NOISE
from editsearch.atlas.layout import INSTALL_HINT
from editsearch.atlas.table import AtlasMap
from editsearch.errors import MissingDependencyError
from editsearch.files import fsync_replace

MAX_LABELS = 60  # the largest clusters are named on the picture; the table has every name
LABEL_WIDTH = 22  # characters per line of a name on the picture
MAX_LABEL_STEPS = 8  # a name overlapping another moves up or down by at most this many of its heights


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
        ax.set_axis_off()
        _fit_view(ax, atlas)
        placed: list = []
        renderer = fig.canvas.get_renderer()
        for c in sorted(atlas.clusters(), key=lambda c: -c.size)[:MAX_LABELS]:
            text = "\n".join(textwrap.wrap(c.label, LABEL_WIDTH))
            label = ax.text(c.x, c.y, text, ha="center", va="center", fontsize=8, weight="bold", path_effects=outline)
            if _move_clear(ax, label, placed, renderer):
                ax.plot([c.x, label.get_position()[0]], [c.y, label.get_position()[1]], lw=0.5, c="#666666")
        ax.set_title(f"{title}: {len(atlas)} edits, {len(atlas.clusters())} clusters", fontsize=12)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
            fsync_replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
    return path


def _fit_view(ax: Any, atlas: AtlasMap) -> None:
    """Axis limits with a margin around the points, fixed before labels are placed (so moves stay put)."""
    if not len(atlas):
        return
    (x0, x1), (y0, y1) = (float(atlas.x.min()), float(atlas.x.max())), (float(atlas.y.min()), float(atlas.y.max()))
    mx, my = max((x1 - x0) * 0.08, 0.5), max((y1 - y0) * 0.08, 0.5)
    ax.set_xlim(x0 - mx, x1 + mx)
    ax.set_ylim(y0 - my, y1 + my)


def _move_clear(ax: Any, label: Any, placed: list, renderer: Any) -> bool:
    """Shift a label up or down, in steps of its height, until it overlaps no placed label; True if it moved."""
    box = label.get_window_extent(renderer).expanded(1.05, 1.15)
    if not any(box.overlaps(other) for other in placed):
        placed.append(box)
        return False
    x, y = ax.transData.transform(label.get_position())
    for step in range(1, MAX_LABEL_STEPS + 1):
        for sign in (1, -1):
            shifted = box.translated(0, sign * step * box.height)
            if not any(shifted.overlaps(other) for other in placed):
                label.set_position(ax.transData.inverted().transform((x, y + sign * step * box.height)))
                placed.append(shifted)
                return True
    placed.append(box)  # nowhere clear nearby: left where it is
    return False
