"""`editsearch map`: the edit atlas of an index (2-D layout, clusters, names) as parquet, picture and summary."""

from __future__ import annotations

from pathlib import Path

import click

from editsearch.cli.common import echo_json, format_table, index_option, json_option, lock_timeout_option, warn

MAP_FILE = "map.parquet"
NAMED_BY = {"instructions": "instructions", "vocabulary": "edit phrases"}  # a cluster name's source, as the table says


@click.command("map")
@index_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder for {MAP_FILE} (id, before, after, x, y, cluster, label; the agreement in its metadata); "
    "created if absent.",
)
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the map as a PNG.")
@click.option(
    "--fit-sample",
    type=click.IntRange(20),
    default=50_000,
    show_default=True,
    help="Edits the layout is fitted on; the others are placed among their nearest fitted edits.",
)
@click.option("--refit", is_flag=True, help="Fit the layout anew even if the stored one can place new edits.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Seed of the fit.")
@lock_timeout_option
@json_option
def map_cmd(
    index_dir: Path,
    out: Path | None,
    png: Path | None,
    fit_sample: int,
    refit: bool,
    seed: int,
    lock_timeout: float,
    as_json: bool,
) -> None:
    """Map an index's edits in 2-D, cluster them and name each cluster (stored in the index, reused next time).

    Clusters are named by the instructions most of their edits carry ("mixed: A / B" when none holds a clear
    majority), or by the shipped edit phrases where their edits carry none; the output says how far the
    clusters agree with the instructions (purity: per cluster, the share of its top instruction group).
    """
    from editsearch.atlas import build_map
    from editsearch.core.files import refuse_inside
    from editsearch.index.store import EditIndex

    for option, path in (("--out", out), ("--png", png)):
        if path is not None:
            refuse_inside(path, index_dir, option)
    with EditIndex.open(index_dir, writable=True, lock_timeout=lock_timeout) as index:
        atlas = build_map(index, fit_sample=fit_sample, refit=refit, seed=seed)
    for note in atlas.notes:
        warn(f"note: {note}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        warn(f"wrote {atlas.write_parquet(out / MAP_FILE)}")
    if png is not None:
        from editsearch.atlas.render import draw_png

        warn(f"wrote {draw_png(atlas, png)}")
    summary = atlas.summary()
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{summary['edits']} edits, {summary['clusters']} clusters, {summary['noise_share']:.1%} noise"
        + (f" ({'fitted anew' if atlas.refitted else f'{atlas.placed} placed by the stored layout'})")
    )
    click.echo(atlas.agreement_line(" (per cluster in the table)"))
    rows = [(c["cluster"], c["size"], _purity(c), NAMED_BY.get(c["source"], ""), c["label"]) for c in summary["labels"]]
    if rows:
        click.echo(format_table(["cluster", "size", "purity", "named by", "label"], rows, max_width=72))


def _purity(cluster: dict) -> str:
    """A cluster's purity as the table shows it ("-" for one whose edits carry no instructions)."""
    return "-" if cluster["purity"] is None else f"{cluster['purity']:.2f}"
