"""One entry point for every edit-pair source: pick the reader by what the path is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from editsearch.data.folder import count_folder, iter_folder
from editsearch.data.manifest import MANIFEST_SUFFIXES, count_manifest, iter_manifest
from editsearch.data.parquet import count_parquet, iter_parquet
from editsearch.data.records import EditPair, ItemError
from editsearch.errors import DataError

Reader = Callable[..., Iterator[EditPair | ItemError]]


def source_kind(path: str | Path) -> str:
    """'manifest', 'ip2p' or 'folder'; raises FileNotFoundError / DataError for a path that is none."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"source not found: {path}")
    if path.is_dir():
        return "ip2p" if any(path.rglob("*.parquet")) else "folder"
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        return "manifest"
    if suffix == ".parquet":
        return "ip2p"
    raise DataError(f"unknown source type: {path} (expected a .jsonl/.csv manifest, a .parquet file, or a folder)")


def iter_source(
    path: str | Path, require_instruction: bool = False, root: str | Path | None = None
) -> Iterator[EditPair | ItemError]:
    """Yield the source's pairs, or an ItemError per bad item; a path that is no source raises at once.

    `root` confines a manifest's image paths to that folder (see iter_manifest); other sources ignore it.
    """
    kind = source_kind(path)
    path = Path(path).expanduser()
    if kind == "manifest":
        return iter_manifest(path, require_instruction=require_instruction, root=root)
    readers: dict[str, Reader] = {"folder": iter_folder, "ip2p": iter_parquet}
    return readers[kind](path, require_instruction=require_instruction)


def count_source(path: str | Path) -> int | None:
    """A cheap item count for progress bars (lines, pairs by file name, parquet rows); None if unknown."""
    try:
        kind = source_kind(path)
        counters = {"manifest": count_manifest, "folder": count_folder, "ip2p": count_parquet}
        return counters[kind](Path(path).expanduser())
    except (OSError, ValueError):
        return None
