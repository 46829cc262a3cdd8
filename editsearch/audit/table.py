"""The audit's table (pyarrow, one row per live edit) and its summary (counts, thresholds, leaking groups)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.checks import CHECKS
from editsearch.audit.identity import index_record
from editsearch.audit.state import AuditState
from editsearch.audit.thresholds import Threshold

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex

SUMMARY_KEY = b"editsearch.audit"  # the table's schema metadata key holding the summary JSON


def build_table(
    state: AuditState,
    names: list[str],
    cut: dict[str, Threshold],
    flags: dict[str, np.ndarray],
    kept: np.ndarray,
    index: EditIndex,
) -> tuple[Any, dict[str, Any]]:
    """(table, summary); the summary is also the table's schema metadata, under SUMMARY_KEY."""
    import pyarrow as pa

    ids = state.column(0)
    columns: dict[str, Any] = {
        "id": pa.array(ids, pa.int64()),
        "before": pa.array(state.column(2), pa.string()),
        "after": pa.array(state.column(3), pa.string()),
        "instruction": pa.array(state.column(4), pa.string()),
        "source": pa.array(state.column(5), pa.string()),
        "origin": pa.array(state.column(6), pa.string()),
        "metadata": pa.array(state.column(9), pa.string()),
    }
    for c in CHECKS:
        scores = state.scores[c]
        run = c in names
        columns[f"{c}_score"] = pa.array([float(s) if run and np.isfinite(s) else None for s in scores], pa.float64())
        columns[f"is_{c}"] = pa.array(
            [bool(flags[c][i]) if run and np.isfinite(scores[i]) else None for i in range(len(ids))], pa.bool_()
        )
    columns["duplicate_of"] = pa.array([ids[k] if k >= 0 else None for k in kept], pa.int64())
    columns["suggested_instruction"] = pa.array(state.suggested, pa.string())
    columns["error"] = pa.array([state.errors.get(i) for i in range(len(ids))], pa.string())
    summary = _summary(state, names, cut, flags, kept, index)
    table = pa.table(columns).replace_schema_metadata({SUMMARY_KEY: json.dumps(summary, allow_nan=False)})
    return table, summary


def _summary(
    state: AuditState,
    names: list[str],
    cut: dict[str, Threshold],
    flags: dict[str, np.ndarray],
    kept: np.ndarray,
    index: EditIndex,
) -> dict[str, Any]:
    """Counts and thresholds per check, duplicate groups (those that cross sources named), failures and notes.

    `audit_id` names this audit (its table holds the same summary), and the index it was taken of is recorded
    with its identity, generation and model (see identity.py).
    """
    ids = state.column(0)
    checks = {}
    for c in names:
        scored = np.isfinite(state.scores[c])
        checks[c] = {"scored": int(scored.sum()), "flagged": int(flags[c].sum()), "threshold": cut[c].as_dict()}
    groups: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(kept):
        if k >= 0:
            groups[int(k)].append(i)
    listed = []
    for k, members in sorted(groups.items()):
        positions = [k, *members]
        origins = sorted({state.rows[p][6] for p in positions})
        listed.append({"kept": ids[k], "duplicates": [ids[p] for p in members], "origins": origins})
    any_flag = np.zeros(len(ids), dtype=bool)
    for c in names:
        any_flag |= flags[c]
    return {
        "audit_id": uuid.uuid4().hex,
        **index_record(index, state.generation),
        "edits": len(ids),
        "checks": checks,
        "flagged_any": int(any_flag.sum()),
        "clean": int((~any_flag).sum()) - sum(1 for p in state.errors if not any_flag[p]),
        "duplicate_groups": len(listed),
        "cross_source_groups": [g for g in listed if len(g["origins"]) > 1],
        "failed": [{"id": ids[p], "reason": r} for p, r in sorted(state.errors.items())],
        "notes": state.notes,
    }
