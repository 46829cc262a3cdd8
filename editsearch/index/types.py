"""The FAISS index types an index can use, and what each can do; free of numpy, so the CLI can name them."""

from __future__ import annotations

INDEX_TYPES = ("flat", "ivf", "hnsw", "pq", "auto")
NO_REMOVE = ("hnsw", "pq")  # types that cannot remove: removed ids stay as tombstones, filtered at search time
TRAINED = ("ivf", "pq")  # types trained on the vectors they were built from (retrained as the index grows)
