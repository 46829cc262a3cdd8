"""Edit-pair sources (manifest, folder, IP2P parquet) and the synthetic edit generator."""

from editsearch.data.records import EditPair, ImageRef, ItemError
from editsearch.data.sources import count_source, iter_source, source_kind

__all__ = ["EditPair", "ImageRef", "ItemError", "count_source", "iter_source", "source_kind"]
