"""The writer lock of an index directory: one writer at a time; a second one waits, then gives up clearly."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

from editsearch.index.errors import EditIndexError, IndexLockedError

LOCK_FILE = "write.lock"
DEFAULT_LOCK_TIMEOUT = float(os.environ.get("EDITSEARCH_LOCK_TIMEOUT", "10"))
_HELD: set[int] = set()  # descriptors of the locks this process holds


def _open_lock(path: Path) -> int:
    """The lock file, opened for writing (created if absent); never through a link, which would truncate its target."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        raise EditIndexError(
            f"{path} is a symbolic link: a writer lock is never taken through one (remove it)"
        ) from None


def _close_inherited() -> None:
    """In a forked child (a DataLoader worker): drop the copies of the lock descriptors.

    An flock belongs to the open file, which fork shares; a child that kept its copy would hold the lock
    after the writer was killed, until it noticed and exited. Closing the copy (without LOCK_UN, which
    would unlock the parent too) leaves the writer the only holder.
    """
    for fd in _HELD:
        os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited)


class WriterLock:
    """An flock on <index>/write.lock, released on close or when the process dies (even by kill -9)."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        """Take the lock, polling for up to `timeout` seconds; raises IndexLockedError."""
        if self._fd is not None:
            return
        fd = _open_lock(self.path)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise IndexLockedError(
                        f"another process{holder} is writing to the index at {self.path.parent}; "
                        f"gave up after {timeout:g} s (raise it with --lock-timeout or EDITSEARCH_LOCK_TIMEOUT)"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        _HELD.add(fd)

    def held_elsewhere(self) -> str | None:
        """Who else holds the lock (' (pid N)' or ''), or None if nobody does; never waits or creates the file."""
        if self._fd is not None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        finally:
            os.close(fd)  # closing drops a shared lock taken just now
        return None

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd in _HELD:  # not in a forked child, whose copy is already closed
            _HELD.discard(self._fd)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._fd = None


def _read_holder(fd: int) -> str:
    """' (pid N)' from the lock file, if it names one."""
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
