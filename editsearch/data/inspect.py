"""What a source is, as `editsearch data inspect` shows it: format, layout, rows, columns and their uses, samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from editsearch.data.folder import IMAGE_SUFFIXES
from editsearch.data.layouts import detect_layout, type_name
from editsearch.data.parquet import plan_for
from editsearch.data.records import EditPair, ItemError
from editsearch.data.sources import TABLES, check_source, count_source, iter_source, source_files
from editsearch.data.tables import TableFile
from editsearch.data.tar_members import member_names
from editsearch.data.webdataset import AFTER, BEFORE, TEXT_SUFFIXES, split_key

SAMPLES = 3


def inspect_source(
    path: str | Path, columns: Mapping[str, str] | None = None, samples: int = SAMPLES
) -> dict[str, Any]:
    """{source, format, files, layout, card, rows, columns: [{name, type, use}], samples: [...]}.

    Raises (DataError, UsageError, FileNotFoundError) for a source that cannot be read at all, saying why.
    """
    kind = check_source(path, columns)
    files = source_files(path)
    info: dict[str, Any] = {"source": str(Path(path).expanduser().resolve()), "format": kind, "files": len(files)}
    info.update(layout=None, card=None, rows=count_source(path, columns), columns=[])
    if kind in TABLES:
        info.update(_table_info(files, columns))
    elif kind == "webdataset":
        info["columns"] = _tar_columns(files[0])
    items = islice(iter_source(path, columns=columns), samples)
    info["samples"] = [_sample(item) for item in items]
    return info


def _table_info(files: list[Path], columns: Mapping[str, str] | None) -> dict[str, Any]:
    """Layout, rows and column uses of a table source (its first usable file's schema; rows of all usable files)."""
    rows, first = 0, None
    for file in files:
        try:
            table = TableFile(file)
            layout = detect_layout(table.schema, columns)
        except Exception:  # noqa: BLE001 - an unusable file yields one failed item; it adds no rows
            continue
        rows += table.num_rows
        first = first or (table.schema, layout)
    assert first is not None  # check_source found one
    schema, layout = first
    plan = plan_for(schema, layout)
    uses = layout.uses()
    described = []
    for f in schema:
        if f.name in uses:
            use = uses[f.name]
        elif f.name in plan.images:
            use = f"metadata '{f.name}' (its image locator, not indexed)"
        elif f.name in plan.texts:
            use = f"metadata '{f.name}'"
        else:
            use = "not read (not a scalar)"
        described.append({"name": f.name, "type": type_name(f.type), "use": use})
    return {"layout": layout.name, "card": layout.card, "rows": rows, "columns": described}


def _tar_columns(file: Path) -> list[dict[str, Any]]:
    """The member suffixes of a tar (from its headers) with how many members have each, and their use."""
    counts = Counter(split_key(name)[1] for name in member_names(str(file)))
    out = []
    for suffix, n in sorted(counts.items()):
        role = suffix.partition(".")[0]
        if "." in suffix and role in BEFORE:
            use = "before"
        elif "." in suffix and role in AFTER:
            use = "after"
        elif suffix == "json" or suffix in TEXT_SUFFIXES:
            use = "instruction" + (" and metadata" if suffix == "json" else "")
        elif Path(f"x.{suffix}").suffix in IMAGE_SUFFIXES:
            use = f"metadata '{suffix.rpartition('.')[0] or suffix}' (its image locator, not indexed)"
        else:
            use = "not read"
        out.append({"name": f"KEY.{suffix}", "type": f"{n} members", "use": use})
    return out


def _sample(item: EditPair | ItemError) -> dict[str, Any]:
    """One item as inspect shows it."""
    if isinstance(item, ItemError):
        return {"item": item.item, "error": item.reason}
    return {
        "before": item.before.locator,
        "after": item.after.locator,
        "instruction": item.instruction,
        "metadata": item.metadata,
        "source": item.source,
    }
