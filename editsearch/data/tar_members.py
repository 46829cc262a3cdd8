"""Single members of uncompressed tar files, read back by offset through a small cache of each tar's member table."""

from __future__ import annotations

import os
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

from editsearch.core.errors import DataError
from editsearch.core.limits import MAX_IMAGE_BYTES
from editsearch.media.images import ImageLoadError, load_image
from editsearch.media.locators import member_locator

CACHED_TARS = 8  # member tables kept
COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


@dataclass(frozen=True)
class Member:
    """Where a member's data lies in its tar, its size and its mtime (from its header)."""

    offset: int
    size: int
    mtime: int


@dataclass
class MemberTable:
    """The regular-file members of one tar as far as they are known; `complete` once every header was read."""

    signature: tuple[int, int]
    members: dict[str, Member]
    complete: bool = False


_lock = threading.Lock()
_tables: OrderedDict[str, MemberTable] = OrderedDict()


def signature(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of a file: a cached member table is dropped when it changes."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def check_plain_tar(path: str) -> None:
    """Refuse (DataError) a compressed tar: its members cannot be read back by offset."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, name in COMPRESSED.items():
        if head.startswith(magic):
            raise DataError(f"a {name}-compressed tar: decompress it first (its images are read back by offset)")


def remember(path: str, table: MemberTable) -> None:
    """Keep a member table the stream reader is filling (or has filled), so reads need no scan of their own."""
    with _lock:
        _tables[path] = table
        _tables.move_to_end(path)
        while len(_tables) > CACHED_TARS:
            _tables.popitem(last=False)


def member_info(path: str, name: str) -> Member:
    """The member `name` of the tar at `path`; OSError if the tar is gone, ImageLoadError if it has no such member."""
    sig = signature(path)
    with _lock:
        table = _tables.get(path)
    if table is None or table.signature != sig or (name not in table.members and not table.complete):
        table = MemberTable(sig, _scan(path), complete=True)
        remember(path, table)
    member = table.members.get(name)
    if member is None:
        raise ImageLoadError(f"no member {name!r} in {path}")
    return member


def member_names(path: str) -> list[str]:
    """The names of the tar's regular-file members, in order (the table is scanned and cached)."""
    members = _scan(path)
    remember(path, MemberTable(signature(path), members, complete=True))
    return list(members)


def read_member_bytes(path: str, name: str) -> bytes:
    """The bytes of one member, read by offset; raises ImageLoadError if it cannot be read."""
    where = member_locator(path, name)
    try:
        member = member_info(path, name)
        if member.size > MAX_IMAGE_BYTES:
            raise ImageLoadError(f"member too large for an image: {member.size:,} bytes (limit {MAX_IMAGE_BYTES:,})")
        with open(path, "rb") as f:
            f.seek(member.offset)
            data = f.read(member.size)
    except (OSError, ValueError) as e:
        raise ImageLoadError(f"cannot read {where}: {e}") from None
    if len(data) != member.size:
        raise ImageLoadError(f"cannot read {where}: the tar ends inside it")
    return data


def read_member_image(path: str, name: str, min_size: int | None = None) -> Image.Image:
    """Decode one member as RGB; raises ImageLoadError on failure."""
    try:
        return load_image(read_member_bytes(path, name), min_size=min_size)
    except ImageLoadError as e:
        raise ImageLoadError(f"{member_locator(path, name)}: {e}") from None


def _scan(path: str) -> dict[str, Member]:
    """Every regular-file member's place, from the headers alone (seeking over the data); a later name wins."""
    check_plain_tar(path)
    members: dict[str, Member] = {}
    try:
        with tarfile.open(path, "r:") as tf:
            for info in tf:
                if info.isfile():
                    members[info.name] = Member(info.offset_data, info.size, int(info.mtime))
    except tarfile.TarError as e:
        raise ImageLoadError(f"cannot read tar {path}: {e}") from None
    return members
