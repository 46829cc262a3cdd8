"""A catalog's SQLite connection: how many this process holds to each file (the first checks the file's header),
damage named as CatalogCorruptError, and the memo of values read while the file is unchanged (`PRAGMA data_version`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editsearch.index.errors import CatalogCorruptError

if TYPE_CHECKING:
    import sqlite_utils

# Catalog files this process holds connections to, with how many. POSIX drops every lock a process holds
# on a file when it closes ANY descriptor of that file, so reading the header with a plain open() while a
# connection is open would drop that connection's WAL locks: a writer in another process then thinks it is
# alone, checkpoints and deletes the WAL, and the connection goes on reading a stale snapshot. The raw
# header is therefore read only before this process's first connection to a file.
_OPEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class CatalogConnection:
    """The connection of one catalog file, with the memo of what was read from it."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None):
        self.conn = conn
        self.path = path
        self.readonly = False
        self._key: str | None = None  # the file's key in _OPEN while this connection is open
        self._memo: dict[str, Any] = {}  # settings and the model row as last read, valid while _stamp holds
        self._stamp: tuple[int, int] | None = None

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection as sqlite-utils sees it, for transactions and migrations; reads use `conn`.

        Built on first use: importing sqlite-utils imports pandas where it is installed (a third of a second).
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
        if self._key is not None:
            release(self._key)
            self._key = None

    def _remembered(self, key: str, read: Callable[[], Any]) -> Any:
        """`read()`, or its value as read before while the file is unchanged (queries read settings often).

        Outside a transaction only: a commit of any other connection moves `PRAGMA data_version`, a
        write of this one `total_changes`, and either forgets every value.
        """
        conn = self.conn
        if conn.in_transaction:
            return read()
        stamp = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        if stamp != self._stamp:
            self._memo, self._stamp = {}, stamp
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]


def hold(path: Path) -> str:
    """Count one more connection to the catalog file at `path`, checking its header if it is the first."""
    key = str(path.resolve())
    with _OPEN_LOCK:
        if not _OPEN.get(key):
            check_header(path)
        _OPEN[key] = _OPEN.get(key, 0) + 1
    return key


def release(key: str) -> None:
    """One connection fewer to the catalog file `key`."""
    with _OPEN_LOCK:
        _OPEN[key] -= 1
        if not _OPEN[key]:
            del _OPEN[key]


def check_header(path: Path) -> None:
    """Refuse (CatalogCorruptError) a file that is not an SQLite database or is shorter than its header says."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return  # a new catalog
    if not header:
        return  # an empty file: SQLite makes a new database of it
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise CatalogCorruptError(damaged(path, "not an SQLite database (bad header)"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]  # the page count is valid only when these agree
    if header_valid and pages and file_size(path) < pages * page_size:
        found = f"truncated: {file_size(path)} bytes, its header says {pages * page_size}"
        raise CatalogCorruptError(damaged(path, found))


def damaged(path: Path | None, what: str) -> str:
    """The one-line message of a damaged catalog: what is wrong and what to do."""
    what = " ".join(what.replace("*** in database main ***", "").split())  # SQLite's reports span lines
    return (
        f"the index catalog {path} is damaged ({what}); restore it from a backup, or rebuild the index from "
        "its sources (`editsearch build-index SOURCE... --index NEW_DIR`); `editsearch verify` says more"
    )


@contextmanager
def corruption_as_error(path: Path | None) -> Iterator[None]:
    """SQLite's corruption errors ('database disk image is malformed', ...) raised as CatalogCorruptError."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF in _CORRUPT_CODES or "malformed" in str(e):
            raise CatalogCorruptError(damaged(path, str(e))) from None
        raise


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
