"""What an audit knows about the live edits while its checks run (shared by the checks' runner and the table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from editsearch.audit.instructions import InstructionScorer
from editsearch.audit.signatures import SignatureTable


@dataclass
class AuditState:
    """Everything known about the live edits while the checks run, one array entry per edit (by position)."""

    rows: list[tuple[Any, ...]]
    generation: int = 0  # the catalog generation the rows were read at
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    signatures: SignatureTable = field(default_factory=lambda: SignatureTable.empty(0))
    errors: dict[int, str] = field(default_factory=dict)  # position -> why its images could not be read
    notes: list[str] = field(default_factory=list)
    suggested: list[str | None] = field(default_factory=list)
    z_forward: np.ndarray | None = None
    neighbours: np.ndarray | None = None  # [N, NEIGHBOURS] positions of each edit's nearest pair vectors, -1: none
    scorer: InstructionScorer | None = None  # the index's instruction vectors (None: fewer than two)

    def column(self, n: int) -> list[Any]:
        """Column n of the edit rows (0 id, 1 vector id, 2 before, 3 after, 4 instruction, 5 source, 6 origin)."""
        return [r[n] for r in self.rows]
