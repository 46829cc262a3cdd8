"""One entry point for every edit-pair source: pick the reader by what the path is."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from editsearch.core.errors import DataError, UsageError
from editsearch.data.folder import count_folder, iter_folder
from editsearch.data.layouts import detect_layout
from editsearch.data.manifest import MANIFEST_SUFFIXES, count_manifest, iter_manifest
from editsearch.data.parquet import count_table, iter_table
from editsearch.data.records import EditPair, ItemError
from editsearch.data.tables import TABLE_KINDS, TableFile, table_files, table_kind
from editsearch.data.webdataset import count_webdataset, is_tar, iter_webdataset, tar_files

Reader = Callable[..., Iterator[EditPair | ItemError]]
TABLES = ("parquet", "arrow")
Columns = Mapping[str, str] | None


def source_kind(path: str | Path) -> str:
    """'manifest', 'parquet', 'arrow', 'webdataset' or 'folder'; FileNotFoundError / DataError for a path that is none.

    A folder is the table or tar shards below it (parquet first, then arrow, then tars), else a folder of pairs.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"source not found: {path}")
    if path.is_dir():
        return _folder_kind(path)
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        return "manifest"
    table = table_kind(path)
    if table:
        return table
    if is_tar(path):
        return "webdataset"
    raise DataError(
        f"unknown source type: {path} (expected a .jsonl/.csv manifest, a .parquet or .arrow file, a .tar "
        "webdataset shard, or a folder)"
    )


def _folder_kind(path: Path) -> str:
    """What a folder holds: parquet or arrow tables, webdataset tars, else pairs of image files."""
    found: set[str] = set()
    for file in path.rglob("*"):
        suffix = file.suffix.lower()
        if suffix == ".parquet":
            return "parquet"
        found.add(TABLE_KINDS.get(suffix) or ("webdataset" if is_tar(file) else ""))
    return next((kind for kind in ("arrow", "webdataset") if kind in found), "folder")


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Each source path, a glob pattern (`shards/*.tar`) giving its matches in order; UsageError for a path or
    pattern that names nothing."""
    out: list[Path] = []
    for src in sources:
        path = Path(src).expanduser()
        if path.exists():
            out.append(path)
        elif glob.has_magic(str(path)):
            matches = sorted(glob.glob(str(path)))
            if not matches:
                raise UsageError(f"no file matches {src}")
            out.extend(Path(m) for m in matches)
        else:
            raise UsageError(f"source not found: {src}")
    return out


def source_files(path: str | Path) -> list[Path]:
    """The shards of a source, each embedded on its own: a table or tar folder's files, else the source itself."""
    kind = source_kind(path)
    if kind in TABLES:
        return table_files(path)
    return tar_files(path) if kind == "webdataset" else [Path(path).expanduser().resolve()]


def check_source(path: str | Path, columns: Columns = None) -> str:
    """The kind of a source, once it is known to be readable at all; raises before any work when it is not.

    A table source needs one file whose layout is known (or whose columns `columns` names): otherwise the
    error names the first file's columns. `columns` given for a source that is no table is a UsageError.
    """
    kind = source_kind(path)
    _refuse_columns(kind, path, columns)
    if kind in TABLES:
        first: Exception | None = None
        for file in table_files(path):
            try:
                detect_layout(TableFile(file).schema, columns)
                return kind
            except Exception as e:  # noqa: BLE001 - the first file's error explains them all
                first = first or e
        raise DataError(f"{path}: {first}" if first else f"{path}: no {kind} files")
    return kind


def _refuse_columns(kind: str, path: str | Path, columns: Columns) -> None:
    if columns and kind not in TABLES:
        raise UsageError(f"--columns names the columns of parquet or arrow tables; {path} is a {kind} source")


def iter_source(
    path: str | Path, require_instruction: bool = False, root: str | Path | None = None, columns: Columns = None
) -> Iterator[EditPair | ItemError]:
    """Yield the source's pairs, or an ItemError per bad item; a path that is no source raises at once.

    `root` confines a manifest's image paths (and a table's path cells) to that folder (see iter_manifest);
    `columns` names a table's columns ({role: column}, see layouts.parse_columns) where no preset fits.
    """
    kind = source_kind(path)
    _refuse_columns(kind, path, columns)
    path = Path(path).expanduser()
    if kind == "manifest":
        return iter_manifest(path, require_instruction=require_instruction, root=root)
    if kind in TABLES:
        return iter_table(path, require_instruction=require_instruction, columns=columns, root=root)
    readers: dict[str, Reader] = {"folder": iter_folder, "webdataset": iter_webdataset}
    return readers[kind](path, require_instruction=require_instruction)


def count_source(path: str | Path, columns: Columns = None) -> int | None:
    """A cheap item count for progress bars (lines, pairs by file name, table rows, tar keys); None if unknown."""
    try:
        kind = source_kind(path)
        path = Path(path).expanduser()
        if kind in TABLES:
            return count_table(path, columns)
        counters = {"manifest": count_manifest, "folder": count_folder, "webdataset": count_webdataset}
        return counters[kind](path)
    except (OSError, ValueError):
        return None
