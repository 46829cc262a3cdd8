"""The audit's table (pyarrow, one row per live edit) and its summary (counts, reliability, thresholds, leaking
groups)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks.base import CheckResult
from editsearch.audit.checks.registry import CHECKS
from editsearch.audit.identity import index_record
from editsearch.audit.state import AuditState

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

SUMMARY_KEY = b"editsearch.audit"  # the table's schema metadata key holding the summary JSON


def build_table(state: AuditState, results: list[CheckResult], index: EditIndex) -> tuple[Any, dict[str, Any]]:
    """(table, summary); the summary is also the table's schema metadata, under SUMMARY_KEY."""
    import pyarrow as pa

    edits = state.edits
    ids = edits.id
    columns: dict[str, Any] = {"id": pa.array(ids, pa.int64())}
    for name in ("before", "after", "instruction", "source", "origin", "metadata"):
        columns[name] = pa.array(getattr(edits, name), pa.string())
    ran = {r.check.name: r for r in results}
    for check in CHECKS:
        result = ran.get(check.name)
        scores = result.scores if result is not None else np.full(len(ids), np.nan)
        scored = np.isfinite(scores)
        columns[f"{check.name}_score"] = pa.array(np.where(scored, scores, 0.0), pa.float64(), mask=~scored)
        flags = result.flags if result is not None else np.zeros(len(ids), dtype=bool)
        columns[f"is_{check.name}"] = pa.array(flags, pa.bool_(), mask=~scored)
    kept = state.kept if state.kept is not None else np.full(len(ids), -1)
    columns["duplicate_of"] = pa.array([ids[k] if k >= 0 else None for k in kept], pa.int64())
    columns["suggested_instruction"] = pa.array(state.suggested, pa.string())
    columns["error"] = pa.array([state.errors.get(i) for i in range(len(ids))], pa.string())
    summary = _summary(state, results, kept, index)
    table = pa.table(columns).replace_schema_metadata({SUMMARY_KEY: json.dumps(summary, allow_nan=False)})
    return table, summary


def _summary(state: AuditState, results: list[CheckResult], kept: np.ndarray, index: EditIndex) -> dict[str, Any]:
    """Counts, reliability and threshold per check, duplicate groups (those that cross sources named), failures
    and notes.

    `clean` counts the readable pairs that no reliable check flags (what `--write-clean` lists). `audit_id` names
    this audit (its table holds the same summary), and the index it was taken of is recorded with its identity,
    generation and model (see identity.py).
    """
    ids = state.edits.id
    checks = {}
    any_flag = np.zeros(len(ids), dtype=bool)
    trusted = np.zeros(len(ids), dtype=bool)
    for r in results:
        checks[r.check.name] = {
            "scored": int(np.isfinite(r.scores).sum()),
            "flagged": int(r.flags.sum()),
            **r.reliability.as_dict(),
            "threshold": r.threshold.as_dict(),
        }
        any_flag |= r.flags
        if r.reliability.reliable:
            trusted |= r.flags
    groups: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(kept):
        if k >= 0:
            groups[int(k)].append(i)
    listed = []
    for k, members in sorted(groups.items()):
        positions = [k, *members]
        origins = sorted({state.edits.origin[p] for p in positions})
        listed.append({"kept": ids[k], "duplicates": [ids[p] for p in members], "origins": origins})
    return {
        "audit_id": uuid.uuid4().hex,
        **index_record(index, state.generation),
        "edits": len(ids),
        "checks": checks,
        "flagged_any": int(any_flag.sum()),
        "clean": int((~trusted).sum()) - sum(1 for p in state.errors if not trusted[p]),
        "duplicate_groups": len(listed),
        "cross_source_groups": [g for g in listed if len(g["origins"]) > 1],
        "failed": [{"id": ids[p], "reason": r} for p, r in sorted(state.errors.items())],
        "notes": state.notes,
    }
