"""The weak-match cue: a query whose best result fits no better than the best result of a query that fits nothing.

Text queries. The reference queries are the shipped instructions (`vocabulary.EDIT_PHRASES` and the varied
`vocabulary.FLUENT_INSTRUCTIONS`, each a different edit) that fit none of the collection: their nearest stored
instruction (text-tower cosine) is no closer than SAME_EDIT_QUANTILE of the pairs of different shipped instructions
are to each other, and their best pair (EC2T) reads them worse than the median edit reads its own instruction (in a
collection without instructions: than the median shipped instruction's best pair does). Each is ranked as a query
(pair, instruction and hybrid alike); a text query is weak when its best score is at most what REFERENCE_QUANTILE of
them reach under its rank.

Exemplar and edit-id queries. A query pair is weak when its best match (EC2EC; an edit-id query's own edit left out)
is no closer than the best match of an after = before pair: a pair that shows no edit at all fits nothing, so an
exemplar that fits no better than one fits nothing either. The reference pairs are NOOP_PHOTOS shipped photos and
as many of the collection's own before images, each as both before and after; the reference is the closest any of
them comes (an after = before query is weak by construction). Neither the collection's own spread would do (the
nearest other edit: close in a collection of many edits of each kind, far in one of single edits, so no quantile
of it fits both) nor neighbours carrying another instruction (the same edit is worded many ways, and such
paraphrases are far apart for the text tower). A collection that itself holds after = before pairs (failed edits)
raises the reference, and with it the share of weak exemplar queries, until they are removed.

Both references, with the legibility ranking needs, are computed once per state of the catalog and kept in its
statistics record (editsearch.index.statistics): by the writing command after a write (`refresh_statistics`), else
by the first reader, so a query only reads them.

The constants were chosen from principles and checked on the project's own generator (`editsearch data synth`:
collections of about 100 pairs and of one pair per family; held-out phrasings and pairs of the families present
against semantic edits, families left out and after = before pairs); none was set on a real or held-out
collection (benchmarks/weak_match.py measures those).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import numpy as np

from editsearch.core.errors import EditSearchError
from editsearch.encoder.embedder import Embedder, ModelLike
from editsearch.index.legibility import drawn_befores, own_instruction_rows
from editsearch.index.statistics import state_stamp
from editsearch.index.store import EditIndex
from editsearch.search.ranking import best_scores
from editsearch.search.vocabulary import EDIT_PHRASES, FLUENT_INSTRUCTIONS

log = logging.getLogger(__name__)

REFERENCE_TEXTS = tuple(dict.fromkeys(EDIT_PHRASES + FLUENT_INSTRUCTIONS))
# A reference instruction must be no closer to any stored one than 99 % of the pairs of different shipped
# instructions are to each other: only a text that is the same edit as a stored one comes closer.
SAME_EDIT_QUANTILE = 0.99
# A text query is weak at or below what nine in ten of the reference instructions reach (one in ten scores higher
# by chance: a related wording, a busy collection).
REFERENCE_QUANTILE = 0.9
MIN_REFERENCE = 16  # reference instructions at least (the farthest from the collection, when fewer fit nothing)
SAMPLE = 500  # edits whose own instruction is read, for the pair side's bar
# An exemplar is weak when its best match is no closer than the closest match of an after = before pair: of
# NOOP_PHOTOS shipped photos (the generator's test split) and as many before images of the collection.
NOOP_PHOTOS = 16
NOOP_SIDE = 224  # side of a shipped photo's crop (the model resizes it as any pair)
KINDS = ("text", "exemplar")
RULE = hashlib.sha256(
    json.dumps(
        [REFERENCE_TEXTS, SAME_EDIT_QUANTILE, REFERENCE_QUANTILE, MIN_REFERENCE, SAMPLE, NOOP_PHOTOS, NOOP_SIDE]
    ).encode()
).hexdigest()[:12]  # a stored record of another rule is computed again


def reference(index: EditIndex, embedder: Embedder, kind: str, rank: str = "hybrid") -> float | None:
    """The score a query's best result must beat not to be weak: of a text query under `rank` (kind "text") or of an
    exemplar or edit-id query (kind "exemplar"). Read from the statistics record, else computed now and kept; None
    when it cannot be computed here (the model does not load: an edit-id query needs no model otherwise)."""
    found = current_references(index)
    if kind not in found:
        stamp = state_stamp(index.catalog)
        try:
            found = {**found, **(text_references if kind == "text" else exemplar_references)(index, embedder)}
        except EditSearchError as e:
            log.info("editsearch: the %s weak-match reference cannot be computed here (%s)", kind, e)
            return None
        index.keep_statistics({"stamp": stamp, "legibility": index.legibility(), "weak_match": found})
    return found["text"][rank] if kind == "text" else found["exemplar"]


def current_references(index: EditIndex) -> dict[str, Any]:
    """The weak-match references in the record of the index's current state when they follow this RULE, else none."""
    found = (index.statistics() or {}).get("weak_match") or {}
    return found if found.get("rule") == RULE else {"rule": RULE}


def refresh_statistics(index: EditIndex, model: ModelLike | Embedder | None = None) -> None:
    """After a write: compute and store the statistics of the index's new state (nothing if already stored). The
    references need the model's towers: without them (a model that cannot load) they are left to the queries.

    They are computed through a reader of the same folder, which maps the caches the write saved as a query
    would, rather than through the writer's own copies read into memory (at 1M edits: seconds and gigabytes
    fewer); the writer stores what the reader found."""
    if index.model_info is None or all(kind in current_references(index) for kind in KINDS):
        return
    with EditIndex.open(index.directory) as reader:
        embedder = model if isinstance(model, Embedder) else reader.embedder(model)
        for kind in KINDS:
            reference(reader, embedder, kind)
        record = reader.statistics()
    if record is not None:
        index.keep_statistics(record)


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
    tops = best_scores(index, vectors[chosen])
    text = {}
    for rank in ("pair", "instruction", "hybrid"):
        scores = [t[rank] for t in tops if t[rank] is not None]
        text[rank] = float(np.quantile(scores, REFERENCE_QUANTILE)) if scores else None
    return {"text": text, "reference_texts": len(chosen), "same_edit": same_edit, "pair_fit": pair_fit}


def own_instruction_scores(index: EditIndex, n: int = SAMPLE) -> np.ndarray:
    """EC2T of about n live edits, drawn at random, with their own instruction's vector."""
    info = index.model_info
    assert info is not None
    rows = own_instruction_rows(index.catalog, info["fingerprint"], info["dim"], n)
    return np.array([np.frombuffer(p, np.float32) @ np.frombuffer(t, np.float32) for _, p, t in rows])


def exemplar_references(index: EditIndex, embedder: Embedder) -> dict[str, Any]:
    """{"exemplar": the best match that after = before pairs of NOOP_PHOTOS shipped photos and as many of the
    collection's own before images reach at most (None: no edit matched), "noop_pairs": how many were measured}.

    A before image of the collection is not matched against the edits of that same photo, which a query's photo
    would not be part of."""
    from editsearch.data.synthetic.photos import sample_source  # the generator's photos: 40 ms to import

    rng = np.random.default_rng(0)
    photos = [(sample_source(rng, "test", NOOP_SIDE)[0], set()) for _ in range(NOOP_PHOTOS)]
    photos += own_befores(index, NOOP_PHOTOS)
    vectors = embedder.pair_vectors([(photo, photo) for photo, _ in photos])
    found = index.search(vectors, 1, exclude=[edits for _, edits in photos])
    bests = [hits[0].score for hits in found if hits]
    return {"exemplar": max(bests) if bests else None, "noop_pairs": len(bests)}


def own_befores(index: EditIndex, n: int) -> list[tuple[Any, set[int]]]:
    """Up to n before images of live edits drawn at random, each with the ids of the edits of that photo; one that
    cannot be read now is passed over."""
    from editsearch.search.inputs import load_one  # the data and image modules: only a writer computes this

    out = []
    for locator, same in drawn_befores(index.catalog, n):
        try:
            image = load_one(locator)
        except (EditSearchError, OSError) as e:  # moved or damaged since the build: the other photos will do
            log.info("editsearch: %s is left out of the weak-match reference (%s)", locator, e)
            continue
        out.append((image, same))
    return out
