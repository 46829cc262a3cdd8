"""Image locators: the one string form of where an image lives, a file path, a cell of a table file or a tar member.

A cell locator is `parquet-cell:ROW:COLUMN:PATH` (the column percent-encoded, so it holds no ':'), PATH a
parquet file or a `datasets` arrow file; a tar member locator is `tar-member:MEMBER:PATH` (the member name
percent-encoded), PATH an uncompressed tar. Any other string is a file path. A file path that happens to
begin with a scheme is written `./PATH`, so no file name is ever read back as a cell or a member. Catalogs
of schema 1 wrote cells as `PATH#ROW:COLUMN`, which a `#` in a file name could mimic; `legacy_cell`
recognises those for the catalog migration only.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple
from urllib.parse import quote, unquote

from editsearch.core.errors import DataError

CELL_SCHEME = "parquet-cell:"
MEMBER_SCHEME = "tar-member:"
SCHEMES = (CELL_SCHEME, MEMBER_SCHEME)
_LEGACY_CELL = re.compile(r"^(?P<path>.+\.parquet)#(?P<row>\d+):(?P<column>[^/#:]+)$", re.IGNORECASE)


class Location(NamedTuple):
    """Where a locator points: the backing file, and the cell (row, column) or the tar member in it, if any."""

    path: str
    row: int | None = None
    column: str | None = None
    member: str | None = None


def file_locator(path: str) -> str:
    """The locator of a plain file."""
    return f"./{path}" if path.startswith(SCHEMES) else path


def cell_locator(path: str, row: int, column: str) -> str:
    """The locator of cell (row, column) of the parquet or arrow file at `path`."""
    return f"{CELL_SCHEME}{int(row)}:{quote(column, safe='')}:{path}"


def member_locator(path: str, member: str) -> str:
    """The locator of member `member` of the tar file at `path`."""
    return f"{MEMBER_SCHEME}{quote(member, safe='')}:{path}"


def is_locator(text: str) -> bool:
    """True for a cell or tar-member locator (not a plain file path)."""
    return text.startswith(SCHEMES)


def parse_location(locator: str) -> Location:
    """The Location of a locator; a plain path is always a file. Raises DataError (a ValueError) if malformed."""
    if locator.startswith(MEMBER_SCHEME):
        member, _, path = locator[len(MEMBER_SCHEME) :].partition(":")
        if not member or not path:
            raise DataError(f"malformed tar-member locator (expected {MEMBER_SCHEME}MEMBER:PATH): {locator!r}")
        return Location(path, member=unquote(member))
    if not locator.startswith(CELL_SCHEME):
        return Location(locator)
    parts = locator[len(CELL_SCHEME) :].split(":", 2)
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or not parts[1] or not parts[2]:
        raise DataError(f"malformed parquet-cell locator (expected {CELL_SCHEME}ROW:COLUMN:PATH): {locator!r}")
    return Location(parts[2], int(parts[0]), unquote(parts[1]))


def parse_locator(locator: str) -> tuple[str, int | None, str | None]:
    """(backing file, row, column) of a locator; row and column are None for a file or a tar member."""
    location = parse_location(locator)
    return location.path, location.row, location.column


def locator_name(locator: str) -> str:
    """A short, path-free name: the file's name, 'NAME row N, COLUMN' for a cell, 'NAME MEMBER' for a tar member."""
    try:
        location = parse_location(locator)
    except ValueError:
        return os.path.basename(locator.rstrip("/"))
    name = os.path.basename(location.path.rstrip("/"))
    if location.member is not None:
        return f"{name} {location.member}"
    return name if location.row is None else f"{name} row {location.row}, {location.column}"


def legacy_cell(locator: str) -> str | None:
    """The cell locator of a schema-1 `PATH.parquet#ROW:COLUMN` string, or None when it is not one."""
    match = _LEGACY_CELL.match(locator)
    return None if match is None else cell_locator(match["path"], int(match["row"]), match["column"])
