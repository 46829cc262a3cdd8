"""The FAISS index types an index can use, and what each can do; free of numpy, so the CLI can name them."""

from __future__ import annotations

INDEX_TYPES = ("flat", "ivf", "hnsw", "pq", "ivfpq-sq8", "auto")
NO_REMOVE = ("hnsw", "pq", "ivfpq-sq8")  # types that cannot remove: removed ids stay as tombstones until a rebuild
TRAINED = ("ivf", "pq", "ivfpq-sq8")  # types trained on the vectors they were built from (retrained as it grows)
