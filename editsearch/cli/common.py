"""Shared CLI pieces: common options, JSON output, model loading with the UNTRAINED note."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from editsearch.core.errors import untrained_note

F = TypeVar("F", bound=Callable[..., Any])


def model_choice(default: str = "the shipped model") -> Callable[[F], F]:
    """The --model option, its help naming what a command does without it."""
    return click.option(
        "--model",
        "model_name",
        default=None,
        metavar="NAME|PATH",
        help=f"Registry name (see `editsearch.encoder.MODELS`), model folder, or hub id. Default: {default}.",
    )


model_option = model_choice()
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
batch_size_option = click.option(
    "--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Pairs per forward."
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Image-decoding workers (default: half the cores, ≤4, on CPU; all but one, ≤8, on GPU).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


MAX_ERRORS_SHOWN = 20  # failed items a command lists on stderr; the rest are counted
EDIT_ID = click.IntRange(1, 2**63 - 1)  # SQLite's integer range: a larger id is a usage error, not an overflow
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n"}


def echo_json(obj: Any) -> None:
    """Print one strict JSON document on stdout: NaN and infinities become null."""
    click.echo(json_text(obj))


def json_text(obj: Any) -> str:
    """Strict JSON text of `obj` on one line: NaN and infinities become null."""
    return json.dumps(finite(obj), ensure_ascii=False, default=str, allow_nan=False)


def finite(obj: Any) -> Any:
    """`obj` with every non-finite float (NaN, ±inf), at any depth, replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    return obj


def printable(text: Any) -> str:
    """Text from a catalog or a file, safe for a terminal: control characters (ESC, BEL, ...) shown as \\xNN."""
    return str(text).translate(_CONTROL)


def warn(msg: str) -> None:
    """One line on stderr, control characters escaped."""
    click.echo(printable(msg), err=True)


def warn_failures(errors: Sequence[tuple[str, str, str]], kept_in: str) -> None:
    """The first MAX_ERRORS_SHOWN failed (origin, item, reason) on stderr, then how many more and where all are."""
    for _origin, item, reason in errors[:MAX_ERRORS_SHOWN]:
        warn(f"failed: {item}: {reason}")
    if len(errors) > MAX_ERRORS_SHOWN:
        warn(f"... and {len(errors) - MAX_ERRORS_SHOWN} more (all in {kept_in})")


def warn_shortfall(counts: dict[str, Any]) -> None:
    """A note on stderr for each FAISS cache whose search settings did not reach the target recall."""
    for key in ("faiss_tuning", "instruction_faiss_tuning"):
        tuning = counts.get(key)
        if tuning and not tuning.get("reached", True):
            warn(f"{'instruction ' if key.startswith('instruction') else ''}FAISS cache: {tuning['note']}")


def load_model_noted(name: str | None) -> Any:
    """Load an EditCLIP (default: the shipped one), noting on stderr when it is UNTRAINED."""
    from editsearch.encoder import load_model

    model = load_model(name)
    if not model.trained:
        warn(untrained_note(model.name))
    return model


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


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 48, digits: int = 4) -> str:
    """An aligned plain-text table; numbers right-aligned, floats to `digits` places, long cells shortened."""

    def cell(v: Any) -> str:
        text = f"{v:.{digits}f}" if isinstance(v, float) else ("" if v is None else str(v))
        text = printable(" ".join(text.split()))
        return text if len(text) <= max_width else text[: max_width // 2 - 1] + "…" + text[-(max_width // 2) :]

    cells = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
