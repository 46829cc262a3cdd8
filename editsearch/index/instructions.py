"""Instruction vectors: the text tower's embedding of each distinct instruction, kept beside the pair vectors.

Keyed by (model, instruction text), not by edit: edits sharing an instruction share one vector, and an edit
whose instruction changes simply finds no vector for its new text until the next build embeds it. Rows are
never updated, so a killed build keeps every committed batch and the next build embeds only what is missing.
Ranking reads them through their own FAISS cache (editsearch.index.instruction_index), at any count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.index.catalog import chunks, now, vector_crc

if TYPE_CHECKING:
    from editsearch.encoder.identity import ModelRow
    from editsearch.index.catalog import Catalog

INSTRUCTION_BATCH = 256  # instructions embedded and committed per transaction


def missing_instructions(catalog: Catalog, model: str) -> list[str]:
    """Distinct instructions of live edits with no vector for `model` yet, in a stable order."""
    cur = catalog.conn.execute(
        "SELECT DISTINCT e.instruction FROM edits e WHERE e.deleted = 0 AND e.instruction IS NOT NULL "
        "AND trim(e.instruction) != '' AND NOT EXISTS (SELECT 1 FROM instruction_vectors iv "
        "WHERE iv.model = ? AND iv.instruction = e.instruction) ORDER BY e.instruction",
        [model],
    )
    return [r[0] for r in cur]


def save_instruction_vectors(catalog: Catalog, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Store one float32 vector per instruction text, in one transaction."""
    stamp = now()
    rows = []
    for text, vec in zip(texts, np.asarray(vectors, dtype=np.float32), strict=True):
        blob = vec.tobytes()
        rows.append((model, text, blob, vector_crc(blob), stamp))
    with catalog.db.atomic():
        catalog.conn.executemany(
            "INSERT OR IGNORE INTO instruction_vectors (model, instruction, vector, crc, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )


def embed_missing(catalog: Catalog, model: Any, batch: int = INSTRUCTION_BATCH) -> int:
    """Embed by `model`'s text tower the instructions with no vector yet, committing each batch; returns how many.

    The build and `build-index --from-embeddings` both fill the table this way. `model` needs a
    `fingerprint` and `embed_texts`; the latter is called only when something is missing, so a deferred
    model (the index's own, loaded on first use) is never loaded for an index that lacks nothing.
    """
    texts = missing_instructions(catalog, model.fingerprint)
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        save_instruction_vectors(catalog, model.fingerprint, chunk, model.embed_texts(chunk).numpy())
    return len(texts)


def vector_ids_for_texts(catalog: Catalog, model: str, texts: Sequence[str], limit: int) -> list[int]:
    """Vector ids of live edits whose instruction is one of `texts` (at most `limit`)."""
    found: list[int] = []
    for chunk in chunks(list(texts)):
        marks = ",".join("?" * len(chunk))
        cur = catalog.conn.execute(
            f"SELECT v.id FROM vectors v JOIN edits e ON e.id = v.edit_id "
            f"WHERE e.deleted = 0 AND v.model = ? AND e.instruction IN ({marks}) ORDER BY v.id LIMIT ?",
            [model, *chunk, limit - len(found)],
        )
        found.extend(r[0] for r in cur)
        if len(found) >= limit:
            break
    return found


def instruction_vectors(catalog: Catalog, model: ModelRow) -> tuple[list[str], np.ndarray]:
    """Every distinct instruction of `model` and its text-tower vector [N, D], in full."""
    dim = model["dim"]
    rows = catalog.conn.execute(  # a damaged row (another size) is left out; `verify` names it
        "SELECT instruction, vector FROM instruction_vectors WHERE model = ? AND length(vector) = ? ORDER BY id",
        [model["fingerprint"], 4 * dim],
    ).fetchall()
    matrix = np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), dim)
    return [t for t, _ in rows], matrix
