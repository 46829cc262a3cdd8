"""What an audit knows about the live edits while its checks run (shared by the runner, the checks and the table)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.audit.instructions import InstructionScorer
from editsearch.audit.neighbours import PositionMap
from editsearch.audit.peers import InstructionPeers
from editsearch.pairs.signatures import SignatureTable

if TYPE_CHECKING:
    from editsearch.index.store import EditIndex


@dataclass
class Edits:
    """The audited live edits as columns, one entry per edit (its position), by id."""

    id: list[int] = field(default_factory=list)
    vector_id: list[int] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    instruction: list[str | None] = field(default_factory=list)
    source: list[str | None] = field(default_factory=list)
    origin: list[str | None] = field(default_factory=list)
    before_size: list[int | None] = field(default_factory=list)
    after_size: list[int | None] = field(default_factory=list)
    metadata: list[str | None] = field(default_factory=list)  # JSON

    @classmethod
    def read(cls, index: EditIndex) -> Edits:
        """Every live edit of the index's model, by id."""
        names = [f.name for f in fields(cls)]
        rows = index.catalog.live_edit_rows(tuple(names))
        return cls(*(list(column) for column in zip(*rows, strict=True))) if rows else cls()

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class AuditState:
    """Everything known about the live edits while the checks run, one array entry per edit (by position)."""

    edits: Edits
    index: EditIndex | None = None  # the index audited (None: the edits alone, as in tests of the table)
    generation: int = 0  # the catalog generation the edits were read at
    signatures: SignatureTable = field(default_factory=lambda: SignatureTable.empty(0))
    errors: dict[int, str] = field(default_factory=dict)  # position -> why its images could not be read
    notes: list[str] = field(default_factory=list)
    suggested: list[str | None] = field(default_factory=list)
    scorer: InstructionScorer | None = None  # the index's instruction vectors (None: fewer than two)
    own: np.ndarray | None = None  # each edit's row in scorer's matrix, -1: none
    z_forward: np.ndarray | None = None  # z of each edit's own instruction (EC2T), NaN where none
    z_backward: np.ndarray | None = None  # ... of the pair read backwards (after -> before)
    peers: InstructionPeers | None = None  # the instruction peers, settled (None: not gathered)
    neighbours: np.ndarray | None = None  # [N, PAIR_NEIGHBOURS] positions of each edit's nearest pair vectors, -1: none
    where: PositionMap | None = None  # vector id -> position
    kept: np.ndarray | None = None  # the position each duplicate's group keeps, -1: none (the duplicate check's)
    extra: dict[str, Any] = field(default_factory=dict)  # what one check keeps between its steps, by check name

    def vector_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(positions, float32 vectors [n, dim]) of the audited edits, chunk by chunk from the catalog."""
        index, where = self.index, self.where
        assert index is not None and where is not None and index.model_info is not None
        dim = index.model_info["dim"]
        for chunk in index.catalog.iter_live_vectors(index.model_info["fingerprint"]):
            pos = where(np.asarray([vid for vid, _ in chunk], dtype=np.int64))
            mat = np.frombuffer(b"".join(b for _, b in chunk), dtype=np.float32).reshape(len(chunk), dim)
            known = pos >= 0  # a vector of an edit made live since the audit listed them is left out
            yield (pos, mat) if known.all() else (pos[known], mat[known])
