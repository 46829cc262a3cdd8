"""`editsearch audit`: what is wrong in an index's edits. Thin: parse, call editsearch.audit, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from editsearch.audit.checks.registry import NAMES
from editsearch.cli.common import echo_json, format_table, index_option, json_option, warn
from editsearch.core.errors import EXIT_PARTIAL, UsageError, untrained_note


def _thresholds(values: tuple[str, ...]) -> dict[str, str]:
    """CHECK=VALUE pairs as a dict of their text (check_thresholds makes them numbers); UsageError without a `=`."""
    out = {}
    for item in values:
        check, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--threshold takes CHECK=NUMBER, got {item!r}")
        out[check.strip()] = value.strip()
    return out


@click.command("audit")
@index_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the audit's files.")
@click.option(
    "--checks",
    default=",".join(NAMES),
    show_default=True,
    help=f"Comma-separated checks to run, of {', '.join(NAMES)}.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="CHECK=VALUE",
    help="Flag CHECK when its score exceeds VALUE, instead of the threshold set from the data; it applies even "
    "where CHECK is not reliable on the collection (repeatable).",
)
@click.option(
    "--write-clean",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a manifest of the pairs no reliable check flagged (one pair kept per duplicate group).",
)
@click.option("--workers", type=click.IntRange(0), default=None, help="Image-decoding workers (default: as a build).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
def audit(
    index_dir: Path,
    out: Path,
    checks: str,
    thresholds: tuple[str, ...],
    write_clean: Path | None,
    workers: int | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Audit every live edit of an index for no-ops, mismatched or reversed instructions and duplicates.

    Each check first measures how far it can be trusted on this collection; one that is not reliable
    (the model reads the pairs barely better than chance) flags nothing, and says why. Writes
    OUT/audit.parquet (a row per edit: each check's score and flag, duplicate_of, suggested_instruction),
    OUT/summary.json (counts, each check's reliability, thresholds and how each was set, duplicate groups
    across sources) and OUT/report.html (the flagged edits, worst first). Exit code 3 when some pairs'
    images could not be read (each is named on stderr; the others were audited).
    """
    from editsearch.audit.files import prepare_out, write_outputs
    from editsearch.audit.files import write_clean as write_clean_manifest
    from editsearch.audit.run import check_names, check_thresholds, run_audit
    from editsearch.core.files import refuse_inside
    from editsearch.index.build import default_workers
    from editsearch.index.store import EditIndex

    names = check_names(c.strip() for c in checks.split(",") if c.strip())
    given = check_thresholds(_thresholds(thresholds))  # refused before any work: an unknown check, a NaN
    refuse_inside(out, index_dir, "--out")
    if write_clean is not None:
        refuse_inside(write_clean, index_dir, "--write-clean")
    folder = prepare_out(out)
    with EditIndex.open(index_dir) as index:
        info = index.model_info
        if info is not None and not info["trained"]:
            warn(untrained_note(info["name"], "its mismatch and reversed scores are noise"))
        workers = default_workers("cpu") if workers is None else workers
        table, summary = run_audit(index, None, names, given, workers=workers, progress=not quiet)
    paths = write_outputs(table, summary, folder)
    if write_clean is not None:
        summary["clean_manifest"] = {"path": str(write_clean), "pairs": write_clean_manifest(table, write_clean)}
    for failure in summary["failed"]:
        warn(f"failed: edit {failure['id']}: {failure['reason']}")
    for note in summary["notes"]:
        warn(f"note: {note}")
    if as_json:
        echo_json(summary)
    else:
        _print_summary(summary, paths)
    sys.exit(EXIT_PARTIAL if summary["failed"] else 0)


def _print_summary(summary: dict, paths: dict[str, Path]) -> None:
    rows = []
    for check, info in summary["checks"].items():
        value, reliability = info["threshold"]["value"], info["reliability"]
        reliable = ("yes" if info["reliable"] else "no") + ("" if reliability is None else f" ({reliability:.2f})")
        rows.append((check, reliable, info["scored"], info["flagged"], "none" if value is None else round(value, 4)))
    click.echo(format_table(["check", "reliable", "scored", "flagged", "threshold"], rows))
    click.echo(
        f"{summary['edits']} edits, {summary['flagged_any']} flagged, {summary['duplicate_groups']} duplicate groups "
        f"({len(summary['cross_source_groups'])} across sources)"
    )
    for name, path in paths.items():
        click.echo(f"{name}: {path}")
    if "clean_manifest" in summary:
        click.echo(f"clean manifest: {summary['clean_manifest']['path']} ({summary['clean_manifest']['pairs']} pairs)")
