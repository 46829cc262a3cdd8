"""Re-embedding an index with another model (`editsearch rebuild --model`): its edits kept, their vectors made anew.

Each live edit's pair is read again from where the catalog says it lies and embedded by the new model through the
build's own pipelined loader and forward (editsearch.index.build), one transaction per batch, the vectors stored
beside the bound model's; then its instructions are embedded. Only the last step changes what the index answers
with: one transaction binds the new model, moves the generation, tombstones the edits whose pair could not be read
(each reported with its id and origin) and drops the old model's pair and instruction vectors. A run stopped before
it leaves the index answering with the old model, and the same command run again embeds only what is missing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import item_objects
from editsearch.data.records import EditPair, ImageRef
from editsearch.encoder.embedder import Embedder, ModelLike, recorded_name
from editsearch.index.build import Build, BuildReport, gc_frozen
from editsearch.index.errors import BuildAbortedError
from editsearch.index.instructions import embed_missing
from editsearch.pairs.loading import LoadedBatch, Planned

if TYPE_CHECKING:
    from editsearch.index.catalog import Catalog, EditRow
    from editsearch.index.store import EditIndex


PAGE = 20_000  # edits planned and embedded at a time (a page of a million-edit index, not all of it at once)


@dataclass
class ReembedReport:
    """What re-embedding did: the model now and before, and the pass over the edits (its `updated`: the edits
    re-embedded; `embedded`: through the forward, the rest reusing a vector of the same pixels; failed, with
    reasons; the instructions embedded by the new model's text tower)."""

    model: str
    fingerprint: str
    previous_model: str | None
    previous_fingerprint: str | None
    run: BuildReport = field(default_factory=BuildReport)
    seconds: float = 0.0

    @property
    def switched(self) -> bool:
        """Whether the index changed model (False: `model` was already the index's own)."""
        return self.fingerprint != self.previous_fingerprint

    @property
    def errors(self) -> list[tuple[str, str, str]]:
        """The edits that could not be re-embedded: (origin, item, reason)."""
        return self.run.errors

    @property
    def exit_code(self) -> int:
        """0 when every edit was re-embedded, EXIT_PARTIAL (3) when some failed."""
        return self.run.exit_code

    def summary(self) -> str:
        """One line: what was re-embedded with which model, and what failed."""
        if not self.switched:
            return f"model {self.model} is the index's own: nothing to re-embed"
        was = self.previous_model
        if was == self.model:  # the same name, other weights: tell them apart by fingerprint
            was = f"{was} {str(self.previous_fingerprint)[:12]}, now {self.fingerprint[:12]}"
        return (
            f"re-embedded {self.run.updated} edits with model {self.model} (was {was}), "
            f"failed {self.run.failed}, {self.run.instructions} instructions embedded ({self.seconds:.1f} s)"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (errors as objects)."""
        return {
            "model": self.model,
            "fingerprint": self.fingerprint,
            "previous_model": self.previous_model,
            "previous_fingerprint": self.previous_fingerprint,
            "switched": self.switched,
            "reembedded": self.run.updated,
            "embedded": self.run.embedded,
            "failed": self.run.failed,
            "instructions": self.run.instructions,
            "seconds": round(self.seconds, 3),
            "errors": item_objects(self.run.errors),
        }


class Reembed(Build):
    """The build's loader and forward over the catalog's own live edits, storing vectors of a model not yet bound."""

    def __init__(self, catalog: Catalog, model: Any, batch_size: int, workers: int | None, progress: bool):
        super().__init__(catalog, model, batch_size, workers, progress)
        self.unreadable: list[int] = []  # edits left with no vector of the model: tombstoned when it is bound

    def embed_live(self) -> None:
        """Register the model, embed every live edit with no vector of it yet, then the instructions with none."""
        model = self.model
        config = (model.embed_dim, bool(model.trained), model.config_dict())
        self.catalog.register_model(recorded_name(model.name), self.fp, *config)
        with self.progress_bar(self.catalog.live_edits_lacking_count(self.fp)) as bar:
            after = 0
            while page := self.catalog.live_edits_lacking(self.fp, after, PAGE):
                after = page[-1]["id"]
                todo = [p for p in map(self._plan, page) if p is not None]
                bar.update(len(page) - len(todo))  # unplannable edits, reported as failed
                with gc_frozen():
                    self._embed(todo, bar)
        with gc_frozen():
            self.report.instructions = embed_missing(self.catalog, self.model)

    def _plan(self, row: EditRow) -> Planned | None:
        """The edit's pair, read from its stored locators (None, and a failure, when they cannot name an image)."""
        try:
            before, after = ImageRef.from_locator(row["before"]), ImageRef.from_locator(row["after"])
        except ValueError as e:
            self._failed_edit(row["id"], row["origin"], str(e))
            return None
        pair = EditPair(before, after, row["instruction"], row["metadata"], source=row["source"], item=row["key"])
        stats = ((row["before_size"], row["before_mtime"]), (row["after_size"], row["after_mtime"]))
        return Planned(pair, row["origin"], dict(row), stats)

    def _save(self, batch: LoadedBatch, todo: list[Planned], blobs: dict[int, bytes], bad: dict[int, str]) -> None:
        """Store the batch's vectors under the new model; the edits' rows stay as they are."""
        kept = []
        for j, i in enumerate(batch.ok):
            if j in bad:
                self._unreadable(todo[i], f"the model's output: {bad[j]}")
            else:
                kept.append((_edit_id(todo[i]), blobs[j]))
        self.catalog.save_vectors(kept, self.fp)
        self.report.updated += len(kept)

    def _unreadable(self, planned: Planned, reason: str) -> None:
        """A pair that got no vector: a failed item, its edit tombstoned only when the new model is bound."""
        self._failed_edit(_edit_id(planned), planned.origin, reason)

    def _failed_edit(self, edit_id: int, origin: str, reason: str) -> None:
        """Report the edit by its id and the source it came from; it is tombstoned when the new model is bound."""
        self._fail(origin, f"edit #{edit_id} from {origin}", reason)
        self.unreadable.append(edit_id)


def reembed(
    index: EditIndex, model: ModelLike, *, batch_size: int = 32, workers: int | None = None, progress: bool = False
) -> ReembedReport:
    """Re-embed every live edit of `index` (opened writable) with `model`, then bind the index to it (see the module).

    Nothing changes when `model` is the index's own. BuildAbortedError when no edit could be embedded at all (the
    images moved, say): the index is left with its model. Rebuild the FAISS caches afterwards (`EditIndex.rebuild`).
    """
    index.require_writable()
    embedder = model if isinstance(model, Embedder) else Embedder(model)
    previous = index.model_info
    report = ReembedReport(
        embedder.name,
        embedder.fingerprint,
        previous["name"] if previous else None,
        previous["fingerprint"] if previous else None,
    )
    if not report.switched:
        return report
    start = time.perf_counter()
    run = Reembed(index.catalog, embedder, batch_size, workers, progress)
    run.embed_live()
    if run.unreadable and index.catalog.live_vector_count(embedder.fingerprint) == 0:
        _origin, item, reason = run.report.errors[0]
        raise BuildAbortedError(
            f"none of the {len(run.unreadable)} edits could be re-embedded ({item}: {reason}); "
            f"the index still answers with model {report.previous_model}"
        )
    index.catalog.switch_model(embedder.fingerprint, run.unreadable, run.report.errors)
    report.run, report.seconds = run.report, time.perf_counter() - start
    return report


def _edit_id(planned: Planned) -> int:
    """The id of the edit a planned pair was read from."""
    assert planned.existing is not None
    return int(planned.existing["id"])
