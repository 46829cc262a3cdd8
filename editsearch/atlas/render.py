"""The atlas as a picture (matplotlib): points sized and faded by their number, coloured by cluster, noise in grey
underneath, the largest clusters' names in boxes edged with their colour, moved clear of each other, and a caption
on how far the clusters agree with the instructions."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.atlas.clusters import NOISE
from editsearch.atlas.layout import INSTALL_HINT
from editsearch.atlas.palette import NOISE_COLOUR, cluster_colour
from editsearch.atlas.table import AtlasMap
from editsearch.core.errors import MissingDependencyError
from editsearch.core.files import atomic_path

MAX_LABELS = 60  # the largest clusters are named on the picture; the table has every name
LABEL_WIDTH = 24  # characters per line of a name on the picture
CAPTION_WIDTH = 120  # characters per line of the caption (the agreement with the instructions)
INK = 0.3 * (9 * 72) ** 2  # points² of marker area the points share (a 9-inch square of plot, 30% covered)
# where a name may go when its own place is taken: (dx, dy) in its box's widths and heights, nearest first
DIRECTIONS = ((0, 1), (0, -1), (0.6, 0.5), (-0.6, 0.5), (0.6, -0.5), (-0.6, -0.5), (1, 0), (-1, 0))
MOVES = [(0.0, 0.0)] + [(dx * r, dy * r) for r in (1, 2, 3) for dx, dy in DIRECTIONS]


def draw_png(atlas: AtlasMap, path: str | Path, title: str = "Edit atlas", dpi: int = 200) -> Path:
    """Write the map as a PNG (written to a temp file, then renamed); returns its path."""
    plt = _pyplot()
    fig = figure(atlas, title)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.15, facecolor="white")
    finally:
        plt.close(fig)
    return Path(path)


def figure(atlas: AtlasMap, title: str = "Edit atlas") -> Any:
    """The map as a matplotlib figure: points, cluster names, a title and a caption saying how far the clusters
    agree with the instructions (the caller closes it)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 10))
    try:
        _scatter(ax, atlas)
        ax.set_axis_off()
        _fit_view(ax, atlas)
        _label(fig, ax, atlas)
    except BaseException:
        plt.close(fig)
        raise
    noise = float((atlas.cluster == NOISE).mean()) if len(atlas) else 0.0
    summary = f"{len(atlas):,} edits, {len(atlas.clusters())} clusters, {noise:.0%} noise"
    ax.set_title(f"{title}: {summary}", fontsize=13, loc="left", pad=12, parse_math=False)
    ax.annotate(  # the caption, under the map
        "\n".join(textwrap.wrap(atlas.agreement_line(), CAPTION_WIDTH)),
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(0, -6),
        textcoords="offset points",
        va="top",
        fontsize=9.5,
        color="#4a4f57",
        parse_math=False,
        gid="agreement",
    )
    return fig


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(f"`editsearch map --png` needs matplotlib: {INSTALL_HINT}") from None
    return plt


def point_style(n: int) -> tuple[float, float]:
    """(marker area in points², alpha) for n points: together they cover about INK, fainter as they crowd."""
    size = float(np.clip(INK / max(n, 1), 0.4, 60.0))
    alpha = float(np.clip(1.15 - 0.17 * math.log10(max(n, 1)), 0.3, 0.9))
    return size, alpha


def _scatter(ax: Any, atlas: AtlasMap) -> None:
    """Noise first, smaller and grey; then the clustered points in their cluster's colour."""
    size, alpha = point_style(len(atlas))
    noise = atlas.cluster == NOISE
    ax.scatter(atlas.x[noise], atlas.y[noise], s=0.7 * size, c=NOISE_COLOUR, alpha=alpha, linewidths=0, rasterized=True)
    clustered = ~noise
    ax.scatter(
        atlas.x[clustered],
        atlas.y[clustered],
        s=size,
        c=[cluster_colour(int(c)) for c in atlas.cluster[clustered]],
        alpha=alpha,
        linewidths=0,
        rasterized=True,
    )


def _fit_view(ax: Any, atlas: AtlasMap) -> None:
    """Equal axes with a margin around the points, fixed before labels are placed (so moves stay put)."""
    if not len(atlas):
        return
    (x0, x1), (y0, y1) = (float(atlas.x.min()), float(atlas.x.max())), (float(atlas.y.min()), float(atlas.y.max()))
    mx, my = max((x1 - x0) * 0.06, 0.5), max((y1 - y0) * 0.06, 0.5)
    ax.set_xlim(x0 - mx, x1 + mx)
    ax.set_ylim(y0 - my, y1 + my)
    ax.set_aspect("equal", adjustable="box")
    ax.apply_aspect()


def _label(fig: Any, ax: Any, atlas: AtlasMap) -> None:
    """Name the largest clusters in boxes, each at its cluster or the nearest clear place around it."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list = []
    for rank, c in enumerate(sorted(atlas.clusters(), key=lambda c: (-c.size, c.cluster))[:MAX_LABELS]):
        colour = cluster_colour(c.cluster)
        label = ax.text(
            c.x,
            c.y,
            "\n".join(textwrap.wrap(c.label, LABEL_WIDTH)) or f"cluster {c.cluster}",
            ha="center",
            va="center",
            fontsize=9 if rank < 10 else 7.5,
            weight="bold" if rank < 10 else "normal",
            color="#1d1f24",
            parse_math=False,  # a name is plain text: `$` is a dollar sign, not TeX
            zorder=4,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "lw": 1.0, "alpha": 0.88},
        )
        moved = _move_clear(ax, label, placed, renderer, frame)
        if moved is None:
            label.remove()  # no clear place near its cluster: the table names it
        elif moved:
            end = label.get_position()
            ax.plot([c.x, end[0]], [c.y, end[1]], lw=0.7, c=colour, zorder=3)


def _move_clear(ax: Any, label: Any, placed: list, renderer: Any, frame: Any) -> bool | None:
    """Put a label at the first of MOVES where its box overlaps no placed box and stays in the frame.

    True if it moved, False if it stayed, None if no such place was found."""
    box = label.get_window_extent(renderer).expanded(1.06, 1.25)
    x, y = ax.transData.transform(label.get_position())
    for dx, dy in MOVES:
        shifted = box.translated(dx * box.width, dy * box.height)
        inside = frame.x0 <= shifted.x0 and shifted.x1 <= frame.x1 and frame.y0 <= shifted.y0 and shifted.y1 <= frame.y1
        if inside and not any(shifted.overlaps(other) for other in placed):
            placed.append(shifted)
            if (dx, dy) == (0, 0):
                return False
            label.set_position(ax.transData.inverted().transform((x + dx * box.width, y + dy * box.height)))
            return True
    return None
