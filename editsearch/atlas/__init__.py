"""The edit atlas: a 2-D map of a collection's pair vectors (UMAP), its clusters (HDBSCAN) and their names."""

from __future__ import annotations

from editsearch.atlas.build import DEFAULT_FIT_SAMPLE, build_map, read_map, view_map
from editsearch.atlas.table import AtlasMap, ClusterInfo

__all__ = ["DEFAULT_FIT_SAMPLE", "AtlasMap", "ClusterInfo", "build_map", "read_map", "view_map"]
