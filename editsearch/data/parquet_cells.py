"""Single image cells of IP2P-layout parquet files, read back through a small cache of decoded row groups."""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from editsearch.images import ImageLoadError, load_image
from editsearch.locators import cell_locator

if TYPE_CHECKING:
    import pyarrow as pa

IMAGE_COLUMNS = ("original_image", "edited_image")
CACHED_GROUPS = 2  # decoded row groups kept; two so a batch that straddles a boundary does not thrash

_lock = threading.Lock()
_offsets: dict[str, tuple[tuple[int, int], list[int]]] = {}  # path -> (file signature, row-group starts)
_groups: OrderedDict[tuple[str, tuple[int, int], int], pa.Table] = OrderedDict()


def read_cell_bytes(path: str, row: int, column: str) -> bytes:
    """The encoded image bytes in (row, column) of a parquet file; raises ImageLoadError if there are none."""
    where = cell_locator(path, row, column)
    try:
        table, offset = _cached_row(path, row, column)
    except (OSError, ValueError) as e:
        raise ImageLoadError(f"cannot read {where}: {e}") from None
    cell = table.column(column)[offset].as_py()
    data = cell.get("bytes") if isinstance(cell, dict) else cell
    if not data and isinstance(cell, dict) and cell.get("path"):
        file = Path(path).parent / cell["path"]
        if file.is_file():
            return file.read_bytes()
    if not data:
        raise ImageLoadError(f"no image bytes in {where}")
    return bytes(data)


def read_cell_image(path: str, row: int, column: str, min_size: int | None = None) -> Image.Image:
    """Decode the image in (row, column) of a parquet file as RGB; raises ImageLoadError on failure."""
    try:
        return load_image(read_cell_bytes(path, row, column), min_size=min_size)
    except ImageLoadError as e:
        raise ImageLoadError(f"{cell_locator(path, row, column)}: {e}") from None


def signature(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of a file: cached metadata and row groups are dropped when it changes."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _cached_row(path: str, row: int, column: str) -> tuple[pa.Table, int]:
    """(image columns of the row group holding `row`, offset of the row in it), read at most once."""
    import pyarrow.parquet as pq

    sig = signature(path)
    with _lock:
        known = _offsets.get(path)
        if known is None or known[0] != sig:
            md = pq.ParquetFile(path).metadata
            starts = [0]
            for g in range(md.num_row_groups):
                starts.append(starts[-1] + md.row_group(g).num_rows)
            _offsets[path] = known = (sig, starts)
        starts = known[1]
        if not 0 <= row < starts[-1]:
            raise ImageLoadError(f"row {row} out of range (file has {starts[-1]} rows)")
        group = bisect.bisect_right(starts, row) - 1
        key = (path, sig, group)
        table = _groups.get(key)
        if table is not None and column in table.column_names:
            _groups.move_to_end(key)
        else:
            pf = pq.ParquetFile(path)
            if column not in pf.schema_arrow.names:
                raise ImageLoadError(f"no column '{column}'")
            wanted = [c for c in IMAGE_COLUMNS if c in pf.schema_arrow.names]
            table = pf.read_row_group(group, columns=sorted({*wanted, column}))
            _store(key, table)
    return table, row - starts[group]


def remember_group(path: str, sig: tuple[int, int], group: int, table: pa.Table) -> None:
    """Prime the cache with a row group the iterator just read, so loading its images reads nothing."""
    with _lock:
        _store((path, sig, group), table)


def _store(key: tuple[str, tuple[int, int], int], table: pa.Table) -> None:
    """Insert into the LRU of row groups (caller holds the lock)."""
    _groups[key] = table
    _groups.move_to_end(key)
    while len(_groups) > CACHED_GROUPS:
        _groups.popitem(last=False)
