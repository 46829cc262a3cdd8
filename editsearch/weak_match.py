"""The weak-match cue: a query whose best result fits no better than the best result of a query that fits nothing.

Text queries. The reference queries are the shipped instructions (`vocabulary.EDIT_PHRASES` and the varied
`vocabulary.FLUENT_INSTRUCTIONS`, each a different edit) that fit none of the collection: their nearest stored
instruction (text-tower cosine) is no closer than SAME_EDIT_QUANTILE of the pairs of different shipped instructions
are to each other, and their best pair (EC2T) reads them worse than the median edit reads its own instruction (in a
collection without instructions: than the median shipped instruction's best pair does). Each is ranked as a query
(pair, instruction and hybrid alike); a text query is weak when its best score is at most what REFERENCE_QUANTILE of
them reach under its rank.

Exemplar and edit-id queries. A query pair is weak when its best match (EC2EC; an edit-id query's own edit left out)
is no closer than NEIGHBOUR_QUANTILE of the collection's edits are to their nearest other edit: an exemplar farther
from everything here than nearly every edit here is from the rest (an after = before pair, an edit of a kind the
collection lacks). The nearest other edit of a sampled edit leaves out identical vectors (the same pair indexed
twice). Neighbours carrying another instruction would not do: the same edit is worded many ways, and such
paraphrases are far apart for the text tower.

Both references, with the legibility ranking needs, are computed once per state of the catalog and kept in its
statistics record (editsearch.index.statistics): by the writer after a write (`refresh_statistics`), else by the
first reader, so a query only reads them.

The constants were chosen from principles and checked on the project's own generator (`editsearch data synth`, held
-out phrasings and pairs of present families against semantic edits, families left out and after = before pairs);
no real or held-out collection was used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np

from editsearch.embedder import Embedder, ModelLike
from editsearch.errors import EditSearchError
from editsearch.index.legibility import draw_rows
from editsearch.index.store import EditIndex
from editsearch.ranking import best_scores
from editsearch.vocabulary import EDIT_PHRASES, FLUENT_INSTRUCTIONS

log = logging.getLogger(__name__)

REFERENCE_TEXTS = tuple(dict.fromkeys(EDIT_PHRASES + FLUENT_INSTRUCTIONS))
# A reference instruction must be no closer to any stored one than 99 % of the pairs of different shipped
# instructions are to each other: only a text that is the same edit as a stored one comes closer.
SAME_EDIT_QUANTILE = 0.99
# A text query is weak at or below what nine in ten of the reference instructions reach (one in ten scores higher
# by chance: a related wording, a busy collection).
REFERENCE_QUANTILE = 0.9
# An exemplar is weak when its best match is no closer than one edit in twenty is to its nearest other edit.
NEIGHBOUR_QUANTILE = 0.05
MIN_REFERENCE = 16  # reference instructions at least (the farthest from the collection, when fewer fit nothing)
SAMPLE = 500  # edits whose nearest other edit is measured, and edits whose own instruction is read
NEIGHBOURS = 4  # nearest hits looked at per sampled edit (identical vectors are passed over)
IDENTICAL = 1 - 1e-5  # a cosine this high: the same pair (its vector reused by content hash)
KINDS = ("text", "exemplar")
RULE = hashlib.sha256(
    json.dumps(
        [REFERENCE_TEXTS, SAME_EDIT_QUANTILE, REFERENCE_QUANTILE, NEIGHBOUR_QUANTILE, MIN_REFERENCE, SAMPLE]
    ).encode()
).hexdigest()[:12]  # a stored record of another rule is computed again


def reference(index: EditIndex, embedder: Embedder, kind: str, rank: str = "hybrid") -> float | None:
    """The score a query's best result must beat not to be weak: of a text query under `rank` (kind "text") or of an
    exemplar or edit-id query (kind "exemplar"). Read from the statistics record, else computed now and kept."""
    found = current_references(index)
    if kind not in found:
        stamp = index.statistics_stamp()
        found = {**found, **(text_references(index, embedder) if kind == "text" else exemplar_references(index))}
        index.keep_statistics({"stamp": stamp, "legibility": index.legibility(), "weak_match": found})
    return found["text"][rank] if kind == "text" else found["exemplar"]


def current_references(index: EditIndex) -> dict[str, Any]:
    """The weak-match references in the record of the index's current state when they follow this RULE, else none."""
    found = (index.statistics() or {}).get("weak_match") or {}
    return found if found.get("rule") == RULE else {"rule": RULE}


def refresh_statistics(index: EditIndex, model: ModelLike | Embedder | None = None) -> None:
    """After a write: compute and store the statistics of the index's new state (nothing if already stored). The
    text reference needs the model's text tower: without it (a model that cannot load) it is left to a text query."""
    if index.model_info is None:
        return
    reference(index, index.embedder(None), "exemplar")
    try:
        reference(index, model if isinstance(model, Embedder) else index.embedder(model), "text")
    except EditSearchError as e:
        log.info("editsearch: the text weak-match reference is left to the first text query (%s)", e)


def text_references(index: EditIndex, embedder: Embedder) -> dict[str, Any]:
    """{"text": {rank: reference score}, details} from the shipped instructions that fit none of the collection."""
    vectors = np.asarray(embedder.text_vectors(list(REFERENCE_TEXTS)), dtype=np.float32)
    cross = vectors @ vectors.T
    same_edit = float(np.quantile(cross[np.triu_indices(len(vectors), 1)], SAME_EDIT_QUANTILE))
    instructions = index.instruction_matrix()
    nearest = np.full(len(vectors), -1.0)
    if instructions.vectors is not None and instructions.vectors.ntotal:
        nearest = instructions.vectors.search(vectors, 1)[0][:, 0]
    top_pair = np.array([hits[0].score if hits else -1.0 for hits in index.search(vectors, 1)])
    own = own_instruction_scores(index)
    pair_fit = float(np.median(own)) if len(own) else float(np.median(top_pair))
    excess = np.maximum(nearest - same_edit, top_pair - pair_fit)  # > 0: fits something by one measure
    chosen = np.flatnonzero(excess <= 0)
    if len(chosen) < MIN_REFERENCE:
        chosen = np.argsort(excess, kind="stable")[:MIN_REFERENCE]
    tops = [best_scores(index, v) for v in vectors[chosen]]
    text = {}
    for rank in ("pair", "instruction", "hybrid"):
        scores = [t[rank] for t in tops if t[rank] is not None]
        text[rank] = float(np.quantile(scores, REFERENCE_QUANTILE)) if scores else None
    return {"text": text, "reference_texts": len(chosen), "same_edit": same_edit, "pair_fit": pair_fit}


def own_instruction_scores(index: EditIndex, n: int = SAMPLE) -> np.ndarray:
    """EC2T of about n live edits, drawn at random, with their own instruction's vector."""
    info = index.model_info
    assert info is not None
    size = 4 * info["dim"]
    rows = draw_rows(
        index.catalog,
        "SELECT v.vector, iv.vector FROM edits e CROSS JOIN vectors v ON v.edit_id = e.id AND v.model = ? "
        "CROSS JOIN instruction_vectors iv ON iv.model = v.model AND iv.instruction = e.instruction "
        "WHERE e.deleted = 0 AND length(v.vector) = ? AND length(iv.vector) = ? AND e.id IN ({ids})",
        [info["fingerprint"], size, size],
        "edits",
        n,
    )
    return np.array([np.frombuffer(p, np.float32) @ np.frombuffer(t, np.float32) for p, t in rows])


def exemplar_references(index: EditIndex, n: int = SAMPLE) -> dict[str, Any]:
    """{"exemplar": the cosine of a sampled edit with its nearest other edit that NEIGHBOUR_QUANTILE of the edits fall
    below (None: no two edits), "neighbour_sample": how many edits it was measured on}."""
    info = index.model_info
    assert info is not None
    rows = draw_rows(
        index.catalog,
        "SELECT e.id, v.vector FROM vectors v CROSS JOIN edits e ON e.id = v.edit_id "
        "WHERE e.deleted = 0 AND v.model = ? AND length(v.vector) = ? AND v.id IN ({ids})",
        [info["fingerprint"], 4 * info["dim"]],
        "vectors",
        n,
    )
    if not rows:
        return {"exemplar": None, "neighbour_sample": 0}
    matrix = np.stack([np.frombuffer(blob, np.float32) for _, blob in rows])
    found = index.search(matrix, NEIGHBOURS, exclude=[{edit_id} for edit_id, _ in rows])
    nearest = [next((h.score for h in hits if h.score < IDENTICAL), None) for hits in found]
    scores = [s for s in nearest if s is not None]
    found = float(np.quantile(scores, NEIGHBOUR_QUANTILE)) if scores else None
    return {"exemplar": found, "neighbour_sample": len(scores)}


def query_kind(positive: list[Any], negative: list[Any]) -> str | None:
    """Which reference a query is judged by: "text" (text terms only), "exemplar" (pairs and edit ids, nothing
    subtracted), or None (a mix of texts and pairs, or pairs with terms subtracted: no reference fits)."""
    terms = [*positive, *negative]
    if terms and all(isinstance(t, str) for t in terms):
        return "text"
    if positive and not negative and not any(isinstance(t, str) for t in positive):
        return "exemplar"
    return None
