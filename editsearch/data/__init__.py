"""Edit-pair sources (manifest, folder, parquet or arrow table, webdataset tar); synthetic edits are in `synthetic/`."""

from editsearch.data.records import EditPair, ImageRef, ItemError
from editsearch.data.sources import count_source, iter_source, source_kind

__all__ = ["EditPair", "ImageRef", "ItemError", "count_source", "iter_source", "source_kind"]
