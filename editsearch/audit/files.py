"""What `editsearch audit` writes: audit.parquet, summary.json, report.html, and a clean manifest."""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import Any

from editsearch.audit.checks import registry
from editsearch.core.errors import UsageError
from editsearch.core.files import atomic_path, write_atomic
from editsearch.media.locators import is_locator

REPORT_LIMIT = 200  # flagged edits shown per check in report.html, worst first (the parquet has them all)


def prepare_out(out: str | Path) -> Path:
    """Create the output folder; UsageError when it is a file or cannot be created or written."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()  # a nameless (or unique, exclusive) probe: never a planted name
    except OSError as e:
        raise UsageError(f"cannot write the audit to {out}: {e.strerror or e}") from None
    return out


def write_outputs(table: Any, summary: dict[str, Any], out: Path, thumb: int = 96) -> dict[str, Path]:
    """Write audit.parquet, report.html and, last, summary.json under `out`; returns their paths.

    Each file goes through an exclusive temp file renamed into place. summary.json, written last, names the
    table by its `audit_id`: until it is written a reader refuses the folder (see folder.py).
    """
    import pyarrow.parquet as pq

    paths = {"table": out / "audit.parquet", "summary": out / "summary.json", "report": out / "report.html"}
    with atomic_path(paths["table"]) as tmp:
        pq.write_table(table, tmp)
    write_atomic(paths["report"], report_html(table.to_pylist(), summary, thumb))
    write_atomic(paths["summary"], json.dumps(summary, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    return paths


def flagged(rows: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    """The rows flagged by one check, worst (highest score) first."""
    hits = [r for r in rows if r.get(f"is_{check}")]
    return sorted(hits, key=lambda r: (-(r[f"{check}_score"] or 0.0), r["id"]))


def report_html(rows: list[dict[str, Any]], summary: dict[str, Any], thumb: int) -> str:
    """One self-contained page: per check, its threshold and the flagged edits with thumbnails, worst first."""
    from editsearch.data.gallery import PAGE

    sections = [f"<p>{html.escape(_headline(summary))}</p>"]
    for note in summary.get("notes", []):
        sections.append(f"<p><em>{html.escape(note)}</em></p>")
    for check, info in summary["checks"].items():
        hits = flagged(rows, check)
        threshold = info["threshold"]
        value = "none" if threshold["value"] is None else f"{threshold['value']:.4g}"
        head = f"{check}: {info['flagged']} flagged of {info['scored']} scored ({registry.get(check).explains})"
        cards = "".join(_card(r, check, thumb) for r in hits[:REPORT_LIMIT]) or "<p>Nothing flagged.</p>"
        more = f"<p>... and {len(hits) - REPORT_LIMIT} more in audit.parquet</p>" if len(hits) > REPORT_LIMIT else ""
        sections.append(
            f"<h2>{html.escape(head)}</h2>{_reliability(info)}<p class='meta'>threshold {html.escape(value)}: "
            f"{html.escape(threshold['how'])}</p><div class='grid'>{cards}</div>{more}"
        )
    failed = summary.get("failed", [])
    if failed:
        items = "".join(f"<li>id {f['id']}: {html.escape(f['reason'])}</li>" for f in failed[:REPORT_LIMIT])
        sections.append(f"<h2>Pairs whose images could not be read ({len(failed)})</h2><ul>{items}</ul>")
    return PAGE.format(title="editsearch audit", sections="\n".join(sections), thumb=thumb, card=2 * thumb + 40)


def _headline(summary: dict[str, Any]) -> str:
    return (
        f"{summary['edits']} edits audited in {summary['index']}: {summary['flagged_any']} flagged, "
        f"{summary['duplicate_groups']} duplicate groups ({len(summary['cross_source_groups'])} across sources)"
    )


def reliability_text(info: dict[str, Any]) -> str | None:
    """One check's reliability on the collection in words (None for an audit that did not measure it)."""
    if "reliable" not in info:
        return None
    verdict = "Reliable on this collection" if info["reliable"] else "Not reliable on this collection"
    value = info.get("reliability")
    number = f" (reliability {value:.2f})" if isinstance(value, (int, float)) else ""
    given = str(info.get("threshold", {}).get("how", "")).startswith("given")
    flags = (
        "" if info["reliable"] else ": its flags come from the threshold given alone" if given else ": it flags nothing"
    )
    why = str(info.get("why", ""))
    return f"{verdict}{number}{flags}. {why[:1].upper()}{why[1:]}."


def _reliability(info: dict[str, Any]) -> str:
    text = reliability_text(info)
    return f"<p><strong>{html.escape(text)}</strong></p>" if text else ""


def _card(row: dict[str, Any], check: str, thumb: int) -> str:
    from editsearch.data.gallery import _thumbnail

    extra = "".join(f"<div class='meta'>{html.escape(line)}</div>" for line in registry.get(check).card(row))
    return (
        "<div class='card'><div class='pair'>"
        f"{_thumbnail(row['before'], thumb)}<span class='arrow'>→</span>{_thumbnail(row['after'], thumb)}</div>"
        f"<div>id {int(row['id'])} <span class='score'>{row[f'{check}_score']:.3f}</span></div>"
        f"<div>{html.escape(row.get('instruction') or '(no instruction)')}</div>{extra}"
        f"<div class='meta'>{html.escape(row.get('source') or '')} · {html.escape(row.get('origin') or '')}</div></div>"
    )


def write_clean(table: Any, path: str | Path) -> int:
    """A manifest (absolute before/after, instruction, the edit's other keys) of the pairs no reliable check flagged.

    Returns how many pairs it lists.

    One pair of each duplicate group is kept (it is not flagged); pairs whose images could not be read are left out.
    A check that is not reliable on the collection (in the summary the table carries) never drops a pair, even
    where a threshold the user gave made it flag some.
    """
    from editsearch.audit.table import SUMMARY_KEY

    summary = json.loads((table.schema.metadata or {}).get(SUMMARY_KEY, b"{}"))
    trusted = [c for c, info in summary.get("checks", {}).items() if info.get("reliable", True)]
    path = Path(path)
    lines = []
    for row in table.to_pylist():
        if row["error"] or any(row.get(f"is_{c}") for c in trusted):
            continue
        entry: dict[str, Any] = json.loads(row["metadata"] or "{}")
        entry.update(before=_abs(row["before"]), after=_abs(row["after"]))
        if row["instruction"] is not None:
            entry["instruction"] = row["instruction"]
        lines.append(json.dumps(entry, ensure_ascii=False) + "\n")
    write_atomic(path, "".join(lines))
    return len(lines)


def _abs(locator: str) -> str:
    return locator if is_locator(locator) else str(Path(locator).resolve())
