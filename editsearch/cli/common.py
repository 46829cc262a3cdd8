"""Shared CLI pieces: exit codes, common options, JSON output, model loading with clear errors."""

from __future__ import annotations

import json
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


def load_model_or_exit(name: str | None, require_trained: bool = False) -> Any:
    """Load an EditCLIP, turning missing weights into a one-line error; say so when it is untrained."""
    from editsearch.encoder import DEFAULT_MODEL, WeightsNotFoundError, load_model

    if name is None and require_trained:
        default = load_model(DEFAULT_MODEL)
        if not default.trained:
            raise click.UsageError(
                f"--model is required: the default model {DEFAULT_MODEL!r} is untrained, so its scores mean "
                "nothing. Pass a trained EditCLIP (a folder, `editclip-vit-l-14` with its weights, or one you "
                "trained with `editsearch train editclip`)."
            )
        return default
    try:
        model = load_model(name)
    except (WeightsNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if not model.trained:
        warn(f"note: model {model.name!r} is UNTRAINED (random weights); its scores are noise.")
    return model


