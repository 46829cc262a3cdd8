"""Options every train command shares: --data, where training pairs come from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from editsearch.training.configs import SYNTHETIC, data_sources

F = TypeVar("F", bound=Callable[..., Any])


def data_option(fn: F) -> F:
    """--data SOURCE (repeatable; 'synthetic', the default, generates edits), and its old spelling --synthetic."""
    fn = click.option("--synthetic", is_flag=True, hidden=True, help=f"Same as --data {SYNTHETIC}.")(fn)
    return click.option(
        "--data",
        multiple=True,
        metavar="SOURCE",
        help=f"Edit-pair source (manifest, pair folder or IP2P parquet); repeatable. '{SYNTHETIC}' "
        "[the default]: synthetic edits generated here.",
    )(fn)


def sources_of(data: tuple[str, ...], synthetic: bool) -> tuple[str, ...]:
    """The edit-pair sources named by --data/--synthetic; () means synthetic edits."""
    return data_sources((*data, *((SYNTHETIC,) if synthetic else ())))
