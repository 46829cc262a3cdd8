"""Shared CLI pieces: exit codes, common options, JSON output, model loading with clear errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

EXIT_OK = 0  # every item succeeded
EXIT_ERROR = 1  # the command could not do its job (bad weights, corrupt index, ...)
EXIT_USAGE = 2  # bad arguments (click's own code)
EXIT_PARTIAL = 3  # some items failed and were reported; every valid item was processed

model_option = click.option(
    "--model",
    "model_name",
    default=None,
    metavar="NAME|PATH",
    help="Registry name (see `editsearch.encoder.MODELS`), model folder, or hub id. Default: the shipped model.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def echo_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def warn(msg: str) -> None:
    """One line on stderr."""
    click.echo(msg, err=True)


def load_model_or_exit(name: str | None) -> Any:
    """Load an EditCLIP (default: the shipped one), turning missing weights into a one-line error."""
    from editsearch.encoder import WeightsNotFoundError, load_model

    try:
        model = load_model(name)
    except (WeightsNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if not model.trained:
        warn(f"note: model {model.name!r} is UNTRAINED (random weights); its scores are noise.")
    return model


EXIT_INCONSISTENT = 4  # `verify` found the catalog or the FAISS cache inconsistent

index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="EDITSEARCH_INDEX",
    default=".editsearch",
    show_default=True,
    show_envvar=True,
    help="Index directory.",
)
lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    envvar="EDITSEARCH_LOCK_TIMEOUT",
    default=10.0,
    show_default=True,
    help="Seconds to wait for another writer of the same index before giving up.",
)


@contextmanager
def library_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into a one-line `Error: ...` and exit code 1, no traceback."""
    try:
        yield
    except Exception as e:
        if isinstance(e, _user_errors()):
            raise click.ClickException(str(e)) from None
        raise


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for users; the encoder's only if it was imported (it is slow)."""
    from editsearch.images import ImageLoadError
    from editsearch.index.errors import EditIndexError

    errors: list[type[BaseException]] = [EditIndexError, ImageLoadError, FileNotFoundError]
    if "editsearch.encoder" in sys.modules:
        from editsearch.encoder import WeightsNotFoundError

        errors.append(WeightsNotFoundError)
    return tuple(errors)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 48) -> str:
    """An aligned plain-text table; numbers right-aligned, long cells shortened in the middle."""

    def cell(v: Any) -> str:
        text = f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))
        text = " ".join(text.split())
        return text if len(text) <= max_width else text[: max_width // 2 - 1] + "…" + text[-(max_width // 2) :]

    cells = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
