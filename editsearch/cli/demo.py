"""`editsearch demo`: make the synthetic demo collection, index it, and run a text and an exemplar query."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from editsearch.cli.common import format_table, model_option, quiet_option, warn
from editsearch.cli.index import weak_note
from editsearch.core.errors import untrained_note
from editsearch.core.jsonl import read_jsonl

if TYPE_CHECKING:
    from editsearch.search.results import QueryOutcome, SearchResult


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("editsearch-demo"),
    show_default=True,
    help="Folder for the demo collection; its index goes in OUT/index.",
)
@click.option("--pairs", type=click.IntRange(10), default=300, show_default=True, help="Pairs to generate.")
@click.option("--k", "-k", type=click.IntRange(1), default=5, show_default=True, help="Results per query.")
@model_option
@click.option(
    "--apply/--no-apply",
    "apply_edit",
    default=True,
    show_default=True,
    help="Also apply the text query's top edit to the held-out photo (shipped tiny IP2P).",
)
@quiet_option
def demo(out: Path, pairs: int, k: int, model_name: str | None, apply_edit: bool, quiet: bool) -> None:
    """Generate a demo collection, index it, run example queries and apply a found edit, all offline.

    Every fifth pair is held out (split 'test'): the example queries are a held-out pair and its
    instruction, searched against the train pairs; the text query's top edit is then applied to the
    held-out pair's before photo (OUT/applied.png). A second run reuses everything.
    """
    from editsearch.data.synthetic.generator import make_demo
    from editsearch.encoder import MODELS
    from editsearch.index.store import EditIndex
    from editsearch.search.api import EditSearch
    from editsearch.search.weak_match import refresh_statistics

    manifest = make_demo(out, pairs=pairs, seed=0)
    rows = [row for _, row in read_jsonl(manifest) if isinstance(row, dict)]
    train = _write_manifest(manifest.with_name("train.jsonl"), [r for r in rows if r.get("split") != "test"])
    click.echo(f"demo collection: {pairs} synthetic edit pairs, {manifest}; the train split is indexed")
    with EditIndex.open(out / "index", create=True) as index:
        model = index.embedder(model_name)
        source = MODELS.get(model.name)
        label = source.description if source else model.name
        click.echo(f"model: {model.name} ({label})")
        if not model.trained and "UNTRAINED" not in label:
            warn(untrained_note(model.name, "the rankings below are noise"))
        report = index.sync([train], model, progress=not quiet)
        refresh_statistics(index, model)
        click.echo(f"index {index.directory}: {report.summary()}")
    held_out = next((r for r in rows if r.get("split") == "test"), rows[0])
    before, after = (str(manifest.parent / held_out[key]) for key in ("before", "after"))
    with EditSearch(EditIndex.open(out / "index"), model) as searcher:
        text = held_out["instruction"]
        click.echo(f"\nText query (EC2T): {text!r} (a held-out instruction; family {held_out['family']})")
        found = _show(searcher.query([text], k=k, echo={"text": text}))
        click.echo(f"\nExemplar query (EC2EC): {held_out['before']} → {held_out['after']} (held out, not in the index)")
        _show(searcher.query([(before, after)], k=k, echo={"before": before, "after": after}))
    if apply_edit and found:
        _apply_found(out, found[0], before)
    click.echo(
        f'\nTry: editsearch query --index {out / "index"} --text "make it brighter"\n'
        f"     editsearch query --index {out / 'index'} --before {before} --after {after} --html results.html"
    )
    click.echo(f"\nBrowse and search it in the browser: editsearch serve --index {out / 'index'}")


def _apply_found(out: Path, edit: Any, image: str) -> None:
    """Apply a found edit to a held-out photo with the shipped pipeline; a missing pipeline is a note, not an error."""
    from editsearch.encoder import WeightsNotFoundError
    from editsearch.transfer import DEFAULT_PIPELINE, EditTransfer
    from editsearch.transfer.exemplar import exemplar_from_index
    from editsearch.transfer.pipeline_names import DEMONSTRATION_NOTE

    try:
        transfer = EditTransfer.from_pretrained(None)
    except WeightsNotFoundError as e:
        warn(f"note: skipping the apply step: {e}")
        return
    exemplar = exemplar_from_index(out / "index", edit.id)
    target = out / "applied.png"
    transfer.apply(exemplar.before, exemplar.after, [image])[0].save(target)
    click.echo(
        f"\nApply (EditCLIP-conditioned IP2P, {DEFAULT_PIPELINE}, a 64-px demonstration): edit {edit.id} "
        f"({edit.instruction!r}) applied to {image} → {target}"
    )
    warn(DEMONSTRATION_NOTE)
    click.echo(f"  again: editsearch apply --index {out / 'index'} --edit-id {edit.id} --image {image} --out {target}")


def _write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write manifest rows as JSONL (atomically, so a second run never reads half a file)."""
    from editsearch.core.files import write_atomic

    return write_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def _show(outcome: QueryOutcome) -> list[SearchResult]:
    """Print a query's results, and the weak-match note when its best result is a weak match; its results."""
    rows = [(r.rank, r.score, r.id, r.metadata.get("family", ""), r.instruction or "") for r in outcome.results]
    click.echo(format_table(["rank", "score", "id", "family", "instruction"], rows))
    if outcome.weak_match:
        click.echo(weak_note(outcome))
    return outcome.results
