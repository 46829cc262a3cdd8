"""`editsearch data`: generate synthetic edit pairs, and draw contact sheets of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import echo_json, format_table, json_option, printable
from editsearch.cli.source_options import checked_sources, columns_option


@click.group()
def data() -> None:
    """Edit-pair data: synthetic pairs, contact sheets, and what a source holds."""


@data.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write images/ and manifest.jsonl into.",
)
@click.option("--pairs", default=100, show_default=True, type=click.IntRange(1), help="Number of pairs.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Same seed, same bytes.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(32), help="Image side in pixels.")
@click.option(
    "--split",
    default="train",
    show_default=True,
    type=click.Choice(["train", "test", "both"]),
    help="Source images and phrasings: train, held-out test, or both (every 5th pair is test).",
)
@click.option(
    "--format",
    "image_format",
    default="png",
    show_default=True,
    type=click.Choice(["png", "jpg"]),
    help="png is lossless; jpg (quality 94) is smaller and faster to write.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Processes to use.")
@json_option
def synth(
    out_dir: Path, pairs: int, seed: int, size: int, split: str, image_format: str, workers: int, as_json: bool
) -> None:
    """Generate synthetic before/after pairs with instructions (families cycle, so all get covered)."""
    from editsearch.data.synthetic.families import FAMILIES
    from editsearch.data.synthetic.generator import write_synth

    summary = write_synth(
        out_dir, pairs, seed, size=size, split=split, image_format=image_format, workers=workers, progress=True
    )
    if as_json:
        echo_json(summary)
        return
    splits = ", ".join(f"{n} {name}" for name, n in sorted(summary["splits"].items()))
    click.echo(
        f"wrote {pairs} pairs ({splits}) covering {len(summary['families'])}/{len(FAMILIES)} "
        f"families to {summary['manifest']}"
    )


@data.command()
@click.argument("collection", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG to write (default: COLLECTION/sheet.png).",
)
@click.option("--thumb", default=160, show_default=True, type=click.IntRange(32), help="Thumbnail side.")
@click.option("--columns", default=4, show_default=True, type=click.IntRange(1))
@click.option("--per-family", default=1, show_default=True, type=click.IntRange(1), help="Pairs per family.")
@json_option
def sheet(collection: Path, out_file: Path | None, thumb: int, columns: int, per_family: int, as_json: bool) -> None:
    """Contact sheet of a synthetic collection: each family's before -> after, captioned."""
    from editsearch.data.synthetic.sheet import contact_sheet

    folder = collection if collection.is_dir() else collection.parent
    path = contact_sheet(
        collection, out_file or folder / "sheet.png", thumb=thumb, columns=columns, per_family=per_family
    )
    if as_json:
        echo_json({"sheet": str(path)})
    else:
        click.echo(str(path))


@data.command()
@click.argument("source", type=click.Path(path_type=Path))
@columns_option
@json_option
def inspect(source: Path, columns_text: str | None, as_json: bool) -> None:
    """What a source is: the format and layout detected, rows, each column's use, and three sample rows.

    A source that cannot be read fails with why (e.g. "no image columns; its columns are ...").
    """
    from editsearch.data.inspect import inspect_source

    paths, columns = checked_sources([source], columns_text)
    if len(paths) != 1:
        raise click.UsageError(f"{source} matches {len(paths)} files; inspect one (or their folder)")
    info = inspect_source(paths[0], columns)
    if as_json:
        echo_json(info)
        return
    _print_inspection(info)


def _print_inspection(info: dict[str, Any]) -> None:
    """The inspection as aligned text (control characters escaped)."""
    files = f" ({info['files']} files)" if info["files"] != 1 else ""
    layout = info["layout"] and f"{info['layout']}" + (f" (card: {info['card']})" if info["card"] else "")
    for key, value in (("source", info["source"]), ("format", info["format"] + files), ("layout", layout)):
        if value:
            click.echo(printable(f"{key:<8}{value}"))
    click.echo(f"{'rows':<8}{info['rows'] if info['rows'] is not None else 'unknown'}")
    if info["columns"]:
        click.echo("columns")
        rows = [(c["name"], c["type"], c["use"]) for c in info["columns"]]
        click.echo(format_table(["name", "type", "use"], rows, max_width=80))
    click.echo("samples")
    for n, sample in enumerate(info["samples"]):
        for key, value in sample.items():
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
            click.echo(printable(f"  {(f'#{n}' if key == next(iter(sample)) else ''):<4}{key:<12}{shown}"))
