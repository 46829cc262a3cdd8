"""The map as a result: one row per edit (id, before, after, x, y, cluster, label), its clusters and a summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.atlas.agreement import agreement_line
from editsearch.atlas.clusters import NOISE
from editsearch.atlas.palette import CLUSTER_COLOURS, NOISE_COLOUR, cluster_colour
from editsearch.core.files import atomic_path

COLUMNS = ("id", "before", "after", "x", "y", "cluster", "label")
LABEL_FIELDS = ("source", "mixed", "purity", "instructed")  # where a cluster's name comes from, as stored
BOX_OUTSIDE = 0.01  # share of a cluster's members its box may leave out on each side (stray members)


@dataclass
class ClusterInfo:
    """One cluster: its id, name, size, centre (the members' median), extent, colour and where its name comes from."""

    cluster: int
    label: str
    size: int
    x: float
    y: float
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1): all but BOX_OUTSIDE of the members on each side
    colour: str  # palette.cluster_colour: the picture's and the page's
    source: str = ""  # "instructions" or "vocabulary" (labels.ClusterName); "" on a map named by older code
    mixed: bool = False  # its edits carry instructions of which no group holds a clear majority
    purity: float | None = None  # the share of its edits with instructions that its top group holds
    instructed: int = 0  # its edits that carry an instruction

    def described(self) -> dict[str, Any]:
        """Its name and where it comes from, for a summary."""
        return {k: getattr(self, k) for k in ("cluster", "label", "size", *LABEL_FIELDS)}


@dataclass
class AtlasMap:
    """The edit atlas of an index: every live edit's 2-D position and cluster (NOISE = -1), and cluster names."""

    ids: np.ndarray
    before: list[str]  # image locators, one per edit (empty when read without files: see read_map)
    after: list[str]
    x: np.ndarray
    y: np.ndarray
    cluster: np.ndarray
    names: dict[int, str] = field(default_factory=dict)
    label_info: dict[int, dict] = field(default_factory=dict)  # cluster -> source, mixed, purity, instructed
    agreement: dict[str, Any] | None = None  # how far the clusters agree with the instructions (agreement.measure)
    notes: list[str] = field(default_factory=list)
    refitted: bool = False  # this call fitted the layout anew
    placed: int = 0  # edits this call placed in the stored layout (among their nearest fitted edits)

    @classmethod
    def empty(cls, note: str) -> AtlasMap:
        """A map of no edits, with the note that says why."""
        floats = np.zeros(0, dtype=np.float32)
        return cls(np.zeros(0, np.int64), [], [], floats, floats.copy(), np.zeros(0, np.int32), notes=[note])

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> list[str | None]:
        """Each edit's cluster name (None for noise)."""
        return [self.names.get(int(c)) for c in self.cluster]

    def clusters(self) -> list[ClusterInfo]:
        """The clusters, by id, each with its name, size, centre, extent and colour."""
        out = []
        for c in np.unique(self.cluster[self.cluster != NOISE]):
            members = self.cluster == c
            xs, ys = self.x[members], self.y[members]
            (x0, x, x1), (y0, y, y1) = (np.quantile(v, [BOX_OUTSIDE, 0.5, 1 - BOX_OUTSIDE]) for v in (xs, ys))
            box = (float(x0), float(y0), float(x1), float(y1))
            name, info = self.names.get(int(c), ""), self.label_info.get(int(c), {})
            info = {k: v for k, v in info.items() if k in LABEL_FIELDS}
            size, colour = int(members.sum()), cluster_colour(int(c))
            out.append(ClusterInfo(int(c), name, size, float(x), float(y), box, colour, **info))
        return out

    def agreement_line(self, pointer: str = "") -> str:
        """One line on how far the clusters agree with the instructions (`pointer`: agreement.agreement_line)."""
        if self.agreement is None and not (self.cluster != NOISE).any():
            return "no clusters: nothing to check against the instructions"
        return agreement_line(self.agreement, pointer)

    def to_arrow(self) -> Any:
        """A pyarrow table with COLUMNS; its metadata holds the agreement (`editsearch.agreement`, with its line)
        and each cluster's name, size and where the name comes from (`editsearch.clusters`)."""
        import pyarrow as pa

        agreement = {**(self.agreement or {}), "line": self.agreement_line()}
        clusters = [c.described() for c in self.clusters()]
        metadata = {"editsearch.agreement": json.dumps(agreement), "editsearch.clusters": json.dumps(clusters)}
        return pa.table(
            {
                "id": pa.array(self.ids, pa.int64()),
                "before": pa.array(self.before, pa.string()),
                "after": pa.array(self.after, pa.string()),
                "x": pa.array(self.x, pa.float32()),
                "y": pa.array(self.y, pa.float32()),
                "cluster": pa.array(self.cluster, pa.int32()),
                "label": pa.array(self.labels, pa.string()),
            },
            metadata=metadata,
        )

    def write_parquet(self, path: str | Path) -> Path:
        """Write the table to a parquet file (through a temp file renamed over it); returns its path."""
        import pyarrow.parquet as pq

        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp)
        return Path(path)

    def summary(self) -> dict[str, Any]:
        """Edits, clusters, noise share, clusters with names, sizes and name sources (largest first), the agreement
        with the instructions (figures and line), and notes."""
        noise = int((self.cluster == NOISE).sum())
        clusters = sorted(self.clusters(), key=lambda c: (-c.size, c.cluster))
        return {
            "edits": len(self),
            "clusters": len(clusters),
            "noise": noise,
            "noise_share": round(noise / len(self), 4) if len(self) else 0.0,
            "labels": [c.described() for c in clusters],
            "agreement": self.agreement,
            "agreement_line": self.agreement_line(),
            "refitted": self.refitted,
            "placed": self.placed,
            "notes": list(self.notes),
        }

    def to_dict(self, pointer: str = "") -> dict[str, Any]:
        """Strict-JSON form for a web view: parallel point arrays, the clusters (centre, extent, colour, name
        source, purity), colours, the agreement with the instructions (`pointer`: see agreement_line) and notes."""
        return {
            "points": {
                "id": self.ids.astype(np.int64).tolist(),
                "x": np.round(self.x.astype(np.float64), 4).tolist(),
                "y": np.round(self.y.astype(np.float64), 4).tolist(),
                "cluster": self.cluster.astype(np.int64).tolist(),
            },
            "clusters": [{**vars(c), "box": [round(v, 4) for v in c.box]} for c in self.clusters()],
            "palette": list(CLUSTER_COLOURS),  # for other colourings (by source)
            "noise_colour": NOISE_COLOUR,
            "agreement": self.agreement,
            "agreement_line": self.agreement_line(pointer),
            "notes": list(self.notes),
        }
