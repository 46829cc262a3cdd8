"""Manifest sources: JSONL or CSV, one pair per line, image paths (or locators) relative to the manifest's folder."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from editsearch.core.jsonl import read_jsonl
from editsearch.data.records import EditPair, ImageRef, ItemError, resolve
from editsearch.media.locators import is_locator

MANIFEST_SUFFIXES = (".jsonl", ".csv")


def iter_manifest(
    path: str | Path, require_instruction: bool = False, root: str | Path | None = None
) -> Iterator[EditPair | ItemError]:
    """Yield one EditPair (or ItemError) per non-blank line of a .jsonl or .csv manifest.

    Whatever a line holds, it is that line's ItemError (`PATH:LINE`) and the next line is read. With
    `root`, an image path that resolves (symlinks followed) outside that folder is refused; without it,
    a manifest may name any readable image.
    """
    path = Path(path)
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else read_jsonl(path)
    base = path.resolve().parent
    fence = Path(root).expanduser().resolve() if root is not None else None
    for lineno, row in rows:
        item = f"{path}:{lineno}"
        if isinstance(row, str):
            yield ItemError(item, row)
            continue
        try:
            yield _to_pair(item, row, base, require_instruction, fence)
        except (OSError, ValueError, RuntimeError, RecursionError) as e:  # never let one line stop the rest
            yield ItemError(item, f"{type(e).__name__}: {e}")


def count_manifest(path: str | Path) -> int:
    """Number of data lines in a manifest (blank lines and the CSV header not counted)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return sum(1 for _ in _csv_rows(path))
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row dict or an error reason) for each non-blank CSV data row; values stay strings."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.DictReader(f)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:  # this row only: the reader goes on with the next line
                yield reader.line_num, f"invalid CSV: {e}"
                continue
            if not any((v or "").strip() for k, v in row.items() if k is not None):
                continue
            if None in row:
                yield reader.line_num, "more fields than the header has columns"
                continue
            yield reader.line_num, {k: v for k, v in row.items() if v is not None}


def _image_ref(value: str, base: Path) -> ImageRef:
    """A line's image: a file path, or a table-cell or tar-member locator (as an audit's clean manifest lists them),
    its file taken relative to the manifest's folder."""
    if not is_locator(value):
        return ImageRef(resolve(value, base))
    ref = ImageRef.from_locator(value)
    return replace(ref, path=resolve(ref.path, base))


def _to_pair(
    item: str, row: dict[str, Any], base: Path, require_instruction: bool, fence: Path | None
) -> EditPair | ItemError:
    """Validate one manifest row and turn it into an EditPair with absolute paths (inside `fence`, if given)."""
    refs = []
    for key in ("before", "after"):
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            return ItemError(item, f"missing or empty '{key}'")
        try:
            ref = _image_ref(value.strip(), base)
        except ValueError as e:  # DataError: a path no file can have, or a malformed locator
            return ItemError(item, f"{key}: {e}")
        full = ref.path
        if fence is not None and not Path(full).resolve().is_relative_to(fence):
            return ItemError(item, f"{key} image is outside --root {fence}: {full}")
        if not os.path.isfile(full):
            return ItemError(item, f"{key} image not found: {full}")
        refs.append(ref)
    instruction = row.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        return ItemError(item, f"'instruction' must be a string, got {type(instruction).__name__}")
    instruction = (instruction or "").strip() or None
    if require_instruction and instruction is None:
        return ItemError(item, "missing or empty 'instruction'")
    metadata = {k: v for k, v in row.items() if k not in ("before", "after", "instruction")}
    return EditPair(refs[0], refs[1], instruction, metadata, source="manifest", item=item)
