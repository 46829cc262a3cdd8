"""Index commands: build-index, query, stats, show, remove, rebuild, verify. Thin wrappers of the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import (
    EXIT_INCONSISTENT,
    EXIT_PARTIAL,
    echo_json,
    format_table,
    index_option,
    json_option,
    library_errors,
    load_model_or_exit,
    lock_timeout_option,
    model_option,
    warn,
)

INDEX_TYPES = ("flat", "ivf", "hnsw", "pq", "auto")  # = editsearch.index.vectors.INDEX_TYPES (kept here: no numpy)
MAX_ERRORS_SHOWN = 20


@click.command("build-index")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@index_option
@model_option
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Pairs per forward.")
@click.option(
    "--index-type",
    type=click.Choice(INDEX_TYPES),
    default=None,
    help="FAISS index: exact flat (default for a new index), ivf, hnsw, pq, or auto (flat below 100k, then pq).",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Image-decoding workers (default: half the cores, ≤4, on CPU; all but one, ≤8, on GPU).",
)
@lock_timeout_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@json_option
def build_index(
    sources: tuple[Path, ...],
    index_dir: Path,
    model_name: str | None,
    batch_size: int,
    index_type: str | None,
    workers: int | None,
    lock_timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Embed the edit pairs of SOURCE... into an index, incrementally.

    SOURCE is a manifest (.jsonl/.csv), a folder of pairs, or an IP2P-layout parquet file or folder.
    Unchanged pairs (same files, sizes and mtimes) are skipped, vectors are reused by content hash,
    pairs gone from a source are removed. Exit code 0 when every item succeeded, 3 when some failed
    (each is reported on stderr and kept in the catalog's `errors` table; all valid ones were indexed).
    """
    from editsearch.index.store import EditIndex

    with library_errors(), EditIndex.open(index_dir, create=True, lock_timeout=lock_timeout) as index:
        info = index.model_info
        if model_name is None and info is not None:
            model = index.deferred_model()  # loaded only if something needs embedding
            if not info["trained"]:
                warn(f"note: model {info['name']!r} is UNTRAINED (random weights); its scores are noise.")
        else:
            model = load_model_or_exit(model_name)
            index.check_model(model.fingerprint, model.name)
        if index_type is not None:
            index.set_index_type(index_type)
        report = index.sync(list(sources), model, batch_size=batch_size, workers=workers, progress=not quiet)
        counts = index.stats()
    for _origin, item, reason in report.errors[:MAX_ERRORS_SHOWN]:
        warn(f"failed: {item}: {reason}")
    if len(report.errors) > MAX_ERRORS_SHOWN:
        warn(f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more (all in the `errors` table of the catalog)")
    if as_json:
        echo_json({**report.as_dict(), "index": counts})
    else:
        click.echo(report.summary())
        click.echo(f"index {counts['path']}: {counts['edits']} edits, model {counts['model']}")
    sys.exit(report.exit_code)


@click.command()
@index_option
@click.option("--text", "texts", multiple=True, help="Text query (EC2T). Repeat to combine.")
@click.option("--before", type=click.Path(dir_okay=False), help="Exemplar pair's before image (EC2EC).")
@click.option("--after", type=click.Path(dir_okay=False), help="Exemplar pair's after image (EC2EC).")
@click.option("--edit-id", "edit_ids", type=int, multiple=True, help="Find edits like this indexed edit.")
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
    html_out: Path | None,
    model_name: str | None,
    as_json: bool,
) -> None:
    """Search an index by text, exemplar pair or edit id (terms combine; scores are cosines).

    JSON output: {"query": {...}, "results": [{"rank", "id", "score", "instruction", "before", "after",
    "metadata"}]}; with --queries, one such object per input line, in order (a failed line gets an
    "error" and no results, and the exit code is 3).
    """
    if (before is None) != (after is None):
        raise click.UsageError("--before and --after go together")
    single = bool(texts or before or edit_ids)
    if queries is not None and (single or not_texts):
        raise click.UsageError("--queries cannot be combined with --text/--before/--after/--edit-id")
    if queries is None and not single:
        raise click.UsageError("give --text, --before/--after, --edit-id, or --queries FILE.jsonl")
    from editsearch.search import EditSearch

    with library_errors():
        searcher = EditSearch.open(index_dir, model=model_name)
    with searcher:
        info = searcher.index.model_info
        if info is not None and not info["trained"]:
            warn(f"note: model {info['name']!r} is UNTRAINED (random weights); its rankings are noise.")
        if queries is not None:
            lines = _read_queries(queries)
        else:
            spec: dict[str, Any] = {}
            if texts:
                spec["text"] = texts[0] if len(texts) == 1 else list(texts)
            if before:
                spec.update(before=before, after=after)
            if edit_ids:
                spec["edit_id"] = edit_ids[0] if len(edit_ids) == 1 else list(edit_ids)
            if not_texts:
                spec["not_text"] = list(not_texts)
            lines = [spec]
        with library_errors():
            outputs = _run_queries(searcher, lines, k, where, contains, base=queries.parent if queries else None)
    failed = 0
    for out in outputs:
        failed += "error" in out
        if as_json:
            echo_json({key: value for key, value in out.items() if key != "results_obj"})
        else:
            _print_results(out)
    if html_out is not None:
        from editsearch.cli.html import write_gallery

        sections = [(_describe(o["query"]), o["results_obj"]) for o in outputs]
        warn(f"wrote {write_gallery(html_out, sections)}")
    if failed:
        sys.exit(EXIT_PARTIAL)


def _read_queries(path: Path) -> list[dict[str, Any]]:
    """Parsed lines of a --queries file (a bad line becomes {'_error': reason})."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                lines.append({"_error": f"line {lineno}: invalid JSON: {e.msg}", "_raw": raw.strip()})
                continue
            lines.append(obj if isinstance(obj, dict) else {"_error": f"line {lineno}: not a JSON object"})
    return lines


def _run_queries(
    searcher: Any, specs: list[dict[str, Any]], k: int, where: str | None, contains: str | None, base: Path | None
) -> list[dict[str, Any]]:
    """Embed every query (texts in one batch), search in batches per (k, where, contains), keep input order."""
    import numpy as np

    from editsearch.images import ImageLoadError
    from editsearch.index.errors import EditIndexError

    valid = [s for s in specs if "_error" not in s]
    if any(key in s for s in valid for key in ("text", "before", "not_text")):
        _ = searcher.model  # load and check the model once: a wrong model fails the whole command
    texts = sorted({str(t) for s in valid for t in _terms(s, "text") + _terms(s, "not_text")})
    if texts:
        searcher.model.embed_texts(texts)  # one batched forward; later lookups hit the model's cache
    outputs: list[dict[str, Any]] = []
    groups: dict[tuple[int, str | None, str | None], list[int]] = {}
    vectors: dict[int, Any] = {}
    excludes: dict[int, set[int]] = {}
    for i, spec in enumerate(specs):
        echo = {key: v for key, v in spec.items() if not key.startswith("_")}
        outputs.append({"query": echo, "results": [], "results_obj": []})
        if "_error" in spec:
            outputs[i]["error"] = spec["_error"]
            continue
        try:
            options = (_positive_int(spec.get("k", k)), spec.get("where", where), spec.get("contains", contains))
            echo.update(k=options[0], **{n: v for n, v in zip(("where", "contains"), options[1:], strict=True) if v})
            positive, negative = _query_terms(spec, base)
            vectors[i] = searcher.query_vector(positive, negative)
            excludes[i] = {t for t in positive + negative if isinstance(t, int)}
            groups.setdefault(options, []).append(i)
        except (ValueError, TypeError, ImageLoadError, EditIndexError, OSError) as e:
            outputs[i]["error"] = str(e)
    for (gk, gwhere, gcontains), members in groups.items():
        matrix = np.stack([vectors[i] for i in members])
        try:
            found = searcher.search_vectors(matrix, gk, gwhere, gcontains, [excludes[i] for i in members])
        except EditIndexError as e:  # a bad --where/--contains: every query that used it fails
            for i in members:
                outputs[i]["error"] = str(e)
            continue
        for i, results in zip(members, found, strict=True):
            outputs[i]["results_obj"] = results
            outputs[i]["results"] = [r.to_dict() for r in results]
    return outputs


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"k must be a positive integer, got {value!r}")
    return value


def _terms(spec: dict[str, Any], key: str) -> list[Any]:
    value = spec.get(key)
    return [] if value is None else (list(value) if isinstance(value, list) else [value])


def _query_terms(spec: dict[str, Any], base: Path | None) -> tuple[list[Any], list[Any]]:
    """(positive, negative) terms of one query spec; relative image paths are taken from `base`."""
    unknown = set(spec) - {"text", "before", "after", "edit_id", "not_text", "k", "where", "contains"}
    if unknown:
        raise ValueError(f"unknown query keys: {', '.join(sorted(unknown))}")
    if ("before" in spec) != ("after" in spec):
        raise ValueError("'before' and 'after' go together")
    positive: list[Any] = [str(t) for t in _terms(spec, "text")]
    if "before" in spec:
        positive.append((_resolve(spec["before"], base), _resolve(spec["after"], base)))
    for edit_id in _terms(spec, "edit_id"):
        if not isinstance(edit_id, int) or isinstance(edit_id, bool):
            raise ValueError(f"edit_id must be an integer, got {edit_id!r}")
        positive.append(edit_id)
    if not positive:
        raise ValueError("a query needs 'text', 'before'+'after' or 'edit_id'")
    return positive, [str(t) for t in _terms(spec, "not_text")]


def _resolve(path: Any, base: Path | None) -> str:
    p = Path(str(path)).expanduser()
    return str(p if p.is_absolute() or base is None else base / p)


def _describe(query: dict[str, Any]) -> str:
    """A one-line description of a query, naming its metric."""
    parts = []
    if "text" in query:
        parts.append(f"text {query['text']!r}")
    if "before" in query:
        parts.append(f"pair {query['before']} → {query['after']}")
    if "edit_id" in query:
        parts.append(f"like edit {query['edit_id']}")
    if "not_text" in query:
        parts.append(f"not {query['not_text']!r}")
    n_terms = sum(len(_terms(query, key)) for key in ("text", "edit_id", "not_text")) + ("before" in query)
    metric = "combined" if n_terms != 1 else ("EC2T" if "text" in query else "EC2EC")
    filters = "".join(f", {key} {query[key]!r}" for key in ("where", "contains") if key in query)
    return f"{metric} query: {'; '.join(parts) or '?'}{filters}"


def _print_results(out: dict[str, Any]) -> None:
    click.echo(_describe(out["query"]))
    if "error" in out:
        click.echo(f"  error: {out['error']}")
        return
    rows = [(r.rank, r.score, r.id, r.instruction or "", _short(r.before), _short(r.after)) for r in out["results_obj"]]
    click.echo(format_table(["rank", "score", "id", "instruction", "before", "after"], rows) if rows else "  (none)")
    click.echo()


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

    with library_errors(), EditIndex.open(index_dir) as index:
        info = index.stats()
    if as_json:
        echo_json(info)
        return
    width = max(len(key) for key in info)
    for key, value in info.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else value
        click.echo(f"{key.ljust(width)}  {shown}")


@click.command()
@click.argument("edit_id", type=int)
@index_option
@json_option
def show(edit_id: int, index_dir: Path, as_json: bool) -> None:
    """Show everything the catalog knows about one edit."""
    from editsearch.index.store import EditIndex

    with library_errors(), EditIndex.open(index_dir) as index:
        row = dict(index.catalog.get_edit(edit_id))
    if as_json:
        echo_json(row)
        return
    width = max(len(key) for key in row)
    for key, value in row.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
        click.echo(f"{key.ljust(width)}  {shown}")


@click.command()
@click.argument("edit_ids", nargs=-1, required=True, type=int)
@index_option
@lock_timeout_option
@json_option
def remove(edit_ids: tuple[int, ...], index_dir: Path, lock_timeout: float, as_json: bool) -> None:
    """Remove edits by id. They stay removed even if a later build-index sees them again.

    Exit code 3 when some ids were unknown (or already removed).
    """
    from editsearch.index.store import EditIndex

    with library_errors(), EditIndex.open(index_dir, writable=True, lock_timeout=lock_timeout) as index:
        live = index.catalog.existing_ids(list(edit_ids))
        index.remove(sorted(live))
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
@click.option("--index-type", type=click.Choice(INDEX_TYPES), default=None, help="Switch to another FAISS type.")
@lock_timeout_option
@json_option
def rebuild(index_dir: Path, index_type: str | None, lock_timeout: float, as_json: bool) -> None:
    """Rebuild the FAISS index from the vectors stored in the catalog."""
    import time

    from editsearch.index.store import EditIndex

    start = time.perf_counter()
    with library_errors(), EditIndex.open(index_dir, writable=True, lock_timeout=lock_timeout) as index:
        vectors = index.rebuild(index_type)
        info = {
            "index_type": index.index_type,
            "faiss_type": vectors.kind if vectors else None,
            "vectors": vectors.ntotal if vectors else 0,
            "seconds": round(time.perf_counter() - start, 3),
        }
    if as_json:
        echo_json(info)
    else:
        click.echo(f"rebuilt {info['faiss_type'] or 'empty'} index of {info['vectors']} vectors in {info['seconds']} s")


@click.command()
@index_option
@json_option
def verify(index_dir: Path, as_json: bool) -> None:
    """Check the catalog and that the FAISS file holds exactly its live vectors (exit 4 if not)."""
    from editsearch.index.store import EditIndex

    with library_errors(), EditIndex.open(index_dir) as index:
        report = index.verify()
    if as_json:
        echo_json({"ok": report.ok, "problems": report.problems, "notes": report.notes, **report.numbers})
    else:
        for key, value in report.numbers.items():
            click.echo(f"{key}: {value}")
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        click.echo("ok" if report.ok else "inconsistent")
    if not report.ok:
        sys.exit(EXIT_INCONSISTENT)
