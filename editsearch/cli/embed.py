"""The embed command: input shards -> embeddings shards, locally, on Ray, or as one worker of an array job."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from editsearch.cli.common import echo_json, json_option, load_model_noted, model_option, quiet_option, warn_failures
from editsearch.cli.source_options import checked_sources, columns_option


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Embeddings directory: one parquet shard per input shard.",
)
@model_option
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process and its decoding workers; ray: Ray Data (decoding tasks, a pool of model actors).",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDR",
    help="Ray cluster to join ('auto': the one this node belongs to). Default: start Ray locally.",
)
@click.option("--shard-index", type=click.IntRange(0), default=0, show_default=True, help="This worker's number.")
@click.option("--num-shards", type=click.IntRange(1), default=1, show_default=True, help="Workers sharing the job.")
@click.option(
    "--batch-size", type=click.IntRange(1), default=None, help="Pairs per forward (default: 32 on CPU, 256 on GPU)."
)
@click.option(
    "--workers", type=click.IntRange(0), default=None, help="Decoding workers of the local engine (as build-index)."
)
@columns_option
@quiet_option
@json_option
def embed(
    sources: tuple[Path, ...],
    out_dir: Path,
    model_name: str | None,
    engine: str,
    ray_address: str | None,
    shard_index: int,
    num_shards: int,
    batch_size: int | None,
    workers: int | None,
    columns_text: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Embed the edit pairs of SOURCE... into embeddings shards under --out, for `build-index --from-embeddings`.

    Each manifest, parquet or arrow file, webdataset tar or folder of pairs is one input shard (a folder of
    parquet, arrow or tar files: one per file; a glob: one per match) and gets one shard in --out. A rerun
    skips the shards already complete, so a killed job resumes. With --shard-index I --num-shards N this
    worker takes the shards i with i % N == I. Exit code 0 when every item succeeded, 3 when some failed
    (each reported on stderr and kept in its shard).
    """
    if ray_address is not None and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    if shard_index >= num_shards:
        raise click.UsageError(f"--shard-index must be below --num-shards ({num_shards})")
    from editsearch.scale.embed import embed_sources

    paths, columns = checked_sources(sources, columns_text)
    model = load_model_noted(model_name)
    report = embed_sources(
        paths,
        out_dir,
        model,
        engine=engine,
        batch_size=batch_size,
        workers=workers,
        ray_address=ray_address,
        shard_index=shard_index,
        num_shards=num_shards,
        progress=not quiet,
        columns=columns,
    )
    warn_failures(report.errors, "the shards' metadata")
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(report.summary())
    sys.exit(report.exit_code)
