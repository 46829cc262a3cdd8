"""Table files of edit pairs, read one group at a time: parquet row groups, or the record batches of an arrow file.

Arrow files are those `datasets` writes (`save_to_disk`: Arrow IPC streams; the IPC file format is read too),
memory-mapped, so a group is a zero-copy view and nothing is read until it is touched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

TABLE_KINDS = {".parquet": "parquet", ".arrow": "arrow"}


def table_kind(path: str | Path) -> str | None:
    """'parquet' or 'arrow' by the file's suffix, else None."""
    return TABLE_KINDS.get(Path(path).suffix.lower())


def table_files(path: str | Path) -> list[Path]:
    """The table file itself, or the data files of a folder (sorted, absolute).

    Every *.parquet below the folder; failing that, the arrow files of each `datasets` save_to_disk folder as
    its state.json lists them (cache files left by `map` are not data), and every other *.arrow.
    """
    path = Path(path)
    if not path.is_dir():
        return [path.resolve()]
    parquet = sorted(p.resolve() for p in path.rglob("*.parquet") if not p.name.startswith("."))
    if parquet:
        return parquet
    listed: dict[Path, set[Path] | None] = {}  # folder -> the data files its state.json names (None: no state.json)
    arrow = []
    for file in path.rglob("*.arrow"):
        folder = file.parent
        if folder not in listed:
            state = folder / "state.json"
            listed[folder] = {p.resolve() for p in _state_files(state)} if state.is_file() else None
        names = listed[folder]
        if not file.name.startswith(".") and (names is None or file.resolve() in names):
            arrow.append(file.resolve())
    return sorted(arrow)


def _state_files(state: Path) -> list[Path]:
    """The data files a `datasets` state.json names (none if it is unreadable)."""
    try:
        files = json.loads(state.read_text(encoding="utf-8")).get("_data_files", [])
        return [state.parent / f["filename"] for f in files if isinstance(f, dict) and f.get("filename")]
    except (OSError, ValueError, AttributeError):
        return []


class TableFile:
    """One parquet or arrow file: its schema, its groups of rows, and reads of some columns of one group."""

    def __init__(self, path: str | Path):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.kind = table_kind(self.path) or _kind_by_magic(self.path)
        if self.kind == "parquet":
            self._parquet = pq.ParquetFile(self.path)
            self.schema: pa.Schema = self._parquet.schema_arrow
            md = self._parquet.metadata
            sizes = [md.row_group(g).num_rows for g in range(md.num_row_groups)]
        else:
            self._batches = _open_arrow(self.path)
            self.schema = self._batches[0].schema if self._batches else _arrow_schema(self.path)
            sizes = [b.num_rows for b in self._batches]
        self.starts = [0]
        for n in sizes:
            self.starts.append(self.starts[-1] + n)

    @property
    def num_rows(self) -> int:
        """Rows in the file."""
        return self.starts[-1]

    @property
    def num_groups(self) -> int:
        """Row groups (parquet) or record batches (arrow)."""
        return len(self.starts) - 1

    def read(self, group: int, columns: Sequence[str]) -> pa.Table:
        """These top-level columns of one group."""
        import pyarrow as pa

        if self.kind == "parquet":
            return self._parquet.read_row_group(group, columns=list(columns))
        batch = self._batches[group]
        return pa.Table.from_batches([batch.select(list(columns))])

    def bytes_everywhere(self, group: int, column: str) -> bool:
        """True when every row of the group holds image bytes in `column` (a struct's `bytes`, or binary).

        Parquet answers from the row group's statistics without reading the column; False when they are absent.
        """
        if self.kind == "parquet":
            leaf = f"{column}.bytes" if _is_struct(self.schema.field(column).type) else column
            rg = self._parquet.metadata.row_group(group)
            for j in range(rg.num_columns):
                chunk = rg.column(j)
                if chunk.path_in_schema == leaf:
                    stats = chunk.statistics
                    return stats is not None and stats.has_null_count and stats.null_count == 0
            return False
        arr = self._batches[group].column(column)
        values = arr.field("bytes") if _is_struct(arr.type) else arr
        return arr.null_count == 0 and values.null_count == 0


def _kind_by_magic(path: Path) -> str:
    """'parquet' or 'arrow' by the file's first bytes (a Hub cache's blob has no suffix), parquet if neither."""
    with open(path, "rb") as f:
        head = f.read(6)
    return "arrow" if head.startswith((b"ARROW1", b"\xff\xff\xff\xff")) else "parquet"


def _is_struct(dtype: pa.DataType) -> bool:
    import pyarrow.types as t

    return t.is_struct(dtype)


def _open_arrow(path: Path) -> list[pa.RecordBatch]:
    """The record batches of an arrow file, memory-mapped: IPC file format first, else an IPC stream."""
    import pyarrow as pa

    source = pa.memory_map(str(path), "r")
    try:
        reader = pa.ipc.open_file(source)
        return [reader.get_batch(i) for i in range(reader.num_record_batches)]
    except pa.ArrowInvalid:
        source.seek(0)
        return list(pa.ipc.open_stream(source))


def _arrow_schema(path: Path) -> pa.Schema:
    """The schema of an arrow file with no record batches."""
    import pyarrow as pa

    source = pa.memory_map(str(path), "r")
    try:
        return pa.ipc.open_file(source).schema
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_stream(source).schema
