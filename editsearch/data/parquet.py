"""IP2P-layout parquet sources: stream row groups; read single image cells back through a small cache."""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from editsearch.data.records import EditPair, ImageRef, ItemError
from editsearch.images import ImageLoadError, load_image

if TYPE_CHECKING:
    import pyarrow as pa

IMAGE_COLUMNS = ("original_image", "edited_image")
PROMPT_COLUMN = "edit_prompt"
CACHED_GROUPS = 2  # decoded row groups kept; two so a batch that straddles a boundary does not thrash

_lock = threading.Lock()
_offsets: dict[str, tuple[tuple[int, int], list[int]]] = {}  # path -> (file signature, row-group starts)
_groups: OrderedDict[tuple[str, tuple[int, int], int], pa.Table] = OrderedDict()


def parquet_files(path: str | Path) -> list[Path]:
    """The parquet file itself, or every *.parquet below a folder (sorted): the shards of one data set."""
    path = Path(path)
    if path.is_dir():
        return sorted(p.resolve() for p in path.rglob("*.parquet") if not p.name.startswith("."))
    return [path.resolve()]


def count_parquet(path: str | Path) -> int:
    """Items iter_parquet yields, from the footers only: rows, or 1 for a shard it cannot use."""
    import pyarrow.parquet as pq

    total = 0
    for file in parquet_files(path):
        try:
            pf = pq.ParquetFile(file)
        except Exception:  # the iterator reports this shard as one ItemError
            total += 1
            continue
        usable = all(c in pf.schema_arrow.names for c in IMAGE_COLUMNS)
        total += pf.metadata.num_rows if usable else 1
    return total


def iter_parquet(path: str | Path, require_instruction: bool = False) -> Iterator[EditPair | ItemError]:
    """Yield one EditPair per row of IP2P-layout parquet shards, one row group in memory at a time."""
    for file in parquet_files(path):
        yield from _iter_file(file, require_instruction)


def read_cell_bytes(path: str, row: int, column: str) -> bytes:
    """The encoded image bytes in (row, column) of a parquet file; raises ImageLoadError if there are none."""
    where = f"{path}#{row}:{column}"
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
        raise ImageLoadError(f"{path}#{row}:{column}: {e}") from None


def _iter_file(file: Path, require_instruction: bool) -> Iterator[EditPair | ItemError]:
    """Rows of one shard; a shard that cannot be opened or lacks the image columns is one ItemError."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(file)
    except Exception as e:  # any reader failure is this shard's error, not the caller's
        yield ItemError(str(file), f"cannot read parquet: {e}")
        return
    names = pf.schema_arrow.names
    missing = [c for c in IMAGE_COLUMNS if c not in names]
    if missing:
        yield ItemError(str(file), f"not the IP2P layout: missing column(s) {', '.join(missing)}")
        return
    meta_columns = [
        n for n in names if n not in IMAGE_COLUMNS and n != PROMPT_COLUMN and _is_scalar(pf.schema_arrow.field(n).type)
    ]
    text_columns = ([PROMPT_COLUMN] if PROMPT_COLUMN in names else []) + meta_columns
    start = 0
    for group in range(pf.num_row_groups):
        n = pf.metadata.row_group(group).num_rows
        try:
            table = pf.read_row_group(group, columns=[*IMAGE_COLUMNS, *text_columns])
        except Exception as e:  # a corrupt row group fails its rows, not the stream
            for row in range(start, start + n):
                yield ItemError(f"{file}#{row}", f"unreadable row group {group}: {e}")
            start += n
            continue
        _remember_group(str(file), _signature(str(file)), group, table.select(list(IMAGE_COLUMNS)))
        has_image = {c: _has_image(table.column(c)) for c in IMAGE_COLUMNS}
        texts = {c: table.column(c).to_pylist() for c in text_columns}
        for i in range(table.num_rows):
            row = start + i
            yield _to_pair(file, row, i, has_image, texts, require_instruction)
        start += n


def _to_pair(
    file: Path,
    row: int,
    i: int,
    has_image: dict[str, list[bool]],
    texts: dict[str, list[Any]],
    require_instruction: bool,
) -> EditPair | ItemError:
    """Row i of a row group (global row `row`) as an EditPair, or why not."""
    for column in IMAGE_COLUMNS:
        if not has_image[column][i]:
            return ItemError(f"{file}#{row}", f"no image in column '{column}'")
    prompt = texts.get(PROMPT_COLUMN, [None] * (i + 1))[i]
    instruction = prompt.strip() if isinstance(prompt, str) and prompt.strip() else None
    if require_instruction and instruction is None:
        return ItemError(f"{file}#{row}", f"missing or empty '{PROMPT_COLUMN}'")
    metadata = {c: v[i] for c, v in texts.items() if c != PROMPT_COLUMN}
    before, after = (ImageRef(str(file), row, c) for c in IMAGE_COLUMNS)
    return EditPair(before, after, instruction, metadata, source="ip2p")


def _is_scalar(dtype: pa.DataType) -> bool:
    """Columns that can go into metadata as-is: strings, numbers, booleans."""
    import pyarrow.types as t

    return (
        t.is_string(dtype)
        or t.is_large_string(dtype)
        or t.is_integer(dtype)
        or t.is_floating(dtype)
        or t.is_boolean(dtype)
    )


def _has_image(column: pa.ChunkedArray) -> list[bool]:
    """Per row: does this image column hold bytes (or, for an HF struct, at least a path)?"""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks()
    if pa.types.is_struct(arr.type):
        fields = {arr.type.field(k).name for k in range(arr.type.num_fields)}
        ok = (
            pc.fill_null(pc.greater(pc.binary_length(arr.field("bytes")), 0), False)
            if "bytes" in fields
            else pa.repeat(False, len(arr))
        )
        if "path" in fields:
            ok = pc.or_(ok, pc.fill_null(pc.greater(pc.binary_length(arr.field("path")), 0), False))
        ok = pc.and_(ok, pc.is_valid(arr))
    else:
        ok = pc.fill_null(pc.greater(pc.binary_length(arr), 0), False)
    return ok.to_pylist()


def _signature(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of a file: cached metadata and row groups are dropped when it changes."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _cached_row(path: str, row: int, column: str) -> tuple[pa.Table, int]:
    """(image columns of the row group holding `row`, offset of the row in it), read at most once."""
    import pyarrow.parquet as pq

    sig = _signature(path)
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
            raise ValueError(f"row {row} out of range (file has {starts[-1]} rows)")
        group = bisect.bisect_right(starts, row) - 1
        key = (path, sig, group)
        table = _groups.get(key)
        if table is not None and column in table.column_names:
            _groups.move_to_end(key)
        else:
            pf = pq.ParquetFile(path)
            if column not in pf.schema_arrow.names:
                raise ValueError(f"no column '{column}'")
            wanted = [c for c in IMAGE_COLUMNS if c in pf.schema_arrow.names]
            table = pf.read_row_group(group, columns=sorted({*wanted, column}))
            _store(key, table)
    return table, row - starts[group]


def _remember_group(path: str, sig: tuple[int, int], group: int, table: pa.Table) -> None:
    """Prime the cache with a row group the iterator just read, so loading its images reads nothing."""
    with _lock:
        _store((path, sig, group), table)


def _store(key: tuple[str, tuple[int, int], int], table: pa.Table) -> None:
    """Insert into the LRU of row groups (caller holds the lock)."""
    _groups[key] = table
    _groups.move_to_end(key)
    while len(_groups) > CACHED_GROUPS:
        _groups.popitem(last=False)
