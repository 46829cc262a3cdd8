"""Image locators: the one string form of where an image lives, a file path or a cell of a parquet file.

A cell locator is `parquet-cell:ROW:COLUMN:PATH` (the column percent-encoded, so it holds no ':'); any
other string is a file path. A file path that happens to begin with the scheme is written `./PATH`, so
no file name is ever read back as a cell. Catalogs of schema 1 wrote cells as `PATH#ROW:COLUMN`, which
a `#` in a file name could mimic; `legacy_cell` recognises those for the catalog migration only.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from editsearch.errors import DataError

CELL_SCHEME = "parquet-cell:"
_LEGACY_CELL = re.compile(r"^(?P<path>.+\.parquet)#(?P<row>\d+):(?P<column>[^/#:]+)$", re.IGNORECASE)


def file_locator(path: str) -> str:
    """The locator of a plain file."""
    return f"./{path}" if path.startswith(CELL_SCHEME) else path


def cell_locator(path: str, row: int, column: str) -> str:
    """The locator of cell (row, column) of the parquet file at `path`."""
    return f"{CELL_SCHEME}{int(row)}:{quote(column, safe='')}:{path}"


def parse_locator(locator: str) -> tuple[str, int | None, str | None]:
    """(path, row, column) of a locator; row and column are None for a file. Raises ValueError if malformed."""
    if not locator.startswith(CELL_SCHEME):
        return locator, None, None
    parts = locator[len(CELL_SCHEME) :].split(":", 2)
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit()) or not parts[1] or not parts[2]:
        raise DataError(f"malformed parquet-cell locator (expected {CELL_SCHEME}ROW:COLUMN:PATH): {locator!r}")
    return parts[2], int(parts[0]), unquote(parts[1])


def legacy_cell(locator: str) -> str | None:
    """The cell locator of a schema-1 `PATH.parquet#ROW:COLUMN` string, or None when it is not one."""
    match = _LEGACY_CELL.match(locator)
    return None if match is None else cell_locator(match["path"], int(match["row"]), match["column"])
