"""Safe file writing: exclusive temp files renamed into place, durable across a crash; outputs kept off an index.

Every writer in the project goes through `atomic_path` (or `write_atomic` for bytes and text in hand): the
temporary file is created fresh with a unique name (`tempfile.mkstemp`: O_CREAT | O_EXCL, so a planted
file or symlink at that name is never opened, let alone followed), and only a finished file is renamed
over the target. A crash leaves the old target as it was.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from editsearch.core.errors import UsageError


def fsync_replace(tmp: Path, target: Path) -> None:
    """fsync a finished temp file, rename it over `target`, and fsync the directory."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def exclusive_temp(target: Path) -> Path:
    """A new, empty temp file beside `target`, created exclusively under a unique name (never a followed link).

    It takes the mode a plain `open(target, "w")` would give (0666 less the umask), not mkstemp's 0600, so an
    index written by one user stays readable by a server run as another, as before.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:  # a missing or unwritable folder: name the file asked for, not the temp file
        raise type(e)(e.errno, e.strerror, str(target)) from None
    try:
        os.fchmod(fd, plain_mode())
    finally:
        os.close(fd)
    return Path(name)


def plain_mode() -> int:
    """The mode a plain `open(path, "w")` gives a new file: 0666 less the umask."""
    return 0o666 & ~_umask()


@functools.cache
def _umask() -> int:
    """The process's umask, read once (by setting it and setting it back: racy only if threads create files then)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield an exclusive temp file's path to write; on success it replaces `target` durably, on error it is removed."""
    target = Path(target)
    tmp = exclusive_temp(target)
    try:
        yield tmp
        fsync_replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: str | Path, data: bytes | str) -> Path:
    """Write bytes (or UTF-8 text) to `target` through an exclusive temp file and a durable rename; returns it."""
    target = Path(target)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(target) as tmp, open(tmp, "r+b") as f:
        f.write(raw)
    return target


def refuse_inside(path: str | Path, directory: str | Path, what: str) -> None:
    """UsageError when `path` (a file or folder to write) is `directory` itself or lies inside it.

    Links are resolved first, so a link into the folder is refused too. Used to keep outputs off an index.
    """
    target, folder = Path(path).resolve(), Path(directory).resolve()
    if target == folder or folder in target.parents:
        raise UsageError(f"{what} {path} would write into the index folder {directory}: choose a path outside it")
