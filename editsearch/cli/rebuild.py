"""`editsearch rebuild`: the FAISS caches rebuilt from the catalog, after re-embedding the index with --model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import (
    batch_size_option,
    echo_json,
    index_option,
    json_option,
    lock_timeout_option,
    model_choice,
    quiet_option,
    warn,
    warn_failures,
    warn_shortfall,
    workers_option,
)
from editsearch.core.errors import untrained_note
from editsearch.index.types import INDEX_TYPES


@click.command()
@index_option
@click.option("--index-type", type=click.Choice(INDEX_TYPES), default=None, help="Switch to another FAISS type.")
@click.option(
    "--target-recall",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="recall@10 the rebuilt index tunes its search settings to reach (default: the index's, else 0.95).",
)
@model_choice("none (the caches are rebuilt from the vectors the catalog holds)")
@batch_size_option
@workers_option
@lock_timeout_option
@quiet_option
@json_option
def rebuild(
    index_dir: Path,
    index_type: str | None,
    target_recall: float | None,
    model_name: str | None,
    batch_size: int,
    workers: int | None,
    lock_timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Rebuild the FAISS caches (pairs and instructions) from the vectors stored in the catalog, tuned again.

    With --model, first re-embed every live edit (its images read again from where the catalog says they are)
    and its instructions with that model, then switch the index to it: the way to bring an index up to new
    weights of its model, or over to another model. Until the switch, the last step, the index answers with
    its old model; run the same command again to resume a stopped run. An edit whose images cannot be read is
    reported and removed from the index (a later build-index that reads it brings it back), and the exit
    code is 3. --model naming the index's own model rebuilds the caches only.
    """
    import time

    from editsearch.encoder.embedder import Embedder
    from editsearch.index.reembed import reembed
    from editsearch.index.store import EditIndex
    from editsearch.search.weak_match import refresh_statistics

    start = time.perf_counter()
    model = Embedder(model_name) if model_name is not None else None
    with EditIndex.open(index_dir, writable=True, lock_timeout=lock_timeout) as index:
        report = None
        if model is not None:
            if not model.trained:
                warn(untrained_note(model.name))
            report = reembed(index, model, batch_size=batch_size, workers=workers, progress=not quiet)
        vectors = index.rebuild(index_type, target_recall)
        refresh_statistics(index, model)
        counts = index.stats()
        info = {
            "index_type": index.index_type,
            "faiss_type": vectors.kind if vectors else None,
            "vectors": vectors.ntotal if vectors else 0,
            "seconds": round(time.perf_counter() - start, 3),
            "target_recall": counts["target_recall"],
            "faiss_tuning": counts["faiss_tuning"],
            "instruction_faiss_type": counts["instruction_faiss_type"],
            "instruction_faiss_tuning": counts["instruction_faiss_tuning"],
            "model": counts["model"],
            "reembed": report.as_dict() if report is not None else None,
        }
    if report is not None:
        warn_failures(report.errors, "the `errors` table of the catalog")
    warn_shortfall(counts)
    if as_json:
        echo_json(info)
    else:
        _print_rebuild(info, report.summary() if report is not None else None)
    if report is not None:
        sys.exit(report.exit_code)


def _print_rebuild(info: dict[str, Any], reembedded: str | None) -> None:
    """What `rebuild` did, in lines: the re-embedding (when asked for), the cache, its search settings."""
    if reembedded is not None:
        click.echo(reembedded)
    click.echo(f"rebuilt {info['faiss_type'] or 'empty'} index of {info['vectors']} vectors in {info['seconds']} s")
    tuning = info["faiss_tuning"]
    if tuning and tuning.get("settings"):
        shown = ", ".join(f"{k} {v}" for k, v in tuning["settings"].items())
        click.echo(f"search settings {shown}: recall@10 {tuning['recall']} (target {tuning['target']})")
