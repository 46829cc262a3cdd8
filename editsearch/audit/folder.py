"""Reading an audit folder back: only a complete, well-formed one, whose summary.json is the one written with its table.

`editsearch audit` writes audit.parquet first and summary.json last; the summary names the table by the audit's
`audit_id`, which the table also holds in its schema metadata. A folder whose summary names another table (an
audit stopped while writing), or whose files are not what an audit writes, is refused with AuditFolderError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from editsearch.audit.checks.registry import NAMES
from editsearch.audit.identity import AuditFolderError
from editsearch.audit.table import SUMMARY_KEY

RERUN = "run `editsearch audit --index DIR --out OUT` again"
STRING_COLUMNS = ("before", "after", "instruction", "source", "origin", "metadata", "suggested_instruction", "error")
# summary.json's keys a reader relies on, with the types their values must have
SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "audit_id": (str,),
    "index": (str,),
    "index_identity": (dict,),
    "generation": (int,),
    "model": (str, type(None)),
    "edits": (int,),
    "checks": (dict,),
    "flagged_any": (int,),
    "duplicate_groups": (int,),
    "cross_source_groups": (list,),
    "failed": (list,),
    "notes": (list,),
}


def read_outputs(out: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of OUT/audit.parquet and OUT/summary.json as `editsearch audit` wrote them (AuditFolderError if not)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    try:
        text = (out / "summary.json").read_text(encoding="utf-8")
        parquet = pq.ParquetFile(out / "audit.parquet")
    except (OSError, UnicodeDecodeError, pa.ArrowException) as e:
        raise AuditFolderError(f"no readable audit in {out} ({_why(e)}): run `editsearch audit --out {out}`") from None
    summary = check_summary(text, out)
    written = _table_summary(parquet.schema_arrow.metadata)
    if written.get("audit_id") != summary["audit_id"]:
        raise AuditFolderError(
            f"the audit in {out} is incomplete: its summary.json is not the one written with its audit.parquet "
            f"(an audit stopped while writing them); {RERUN}"
        )
    check_columns(parquet.schema_arrow, summary, out)
    try:
        table = parquet.read()
    except (OSError, pa.ArrowException) as e:
        raise AuditFolderError(f"{out / 'audit.parquet'} cannot be read ({_why(e)}); {RERUN}") from None
    if table.column("id").null_count:
        raise AuditFolderError(f"{out / 'audit.parquet'} has rows without an id; {RERUN}")
    return table.to_pylist(), summary


def check_summary(text: str, out: Path) -> dict[str, Any]:
    """summary.json's content, refused (AuditFolderError) unless it holds every key a reader uses, of its type."""
    try:
        summary = json.loads(text)
    except ValueError:
        summary = None
    problem = _summary_problem(summary)
    if problem:
        raise AuditFolderError(f"{out / 'summary.json'} is not an audit's summary ({problem}); {RERUN}")
    return summary  # type: ignore[return-value]


def _summary_problem(summary: Any) -> str | None:
    """What is wrong with a parsed summary.json, or None."""
    if not isinstance(summary, dict):
        return f"a JSON {type(summary).__name__}, not an object" if summary is not None else "not JSON"
    for key, types in SUMMARY_TYPES.items():
        if not _typed(summary.get(key, ...), types):
            return f"{key!r} is missing or not a {' or '.join(t.__name__ for t in types)}"
    identity = summary["index_identity"]
    if not all(_typed(identity.get(k, ...), (str, type(None))) for k in ("created", "first_edit")):
        return "'index_identity' lacks 'created' or 'first_edit'"
    for check, info in summary["checks"].items():
        if check not in NAMES or not isinstance(info, dict) or not isinstance(info.get("threshold"), dict):
            return f"check {check!r} is unknown or has no threshold"
        threshold = info["threshold"]
        if not (_typed(info.get("scored"), (int,)) and _typed(info.get("flagged"), (int,))):
            return f"check {check!r} lacks its counts"
        if not (_typed(threshold.get("value"), (int, float, type(None))) and isinstance(threshold.get("how"), str)):
            return f"check {check!r} has no threshold value and explanation"
        if not _reliability_typed(info):
            return f"check {check!r} has a reliability that is not a flag, a number and a reason"
    if not all(isinstance(note, str) for note in summary["notes"]):
        return "'notes' holds a non-text note"
    return None


def _reliability_typed(info: dict[str, Any]) -> bool:
    """Whether a check's reliability fields, where the audit wrote them (an older one did not), have their types."""
    if "reliable" not in info:
        return True
    return (
        isinstance(info["reliable"], bool)
        and _typed(info.get("reliability"), (int, float, type(None)))
        and isinstance(info.get("why"), str)
    )


def _typed(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, where a bool is no number."""
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def check_columns(schema: Any, summary: dict[str, Any], out: Path) -> None:
    """Refuse (AuditFolderError) a table that lacks a column the audit writes, or holds it with another type."""
    import pyarrow as pa

    wanted: dict[str, Any] = {"id": pa.types.is_integer, "duplicate_of": pa.types.is_integer}
    wanted.update({name: pa.types.is_string for name in STRING_COLUMNS})
    for check in summary["checks"]:
        wanted.update({f"{check}_score": pa.types.is_floating, f"is_{check}": pa.types.is_boolean})
    names = set(schema.names)
    for name, is_type in wanted.items():
        if name not in names or not is_type(schema.field(name).type):
            found = "is missing" if name not in names else f"is of type {schema.field(name).type}"
            table = out / "audit.parquet"
            raise AuditFolderError(f"{table} is not an audit's table (its column {name!r} {found}); {RERUN}")


def _table_summary(metadata: dict[bytes, bytes] | None) -> dict[str, Any]:
    """The summary an audit table carries in its schema metadata ({} when it has none)."""
    try:
        found = json.loads((metadata or {}).get(SUMMARY_KEY, b"{}"))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _why(e: BaseException) -> str:
    """A short reason for a failed read."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {Path(e.filename).name}" if e.filename else e.strerror
    return f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}".rstrip(": ")
