"""Single image cells of parquet and arrow files, read back through small caches of open files and read columns."""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from editsearch.data.tables import TableFile
from editsearch.media.images import ImageLoadError, load_image
from editsearch.media.locators import cell_locator

if TYPE_CHECKING:
    import pyarrow as pa

CACHED_FILES = 8  # open table files kept (footers read, arrow files mapped)
CACHED_COLUMNS = 4  # column of one group each: two groups of both halves, so a straddling batch does not thrash

FileKey = tuple[str, tuple[int, int], int]  # (path, file signature, process id: an open file is not shared across fork)

_lock = threading.Lock()
_files: OrderedDict[FileKey, TableFile] = OrderedDict()
_columns: OrderedDict[tuple[FileKey, int, str], pa.ChunkedArray] = OrderedDict()


def read_cell_bytes(path: str, row: int, column: str) -> bytes:
    """The encoded image bytes in (row, column) of a table file; raises ImageLoadError if there are none.

    A `datasets` Image cell with no bytes but a path is read from that file (relative to the table's folder).
    """
    where = cell_locator(path, row, column)
    try:
        values, offset = _cached_cell(path, row, column)
    except (OSError, ValueError) as e:  # a missing, changed or corrupt file is this cell's error
        raise ImageLoadError(f"cannot read {where}: {e}") from None
    cell = values[offset].as_py()
    data = cell.get("bytes") if isinstance(cell, dict) else cell
    if not data and isinstance(cell, dict) and cell.get("path"):
        file = Path(path).parent / cell["path"]
        if file.is_file():
            return file.read_bytes()
    if not data or not isinstance(data, bytes):
        raise ImageLoadError(f"no image bytes in {where}")
    return data


def read_cell_image(path: str, row: int, column: str, min_size: int | None = None) -> Image.Image:
    """Decode the image in (row, column) of a table file as RGB; raises ImageLoadError on failure."""
    try:
        return load_image(read_cell_bytes(path, row, column), min_size=min_size)
    except ImageLoadError as e:
        raise ImageLoadError(f"{cell_locator(path, row, column)}: {e}") from None


def signature(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of a file: cached files and columns are dropped when it changes."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _cached_cell(path: str, row: int, column: str) -> tuple[pa.ChunkedArray, int]:
    """(the column of the group holding `row`, the row's offset in it), each read at most once while cached."""
    key: FileKey = (path, signature(path), os.getpid())
    with _lock:
        table = _files.get(key)
        if table is None:
            table = _files[key] = TableFile(path)
            while len(_files) > CACHED_FILES:
                _files.popitem(last=False)
        _files.move_to_end(key)
        if not 0 <= row < table.num_rows:
            raise ImageLoadError(f"row {row} out of range (file has {table.num_rows} rows)")
        if column not in table.schema.names:
            raise ImageLoadError(f"no column '{column}'")
        group = bisect.bisect_right(table.starts, row) - 1
        slot = (key, group, column)
        values = _columns.get(slot)
        if values is None:
            values = _columns[slot] = table.read(group, [column]).column(0)
            while len(_columns) > CACHED_COLUMNS:
                _columns.popitem(last=False)
        _columns.move_to_end(slot)
    return values, row - table.starts[group]
