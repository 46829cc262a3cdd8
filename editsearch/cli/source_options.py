"""The options and checks every command that reads edit-pair sources shares: --columns, sources checked up front."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

columns_option = click.option(
    "--columns",
    "columns_text",
    default=None,
    metavar="ROLE=COLUMN,...",
    help="The columns of a parquet or arrow table that no preset layout fits: before=C,after=C and optionally "
    "instruction=C, id=C (see `editsearch data inspect`).",
)


def checked_sources(sources: Sequence[Path], columns_text: str | None) -> tuple[list[Path], dict[str, str] | None]:
    """(the sources, glob patterns expanded; the parsed --columns), each source known readable before any work."""
    from editsearch.data.layouts import parse_columns
    from editsearch.data.sources import check_source, expand_sources

    columns = parse_columns(columns_text) if columns_text else None
    paths = expand_sources(sources)
    for path in paths:
        check_source(path, columns)
    return paths, columns
