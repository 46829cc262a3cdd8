"""`editsearch score`: EC2T / EC2EC of one pair, or of every pair in a manifest (to CSV)."""

from __future__ import annotations

import csv
import dataclasses
import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from editsearch.cli.common import batch_size_option, echo_json, json_option, json_text, model_option, warn
from editsearch.core.errors import items_exit_code, untrained_note
from editsearch.core.files import atomic_path

FORMULA_STARTS = tuple("=+-@\t\r")  # what makes a spreadsheet cell a formula


@click.command()
@click.option("--before", type=click.Path(dir_okay=False), help="Before image of the pair to score.")
@click.option("--after", type=click.Path(dir_okay=False), help="After image of the pair to score.")
@click.option("--text", help="Instruction to score against (EC2T).")
@click.option("--ref-before", type=click.Path(dir_okay=False), help="Reference pair's before image (EC2EC).")
@click.option("--ref-after", type=click.Path(dir_okay=False), help="Reference pair's after image (EC2EC).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), help="Score every pair of a manifest.")
@click.option("--out", type=click.Path(dir_okay=False), help="CSV file for --manifest results (default: stdout).")
@batch_size_option
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Refuse manifest image paths (and references) that resolve outside this folder (each such row fails).",
)
@model_option
@json_option
def score(
    before: str | None,
    after: str | None,
    text: str | None,
    ref_before: str | None,
    ref_after: str | None,
    manifest: str | None,
    out: str | None,
    batch_size: int,
    root: Path | None,
    model_name: str | None,
    as_json: bool,
) -> None:
    """Score edits with the metrics of the EditCLIP paper (Wang et al. 2025).

    \b
    EC2T  = cos(EditCLIP(before, after), text)          --text T
    EC2EC = cos(EditCLIP(before, after), EditCLIP(ref)) --ref-before C --ref-after D
    With --manifest, each row is scored against its instruction (EC2T) and against the
    reference pair (EC2EC): --ref-before/--ref-after for all rows, or per-row keys
    `ref_before`/`ref_after`. Exit code 3 when some rows failed (they are reported).
    """
    if (ref_before is None) != (ref_after is None):
        raise click.UsageError("--ref-before and --ref-after go together")
    ref = (ref_before, ref_after) if ref_before and ref_after else None
    if manifest:
        if before or after or text:
            raise click.UsageError("--manifest cannot be combined with --before/--after/--text")
        sys.exit(_score_manifest(_embedder(model_name), Path(manifest), ref, out, batch_size, as_json, root))
    if not (before and after):
        raise click.UsageError("give --before and --after (or --manifest)")
    if text is None and ref is None:
        raise click.UsageError("give --text (EC2T) and/or --ref-before/--ref-after (EC2EC)")
    from editsearch.search.scoring import score_one

    model = _embedder(model_name)
    scores = score_one(model, before, after, text=text, ref=ref)
    if as_json:
        echo_json({"before": before, "after": after, "text": text, "model": model.name, **scores})
        return
    if "ec2t" in scores:
        click.echo(f"EC2T   {scores['ec2t']:.4f}")
        click.echo(
            f"       rank {scores['ec2t_rank']} of {scores['ec2t_among']} against the shipped edit instructions "
            f"(fits this pair better than {scores['ec2t_percentile']:g}% of them)"
        )
    if "ec2ec" in scores:
        click.echo(f"EC2EC  {scores['ec2ec']:.4f}")


def _embedder(model_name: str | None) -> Any:
    """The model to score with (ONNX towers where exported), noting on stderr when it is UNTRAINED."""
    from editsearch.encoder.embedder import Embedder

    embedder = Embedder(model_name)
    if not embedder.trained:
        warn(untrained_note(embedder.name))
    return embedder


def spreadsheet_safe(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row whose text cells cannot run as spreadsheet formulas: a leading = + - @ gets a quote."""
    return {key: f"'{v}" if isinstance(v, str) and v[:1] in FORMULA_STARTS else v for key, v in row.items()}


@contextmanager
def _csv_output(out: str | None) -> Iterator[TextIO]:
    """Where the CSV goes: stdout, or an exclusive temp file that replaces `out` only once every row is written."""
    if not out:
        yield sys.stdout
        return
    if not Path(out).parent.is_dir():  # said of --out itself, not of the temp file beside it
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), out)
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        yield f


def _score_manifest(
    model, manifest: Path, ref, out: str | None, batch_size: int, as_json: bool, root: Path | None = None
) -> int:
    from tqdm import tqdm

    from editsearch.data.sources import count_source, iter_source
    from editsearch.search.scoring import ScoreRow, Tally, score_pairs

    if ref is not None:
        from editsearch.media.images import ImageLoadError, load_image

        try:
            ref = (load_image(ref[0]), load_image(ref[1]))
        except ImageLoadError as e:
            raise ImageLoadError(f"reference pair: {e}") from None
    fields = [f.name for f in dataclasses.fields(ScoreRow)]
    tally = Tally()
    stream_json = as_json and not out  # the rows go to stdout inside the one JSON document, as they are scored
    with _csv_output(out) as handle:
        writer = csv.DictWriter(handle, fieldnames=fields) if not stream_json else None
        if writer:
            writer.writeheader()
        else:
            click.echo('{"rows": [', nl=False)
        bar = tqdm(total=count_source(manifest), unit="pair", desc="scoring", file=sys.stderr, disable=None)
        pairs = iter_source(manifest, root=root)
        for row in score_pairs(model, pairs, ref=ref, batch_size=batch_size, base=manifest.parent, root=root):
            if writer:
                writer.writerow(spreadsheet_safe(dataclasses.asdict(row)))
            else:
                click.echo(("," if tally.scored + tally.failed else "") + json_text(dataclasses.asdict(row)), nl=False)
            tally.add(row)
            if row.error:
                warn(f"skipped {row.item}: {row.error}")
            bar.update(1)
        bar.close()
    summary = {"scored": tally.scored, "failed": tally.failed, "model": model.name, **tally.means(), "out": out}
    if stream_json:
        click.echo("], " + json_text(summary)[1:])
    elif as_json:
        echo_json(summary)
    else:
        warn(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    return items_exit_code(tally.failed)
