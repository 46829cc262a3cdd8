"""Edit-pair tables (Hugging Face parquet shards, `datasets` arrow files): stream groups of rows as EditPairs.

The layout is detected from the schema (a preset, see layouts.py) or named by `columns`. An image cell is a
`datasets` Image struct ({bytes, path}), plain binary, or a path string; bytes make a cell locator, a path
alone the file's own (relative to the table's folder). A scan reads no image bytes where the row group's
statistics say every cell has some: the pixels are read once, when the pair is hashed and decoded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import DataError
from editsearch.data.layouts import Layout, detect_layout, is_image_type, is_scalar_type
from editsearch.data.records import EditPair, ImageRef, ItemError, resolve
from editsearch.data.tables import TableFile, table_files, table_kind

if TYPE_CHECKING:
    import pyarrow as pa

Columns = Mapping[str, str] | None
Ref = ImageRef | str | None  # an image, why a path cell cannot be used, or no image


def count_table(path: str | Path, columns: Columns = None) -> int:
    """Items iter_table yields, from the footers only: rows, or 1 for a file it cannot use."""
    total = 0
    for file in table_files(path):
        try:
            table = TableFile(file)
            detect_layout(table.schema, columns)
        except Exception:  # noqa: BLE001 - the iterator reports this file as one ItemError
            total += 1
            continue
        total += table.num_rows
    return total


def iter_table(
    path: str | Path, require_instruction: bool = False, columns: Columns = None, root: str | Path | None = None
) -> Iterator[EditPair | ItemError]:
    """Yield one EditPair per row of each table file, one group of rows in memory at a time.

    `root` refuses image paths in path cells that resolve outside that folder (each such row fails).
    """
    fence = Path(root).expanduser().resolve() if root is not None else None
    for file in table_files(path):
        yield from _iter_file(file, require_instruction, columns, fence)


@dataclass
class Plan:
    """What to read of a table: its layout, its image columns, and the text columns kept (column -> key)."""

    layout: Layout
    images: list[str]
    texts: dict[str, str] = field(default_factory=dict)


def plan_for(schema: pa.Schema, layout: Layout) -> Plan:
    """The columns a reader of this layout reads: the pair's images, other images, instruction and metadata."""
    named = {layout.before, layout.after, layout.instruction, layout.id, *(c for c, _ in layout.renamed)}
    others = [f.name for f in schema if f.name not in named and is_image_type(f.type, paths=False)]
    plan = Plan(layout, [layout.before, layout.after, *others])
    if layout.instruction:
        plan.texts[layout.instruction] = ""
    if layout.id:
        plan.texts[layout.id] = "id"
    plan.texts.update(dict(layout.renamed))
    plan.texts.update({f.name: f.name for f in schema if f.name not in named and is_scalar_type(f.type)})
    return plan


def _iter_file(
    file: Path, require_instruction: bool, columns: Columns, fence: Path | None
) -> Iterator[EditPair | ItemError]:
    """Rows of one file; a file that cannot be opened or has no usable layout is one ItemError."""
    try:
        table = TableFile(file)
        layout = detect_layout(table.schema, columns)
    except DataError as e:
        yield ItemError(str(file), str(e))
        return
    except Exception as e:  # noqa: BLE001 - any reader failure is this file's error, not the caller's
        yield ItemError(str(file), f"cannot read {table_kind(file) or 'parquet'}: {e}")
        return
    plan = plan_for(table.schema, layout)
    source = layout.name if layout.card else table.kind
    for group in range(table.num_groups):
        start, stop = table.starts[group], table.starts[group + 1]
        try:
            refs, texts = _read_group(table, group, plan, fence)
        except Exception as e:  # noqa: BLE001 - a corrupt row group fails its rows, not the stream
            for row in range(start, stop):
                yield ItemError(f"{file}#{row}", f"unreadable row group {group}: {e}")
            continue
        for i in range(stop - start):
            yield _to_pair(file, start + i, i, refs, texts, plan, source, require_instruction)


def _read_group(
    table: TableFile, group: int, plan: Plan, fence: Path | None
) -> tuple[dict[str, list[Ref]], dict[str, list[Any]]]:
    """The image references and text values of one group of rows."""
    n = table.starts[group + 1] - table.starts[group]
    start = table.starts[group]
    path = str(table.path)
    refs: dict[str, list[Ref]] = {}
    for column in plan.images:
        dtype = table.schema.field(column).type
        if not _is_path_type(dtype) and table.bytes_everywhere(group, column):
            refs[column] = [ImageRef(path, start + i, column) for i in range(n)]  # no bytes read
        else:
            values = table.read(group, [column]).column(0).to_pylist()
            refs[column] = [_ref(v, path, start + i, column, fence) for i, v in enumerate(values)]
    if not plan.texts:
        return refs, {}
    read = table.read(group, list(plan.texts))
    return refs, {c: read.column(c).to_pylist() for c in plan.texts}


def _is_path_type(dtype: pa.DataType) -> bool:
    import pyarrow.types as t

    return t.is_string(dtype) or t.is_large_string(dtype)


def _ref(cell: Any, path: str, row: int, column: str, fence: Path | None) -> Ref:
    """One cell's image: its bytes (a cell ref), else its path (a file ref), else None (or why the path is refused)."""
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return ImageRef(path, row, column)
        cell = cell.get("path")
    elif isinstance(cell, bytes):
        return ImageRef(path, row, column) if cell else None
    if not isinstance(cell, str) or not cell.strip():
        return None
    try:
        file = resolve(cell, Path(path).parent)
    except DataError as e:
        return str(e)
    if fence is not None and not Path(file).is_relative_to(fence):
        return f"image path {cell!r} resolves outside --root {fence}"
    return ImageRef(file)


def _to_pair(
    file: Path,
    row: int,
    i: int,
    refs: dict[str, list[Ref]],
    texts: dict[str, list[Any]],
    plan: Plan,
    source: str,
    require_instruction: bool,
) -> EditPair | ItemError:
    """Row i of a group (row `row` of the file) as an EditPair, or why not."""
    layout = plan.layout
    item = f"{file}#{row}" + (f" (id {texts[layout.id][i]})" if layout.id else "")
    halves = []
    for column in (layout.before, layout.after):
        ref = refs[column][i]
        if not isinstance(ref, ImageRef):
            return ItemError(item, ref or f"no image in column '{column}'")
        halves.append(ref)
    instruction = _instruction(texts[layout.instruction][i]) if layout.instruction else None
    if require_instruction and instruction is None:
        return ItemError(item, f"missing or empty '{layout.instruction or 'instruction'}'")
    metadata = {key: texts[column][i] for column, key in plan.texts.items() if key}
    for column in plan.images[2:]:
        ref = refs[column][i]
        metadata[column] = ref.locator if isinstance(ref, ImageRef) else None
    return EditPair(halves[0], halves[1], instruction, metadata, source=source, item=f"{file}#{row}")


def _instruction(value: Any) -> str | None:
    """A text cell's instruction: the stripped string, or a list's first non-empty one; None if there is none."""
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None
