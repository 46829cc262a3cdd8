"""Problems: the flagged edits of an audit (`editsearch audit --out OUT`, served with `serve --audit OUT`)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from editsearch.audit.checks import registry
from editsearch.serve.deps import EngineDep, SettingsDep
from editsearch.serve.shapes import public_name, urls

router = APIRouter(tags=["audit"])
Check = Literal[registry.NAMES]  # type: ignore[valid-type]  # the registry's checks, whatever they are
ROW_KEYS = ("id", "instruction", "source", "duplicate_of", "suggested_instruction")


@router.get("/api/audit", responses={409: {"description": "The audit folder cannot be served (the reason says why)"}})
def audit(
    engine: EngineDep,
    settings: SettingsDep,
    check: Annotated[Check | None, Query(description="One check's flagged edits; none: every check's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Flagged edits per check, worst first.")] = 100,
) -> dict[str, Any]:
    """The audit's counts, thresholds and reliability, and each check's flagged live edits, worst first, with image
    URLs.

    `checks` gives each check's summary (scored, flagged, reliable, reliability, why, threshold) and what a flag
    of it means (`explains`); a check that is not reliable on the collection flags nothing unless its threshold was
    given. Each flagged edit's `shows` lists what its card says beyond the score. `live_flagged` counts each
    check's flagged edits still in the index; `stale` is true (and `stale_note` says why) when the index changed
    since the audit. A 409 when the audit folder cannot be served: incomplete, damaged, or an audit of another
    index.
    """
    from editsearch.audit.files import flagged
    from editsearch.audit.identity import AuditFolderError

    try:
        rows, summary, stale = engine.audit(settings.audit_dir)
    except AuditFolderError as e:
        raise HTTPException(409, f"The Problems view is off: {e}") from None
    checks = [check] if check else [c for c in registry.NAMES if c in summary["checks"]]
    hits = {c: flagged(rows, c) for c in checks}
    return {
        "checks": {c: _check_json(c, summary["checks"].get(c)) for c in checks},
        "edits": summary["edits"],
        "flagged_any": summary["flagged_any"],
        "notes": summary["notes"],
        "stale": stale is not None,
        "stale_note": stale,
        "live_flagged": {c: len(hits[c]) for c in checks},
        "flagged": {c: [problem_json(r, c) for r in hits[c][:limit]] for c in checks},
    }


def _check_json(check: str, info: dict[str, Any] | None) -> dict[str, Any] | None:
    """One check's summary with what a flag of it means (None where the audit did not run it)."""
    return None if info is None else {**info, "explains": registry.get(check).explains}


def problem_json(row: dict[str, Any], check: str) -> dict[str, Any]:
    """One flagged edit: its id, instruction, file names, the check's score, the kept duplicate, what its card
    shows beyond the score, the URLs."""
    out = {key: row.get(key) for key in ROW_KEYS}
    out["shows"] = registry.get(check).card(row)
    out.update(check=check, score=row.get(f"{check}_score"), before=public_name(row.get("before")))
    out.update(after=public_name(row.get("after")), urls=urls(row["id"]))
    out["metadata"] = json.loads(row["metadata"]) if isinstance(row.get("metadata"), str) else row.get("metadata")
    return out
