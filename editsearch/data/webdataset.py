"""Webdataset tar shards: members grouped by key, read as a stream (never extracted).

A sample is the run of consecutive members sharing a key (the member name up to the first '.' of its last
part): `KEY.before.EXT` and `KEY.after.EXT` (or src/tgt, input/output, source/target), the instruction from
`KEY.json` (its `instruction`, `edit_prompt` or `prompt`; its other scalar fields become metadata) or
`KEY.txt`. Other image members (a mask) are kept in the metadata as their locators. Images are read back
later by offset (`tar_members`), so the tar must be uncompressed, as webdataset shards are.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from editsearch.core.errors import DataError
from editsearch.data.folder import IMAGE_SUFFIXES
from editsearch.data.records import EditPair, ImageRef, ItemError
from editsearch.data.tar_members import Member, MemberTable, check_plain_tar, member_names, remember, signature
from editsearch.media.locators import member_locator

BEFORE = ("before", "src", "input", "source")
AFTER = ("after", "tgt", "output", "target")
TEXT_FIELDS = ("instruction", "edit_prompt", "prompt")
TEXT_SUFFIXES = ("txt", "instruction.txt", "prompt.txt")
MAX_TEXT_BYTES = 1 << 20
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_tar(path: str | Path) -> bool:
    """True for a file named like a tar shard."""
    return Path(path).name.lower().endswith(TAR_SUFFIXES)


def tar_files(path: str | Path) -> list[Path]:
    """The tar itself, or every tar below a folder (sorted, absolute)."""
    path = Path(path)
    if not path.is_dir():
        return [path.resolve()]
    return sorted(p.resolve() for p in path.rglob("*") if is_tar(p) and p.is_file() and not p.name.startswith("."))


def split_key(name: str) -> tuple[str, str]:
    """(key, suffix) of a member name: 'a/b/k1.before.png' -> ('a/b/k1', 'before.png'); no '.' gives no suffix."""
    folder, _, base = name.rpartition("/")
    stem, _, suffix = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), suffix.lower()


def count_webdataset(path: str | Path) -> int:
    """Items iter_webdataset yields: keys per tar (from the headers), 1 for a tar it cannot read."""
    total = 0
    for file in tar_files(path):
        try:
            names = member_names(str(file))
        except (OSError, ValueError):
            total += 1
            continue
        total += len({split_key(n)[0] for n in names if not n.rpartition("/")[2].startswith(".")})
    return total


def iter_webdataset(path: str | Path, require_instruction: bool = False) -> Iterator[EditPair | ItemError]:
    """Yield one EditPair per sample of each tar, or an ItemError per bad sample (or unreadable tar)."""
    for file in tar_files(path):
        yield from _iter_tar(str(file), require_instruction)


class _BadText(Exception):
    """A sample's text member that cannot be used: where it is and why."""

    def __init__(self, item: str, reason: str):
        super().__init__(reason)
        self.item, self.reason = item, reason


Sample = dict[str, tuple[str, Any]]  # suffix -> (member name, text bytes or why unreadable; None for an image)


def _iter_tar(file: str, require_instruction: bool) -> Iterator[EditPair | ItemError]:
    """The samples of one tar, streamed; the member table is filled as headers go by."""
    try:
        check_plain_tar(file)
        table = MemberTable(signature(file), {})
    except (OSError, DataError) as e:
        yield ItemError(file, f"cannot read tar: {e}")
        return
    remember(file, table)
    try:
        with open(file, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tf:
            for key, sample in _samples(tf, table):
                yield (
                    _to_item(file, key, sample, require_instruction)
                    if sample is not None
                    else ItemError(f"{file}#{key}", "its members are not consecutive in the tar")
                )
        table.complete = True
    except (OSError, tarfile.TarError) as e:
        yield ItemError(file, f"cannot read tar after {len(table.members)} members: {e}")


def _samples(tf: tarfile.TarFile, table: MemberTable) -> Iterator[tuple[str, Sample | None]]:
    """(key, its members) for each run of consecutive members; None for a key seen in an earlier run."""
    key: str | None = None
    sample: Sample | None = None
    done: set[str] = set()
    for info in tf:
        if not info.isfile() or info.name.rpartition("/")[2].startswith("."):
            continue
        table.members[info.name] = Member(info.offset_data, info.size, int(info.mtime))
        name_key, suffix = split_key(info.name)
        if name_key != key:
            if key is not None:
                yield key, sample
                done.add(key)
            key, sample = name_key, (None if name_key in done else {})
        if sample is not None:
            sample[suffix] = (info.name, _text(tf, info) if _is_text(suffix) else None)
    if key is not None:
        yield key, sample


def _is_text(suffix: str) -> bool:
    return suffix == "json" or suffix in TEXT_SUFFIXES


def _text(tf: tarfile.TarFile, info: tarfile.TarInfo) -> bytes | str:
    """A text member's bytes (read from the stream), or why it cannot be used."""
    if info.size > MAX_TEXT_BYTES:
        return f"text member too large: {info.size:,} bytes (limit {MAX_TEXT_BYTES:,})"
    handle = tf.extractfile(info)
    return handle.read() if handle is not None else "unreadable member"


def _to_item(file: str, key: str, sample: Sample, require_instruction: bool) -> EditPair | ItemError:
    """One sample as an EditPair, or why not (the item named FILE#KEY, or the member at fault)."""
    item = f"{file}#{key}"
    images = {s: name for s, (name, _) in sample.items() if Path(f"x.{s}").suffix in IMAGE_SUFFIXES}
    halves = []
    for half, roles in (("before", BEFORE), ("after", AFTER)):
        found = [name for s, name in images.items() if "." in s and s.partition(".")[0] in roles]
        if len(found) != 1:
            return ItemError(item, f"{len(found) or 'no'} {half} image(s) ({key}.{'/'.join(roles)}.EXT)")
        halves.append(found[0])
    try:
        instruction, metadata = _instruction(file, sample)
    except _BadText as e:
        return ItemError(e.item, e.reason)
    if require_instruction and instruction is None:
        return ItemError(item, f"no instruction ({key}.json or {key}.txt)")
    for suffix, name in images.items():
        if name not in halves:
            metadata[suffix.rpartition(".")[0] or suffix] = member_locator(file, name)
    before, after = (ImageRef(file, member=name) for name in halves)
    return EditPair(before, after, instruction, {"key": key, **metadata}, source="webdataset", item=item)


def _instruction(file: str, sample: Sample) -> tuple[str | None, dict[str, Any]]:
    """(instruction, metadata) from KEY.json, else KEY.txt; _BadText for a text member that is unusable."""
    metadata: dict[str, Any] = {}
    instruction = None
    if "json" in sample:
        name, data = sample["json"]
        where = member_locator(file, name)
        if isinstance(data, str):
            raise _BadText(where, data)
        try:
            record = json.loads(data.decode("utf-8"))
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise _BadText(where, f"not JSON in UTF-8: {e}") from None
        if not isinstance(record, dict):
            raise _BadText(where, "not a JSON object")
        field = next((f for f in TEXT_FIELDS if isinstance(record.get(f), str) and record[f].strip()), None)
        instruction = record[field].strip() if field else None
        metadata = {k: v for k, v in record.items() if k != field and isinstance(v, (str, int, float, bool))}
    for suffix in TEXT_SUFFIXES:
        if instruction is None and suffix in sample:
            name, data = sample[suffix]
            if isinstance(data, str):
                raise _BadText(member_locator(file, name), data)
            try:
                instruction = data.decode("utf-8").strip() or None
            except UnicodeDecodeError as e:
                reason = f"the instruction is not UTF-8 text ({e.reason} at byte {e.start})"
                raise _BadText(member_locator(file, name), reason) from None
    return instruction, metadata
