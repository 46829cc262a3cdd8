"""Index commands: build-index, query, stats, show, remove, verify (rebuild: cli/rebuild.py). Thin library wrappers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from editsearch.cli.common import (
    EDIT_ID,
    MAX_ERRORS_SHOWN,
    batch_size_option,
    echo_json,
    format_table,
    index_option,
    json_option,
    lock_timeout_option,
    model_option,
    printable,
    quiet_option,
    warn,
    warn_failures,
    warn_shortfall,
    workers_option,
)
from editsearch.cli.source_options import checked_sources, columns_option
from editsearch.core.errors import EXIT_INCONSISTENT, EXIT_PARTIAL, untrained_note
from editsearch.index.types import INDEX_TYPES
from editsearch.search.specs import RANKS

if TYPE_CHECKING:
    from editsearch.index.build import BuildReport
    from editsearch.search.api import QueryOutcome


@click.command("build-index")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from-embeddings",
    "emb_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Fill the index from `editsearch embed` shards in this folder instead of SOURCEs (no image forward).",
)
@index_option
@model_option
@batch_size_option
@click.option(
    "--index-type",
    type=click.Choice(INDEX_TYPES),
    default=None,
    help="FAISS index: auto (the default for a new index: exact flat below 100k, self-tuned pq below 2M, then "
    "ivfpq-sq8), flat, ivf, hnsw, pq or ivfpq-sq8.",
)
@click.option(
    "--target-recall",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="recall@10 against exact search that an approximate type tunes its search settings to reach "
    "(measured on its own vectors at each build; default 0.95, kept for later builds).",
)
@workers_option
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Refuse manifest image paths that resolve outside this folder (each such line fails).",
)
@columns_option
@lock_timeout_option
@quiet_option
@json_option
def build_index(
    sources: tuple[Path, ...],
    emb_dir: Path | None,
    index_dir: Path,
    model_name: str | None,
    batch_size: int,
    index_type: str | None,
    target_recall: float | None,
    workers: int | None,
    root: Path | None,
    columns_text: str | None,
    lock_timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Embed the edit pairs of SOURCE... into an index, incrementally.

    SOURCE is a manifest (.jsonl/.csv), a folder of pairs, a Hugging Face parquet or `datasets` arrow table
    (file or folder; layout detected, or named by --columns), or webdataset tars (file, folder or glob).
    Unchanged pairs (same files, sizes and mtimes) are skipped, vectors are reused by content hash,
    pairs gone from a source are removed. A pair listed twice is indexed once, as first listed, and a pair
    taken out with `editsearch remove` stays out: each such skip is named on stderr with where it came from.
    Exit code 0 when every item succeeded, 3 when some failed
    (each is reported on stderr and kept in the catalog's `errors` table; all valid ones were indexed).
    With --from-embeddings DIR the vectors come from `editsearch embed` shards (shards of another model
    than the index's are refused); a shard that did not change is skipped, a removed shard's edits go.
    New instructions are embedded by the model's text tower, as a build does (the model loads only then).
    """
    if (emb_dir is None) == (not sources):
        raise click.UsageError("give SOURCE... or --from-embeddings DIR (one of them)")
    if emb_dir is not None and (model_name is not None or workers is not None):
        raise click.UsageError("--from-embeddings takes the model from the shards: no --model or --workers")
    if emb_dir is not None and columns_text is not None:
        raise click.UsageError("--columns names the columns of SOURCEs; --from-embeddings reads none")
    from editsearch.index.store import EditIndex
    from editsearch.search.weak_match import refresh_statistics

    paths, columns = checked_sources(sources, columns_text)

    with EditIndex.open(index_dir, create=True, lock_timeout=lock_timeout) as index:
        if target_recall is not None:
            index.set_target_recall(target_recall)
        if emb_dir is not None:
            if index_type is not None:
                index.set_index_type(index_type)
            report = index.sync_embeddings(emb_dir, progress=not quiet)
            refresh_statistics(index)
            counts = index.stats()
            _report_build(report, counts, as_json)
            sys.exit(report.exit_code)
        model = index.embedder(model_name)  # the index's own model loads only if something needs embedding
        if not model.trained:
            warn(untrained_note(model.name))
        if index_type is not None:
            index.set_index_type(index_type)
        report = index.sync(
            paths, model, batch_size=batch_size, workers=workers, progress=not quiet, root=root, columns=columns
        )
        refresh_statistics(index, model)
        counts = index.stats()
    _report_build(report, counts, as_json)
    sys.exit(report.exit_code)


def _report_build(report: BuildReport, counts: dict[str, Any], as_json: bool) -> None:
    """Failed and notably skipped items on stderr, then the summary (or JSON) on stdout."""
    warn_failures(report.errors, "the `errors` table of the catalog")
    for _origin, item, reason in report.skips[:MAX_ERRORS_SHOWN]:
        warn(f"skipped: {item}: {reason}")
    if len(report.skips) > MAX_ERRORS_SHOWN:
        warn(f"... and {len(report.skips) - MAX_ERRORS_SHOWN} more skipped (all under `skips` with --json)")
    warn_shortfall(counts)
    if as_json:
        echo_json({**report.as_dict(), "index": counts})
    else:
        click.echo(report.summary())
        click.echo(f"index {counts['path']}: {counts['edits']} edits, model {counts['model']}")


@click.command()
@index_option
@click.option("--text", "texts", multiple=True, help="Text query (EC2T). Repeat to combine.")
@click.option("--before", type=click.Path(dir_okay=False), help="Exemplar pair's before image (EC2EC).")
@click.option("--after", type=click.Path(dir_okay=False), help="Exemplar pair's after image (EC2EC).")
@click.option("--edit-id", "edit_ids", type=EDIT_ID, multiple=True, help="Find edits like this indexed edit.")
@click.option("--not-text", "not_texts", multiple=True, help="Text to steer away from (subtracted).")
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL file, one query per line: {text} | {before, after} | {edit_id}; paths relative to it.",
)
@click.option("--k", "-k", type=click.IntRange(1), default=10, show_default=True, help="Results per query.")
@click.option("--where", help="SQL condition on the catalog's edits columns, e.g. \"source = 'ip2p'\".")
@click.option("--contains", help="Full-text match on instructions, e.g. watercolor.")
@click.option(
    "--meta",
    "facets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Metadata facet: edits whose metadata KEY equals VALUE (bound, not SQL); repeat to combine.",
)
@click.option(
    "--rank",
    type=click.Choice(RANKS),
    default="hybrid",
    show_default=True,
    help="How text queries rank: the pair (EC2T), the stored instruction, or both fused (pair alone where "
    "an edit has no instruction).",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML gallery of the results.",
)
@model_option
@json_option
def query(
    index_dir: Path,
    texts: tuple[str, ...],
    before: str | None,
    after: str | None,
    edit_ids: tuple[int, ...],
    not_texts: tuple[str, ...],
    queries: Path | None,
    k: int,
    where: str | None,
    contains: str | None,
    facets: tuple[str, ...],
    rank: str,
    html_out: Path | None,
    model_name: str | None,
    as_json: bool,
) -> None:
    """Search an index by text, exemplar pair or edit id (terms combine; scores are cosines).

    JSON output: {"query": {...}, "results": [{"rank", "id", "score", "instruction", "before", "after",
    "metadata", "scores"}]} ("scores": {"pair", "instruction"} for text queries, else null); with
    --queries, one such object per input line, in order (a failed line gets an "error" and no results,
    and the exit code is 3).
    """
    if (before is None) != (after is None):
        raise click.UsageError("--before and --after go together")
    single = bool(texts or before or edit_ids)
    if queries is not None and (single or not_texts):
        raise click.UsageError("--queries cannot be combined with --text/--before/--after/--edit-id")
    if queries is None and not single:
        raise click.UsageError("give --text, --before/--after, --edit-id, or --queries FILE.jsonl")
    from editsearch.index.catalog.filters import parse_facets
    from editsearch.search.api import EditSearch
    from editsearch.search.specs import read_queries

    filters = {"where": where, "contains": contains, "meta": parse_facets(facets) or None}
    with EditSearch.open(index_dir, model=model_name) as searcher:
        if not searcher.embedder.trained:
            warn(untrained_note(searcher.embedder.name, "its rankings are noise"))
        searcher.index.catalog.check_filter(**filters)  # a bad --where is a usage error, before any query
        if queries is not None:
            outcomes = searcher.run_batch(read_queries(queries), k, base=queries.parent, rank=rank, **filters)
        else:
            positive = [*texts, *([(before, after)] if before else []), *edit_ids]
            spec = _single_spec(texts, before, after, edit_ids, not_texts, k, filters)
            outcomes = [searcher.query(positive, not_texts, k=k, rank=rank, echo=spec, **filters)]
    for outcome in outcomes:
        if as_json:
            echo_json(outcome.to_dict())
        else:
            _print_results(outcome)
    if html_out is not None:
        from editsearch.data.gallery import write_gallery

        warn(f"wrote {write_gallery(html_out, [(_describe(o.query), o.results) for o in outcomes])}")
    if any(o.error is not None for o in outcomes):
        sys.exit(EXIT_PARTIAL)


def _single_spec(
    texts: tuple[str, ...],
    before: str | None,
    after: str | None,
    edit_ids: tuple[int, ...],
    not_texts: tuple[str, ...],
    k: int,
    filters: dict[str, Any],
) -> dict[str, Any]:
    """The query of the command line as `--json` echoes it: the spec form of `--queries` lines."""
    spec: dict[str, Any] = {}
    if texts:
        spec["text"] = texts[0] if len(texts) == 1 else list(texts)
    if before:
        spec.update(before=before, after=after)
    if edit_ids:
        spec["edit_id"] = edit_ids[0] if len(edit_ids) == 1 else list(edit_ids)
    if not_texts:
        spec["not_text"] = list(not_texts)
    spec["k"] = k
    spec.update({name: value for name, value in filters.items() if value})
    return spec


def _describe(query: dict[str, Any]) -> str:
    """A one-line description of a query, naming its metric."""
    from editsearch.search.specs import spec_values

    parts = []
    if "text" in query:
        parts.append(f"text {query['text']!r}")
    if "before" in query:
        parts.append(f"pair {query['before']} → {query['after']}")
    if "edit_id" in query:
        parts.append(f"like edit {query['edit_id']}")
    if "not_text" in query:
        parts.append(f"not {query['not_text']!r}")
    n_terms = sum(len(spec_values(query, key)) for key in ("text", "edit_id", "not_text")) + ("before" in query)
    metric = "combined" if n_terms != 1 else ("EC2T" if "text" in query else "EC2EC")
    filters = "".join(f", {key} {query[key]!r}" for key in ("where", "contains", "meta", "rank") if key in query)
    return f"{metric} query: {'; '.join(parts) or '?'}{filters}"


def _print_results(outcome: QueryOutcome) -> None:
    click.echo(printable(_describe(outcome.query)))
    if outcome.error is not None:
        click.echo(f"  error: {printable(outcome.error)}")
        return
    rows = [(r.rank, r.score, r.id, r.instruction or "", _short(r.before), _short(r.after)) for r in outcome.results]
    click.echo(format_table(["rank", "score", "id", "instruction", "before", "after"], rows) if rows else "  (none)")
    if outcome.weak_match:
        click.echo(weak_note(outcome))
    click.echo()


def weak_note(outcome: QueryOutcome) -> str:
    """The line that says a query's best result is a weak match, and against what (editsearch.search.weak_match)."""
    scores = f"(best {outcome.results[0].score:.3f} <= reference {outcome.weak_reference:.3f})"
    if "before" in outcome.query or "edit_id" in outcome.query:
        return (
            f"  weak match: nothing here is much like this edit; nearly every edit here is closer to another {scores}"
        )
    return f"  weak match: nothing here fits better than instructions that fit none of this collection do {scores}"


def _short(locator: str) -> str:
    """A locator relative to the working directory when it lies below it."""
    try:
        return os.path.relpath(locator) if locator.startswith(os.getcwd() + os.sep) else locator
    except ValueError:
        return locator


@click.command()
@index_option
@json_option
def stats(index_dir: Path, as_json: bool) -> None:
    """Summarise an index: edits, vectors, model, FAISS type, tombstones, last build's errors."""
    from editsearch.index.store import EditIndex

    with EditIndex.open(index_dir) as index:
        info = index.stats()
    if as_json:
        echo_json(info)
    else:
        _print_fields(info)


@click.command()
@click.argument("edit_id", type=EDIT_ID)
@index_option
@json_option
def show(edit_id: int, index_dir: Path, as_json: bool) -> None:
    """Show everything the catalog knows about one edit."""
    from editsearch.index.store import EditIndex

    with EditIndex.open(index_dir) as index:
        row = dict(index.get_edit(edit_id))
    if as_json:
        echo_json(row)
    else:
        _print_fields(row)


def _print_fields(fields: dict[str, Any]) -> None:
    """`key  value` lines, keys aligned; dicts and lists as JSON, control characters escaped."""
    width = max(len(key) for key in fields)
    for key, value in fields.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        click.echo(printable(f"{key.ljust(width)}  {shown}"))


@click.command()
@click.argument("edit_ids", nargs=-1, required=True, type=EDIT_ID)
@index_option
@lock_timeout_option
@json_option
def remove(edit_ids: tuple[int, ...], index_dir: Path, lock_timeout: float, as_json: bool) -> None:
    """Remove edits by id. They stay removed even if a later build-index sees them again.

    Exit code 3 when some ids were unknown (or already removed).
    """
    from editsearch.index.store import EditIndex
    from editsearch.search.weak_match import refresh_statistics

    with EditIndex.open(index_dir, writable=True, lock_timeout=lock_timeout) as index:
        live = index.catalog.existing_ids(edit_ids)
        index.remove(sorted(live))
        refresh_statistics(index)
    unknown = [i for i in dict.fromkeys(edit_ids) if i not in live]
    if as_json:
        echo_json({"removed": sorted(live), "unknown": unknown})
    else:
        click.echo(f"removed {len(live)} edit(s)")
    for i in unknown:
        warn(f"no live edit with id {i}")
    if unknown:
        sys.exit(EXIT_PARTIAL)


@click.command()
@index_option
@json_option
def verify(index_dir: Path, as_json: bool) -> None:
    """Check the catalog and that the FAISS file holds exactly its live vectors (exit 4 if not).

    Each problem says what to do: `editsearch rebuild` for the FAISS cache; for a damaged catalog,
    restore it from a backup or build the index again from its sources. While another process builds,
    only the catalog is checked, and the last line says so.
    """
    from editsearch.index.store import EditIndex

    report = EditIndex.verify_at(index_dir)
    if as_json:
        echo_json(
            {
                "ok": report.ok,
                "build_running": report.build_running,
                "problems": report.problems,
                "notes": report.notes,
                **report.numbers,
            }
        )
    else:
        for key, value in report.numbers.items():
            click.echo(f"{key}: {value}")
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        click.echo("inconsistent" if not report.ok else "a build is running" if report.build_running else "ok")
    if not report.ok:
        sys.exit(EXIT_INCONSISTENT)
