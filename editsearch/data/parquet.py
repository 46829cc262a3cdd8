"""IP2P-layout parquet sources: stream row groups as EditPairs, priming the cell reader's cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editsearch.data.parquet_cells import IMAGE_COLUMNS, remember_group, signature
from editsearch.data.records import EditPair, ImageRef, ItemError

if TYPE_CHECKING:
    import pyarrow as pa

PROMPT_COLUMN = "edit_prompt"


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
        remember_group(str(file), signature(str(file)), group, table.select(list(IMAGE_COLUMNS)))
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
    return EditPair(before, after, instruction, metadata, source="ip2p", item=f"{file}#{row}")


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
