"""The FAISS index types an index can use, what each can do, their knobs, and what a self-tuned one records; free of
numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

INDEX_TYPES = ("flat", "ivf", "hnsw", "pq", "ivfpq-sq8", "auto")
NO_REMOVE = ("hnsw", "pq", "ivfpq-sq8")  # types that cannot remove: removed ids stay as tombstones until a rebuild
TRAINED = ("ivf", "pq", "ivfpq-sq8")  # types trained on the vectors they were built from (retrained as it grows)

DEFAULT_TARGET_RECALL = 0.95  # recall@10 against exact search that an approximate index tunes itself to reach


@dataclass
class Tuning:
    """The search settings an index chose for itself when it was built, and the recall@10 it measured with them.

    `settings` holds AnnParams fields (nprobe, k_factor or efSearch); `reached` is False when no setting within
    the latency budget met `target`, and `note` then says so and names a type that would.
    """

    target: float
    recall: float
    settings: dict[str, int] = field(default_factory=dict)
    reached: bool = True
    queries: int = 0
    ms_per_query: float = 0.0
    seconds: float = 0.0
    note: str = ""


@dataclass
class AnnParams:
    """Build and search knobs of the approximate index types.

    An index tunes its search knobs itself when it is built (editsearch.index.tuning) and keeps them in
    its sidecar; these defaults are where a sweep starts and what an untuned index searches with.
    """

    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_nprobe: int = 16
    pq_dims_per_code: int = 2  # dimensions per 4-bit sub-quantizer (build time)
    pq_k_factor: int = 64
    ivfpq_nprobe: int = 32
