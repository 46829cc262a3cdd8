"""The incremental build: scan sources, skip unchanged pairs, embed the rest in a pipelined DataLoader.

Decoding and preprocessing run in DataLoader workers while the main process runs the model, and every
forward batch is committed to the catalog in one transaction, so a killed build loses at most one batch.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import item_objects, items_exit_code
from editsearch.data.records import EditPair, ItemError
from editsearch.index.errors import BuildAbortedError
from editsearch.index.instructions import embed_missing
from editsearch.index.unit_vectors import row_problems
from editsearch.pairs.loading import (
    LoadedBatch,
    PairDataset,
    Planned,
    collate_loaded,
    default_workers,
    edit_row,
    failure_reason,
)
from editsearch.pairs.store import save_signatures

if TYPE_CHECKING:
    from editsearch.index.catalog import Catalog

SCAN_CHUNK = 512  # pairs looked up in the catalog per query while scanning
# Seconds the build waits for a data-loader worker's next batch before it calls the worker stuck and stops
# (a batch takes a few seconds; a worker that died while handing one over would otherwise be waited for forever).
WORKER_TIMEOUT_S = float(os.environ.get("EDITSEARCH_WORKER_TIMEOUT", "300"))

SourceInput = tuple[str, Callable[[], Iterator[EditPair | ItemError]]]


@dataclass
class BuildReport:
    """What a build did: added, updated, skipped, removed, failed (with reasons), embedded, reused.

    `skips` names the skipped pairs a user may not expect to be skipped (a pair listed twice, a pair removed
    by `editsearch remove`), each with where it came from and why; unchanged pairs are only counted.
    """

    added: int = 0
    updated: int = 0
    skipped: int = 0
    removed: int = 0
    failed: int = 0
    embedded: int = 0
    reused: int = 0
    instructions: int = 0  # instruction texts embedded (see editsearch.index.instructions)
    seconds: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (origin, item, reason)
    skips: list[tuple[str, str, str]] = field(default_factory=list)  # (origin, item, reason)

    @property
    def exit_code(self) -> int:
        """0 when every item succeeded, EXIT_PARTIAL (3) when some failed."""
        return items_exit_code(self.failed)

    def summary(self) -> str:
        """One line: added, updated, skipped, removed, failed, and what was embedded."""
        rate = self.embedded / self.seconds if self.seconds else 0.0
        return (
            f"added {self.added}, updated {self.updated}, skipped {self.skipped}, removed {self.removed}, "
            f"failed {self.failed} (embedded {self.embedded}, reused {self.reused} vectors; "
            f"{self.seconds:.1f} s, {rate:.1f} pairs/s)"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (errors as objects)."""
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": self.failed,
            "embedded": self.embedded,
            "reused": self.reused,
            "instructions": self.instructions,
            "seconds": round(self.seconds, 3),
            "errors": item_objects(self.errors),
            "skips": item_objects(self.skips),
        }

    def skip(self, origin: str, item: str, reason: str) -> None:
        """Count a skipped pair and record where it came from and why."""
        self.skipped += 1
        self.skips.append((origin, item, reason))


@dataclass(frozen=True, slots=True)
class Listing:
    """Where a pair was listed (PATH:LINE, FILE#ROW, ...), with its instruction and a digest of its metadata."""

    item: str
    instruction: str | None
    metadata: int

    @classmethod
    def of(cls, pair: EditPair) -> Listing:
        """The listing of a pair a source yielded."""
        return cls(
            pair.item or pair.key, pair.instruction, hash(json.dumps(pair.metadata, sort_keys=True, default=str))
        )

    def repeated_by(self, again: Listing) -> str:
        """Why `again`, the same before/after listed after this one, was skipped."""
        if again.instruction != self.instruction:
            said = repr(again.instruction) if again.instruction is not None else "(none)"
            return f"same before/after as {self.item}; its instruction {said} differs and was not indexed"
        if again.metadata != self.metadata:
            return f"same before/after and instruction as {self.item}; its metadata differs and was not indexed"
        return f"the same pair as {self.item}: indexed once"


def removed_reason(edit_id: int) -> str:
    """Why a pair removed with `editsearch remove` is skipped by every later build."""
    return f"removed by the user (edit #{edit_id}, `editsearch remove`): stays removed"


def source_inputs(
    sources: Sequence[str | Path], root: str | Path | None = None, columns: Mapping[str, str] | None = None
) -> list[SourceInput]:
    """(origin, reader) for each source path (a glob pattern: each match); the origin is the absolute path.

    `root` confines manifests' image paths to that folder (see iter_manifest); `columns` names the columns of
    tables no preset fits (see editsearch.data.layouts).
    """
    from editsearch.data.sources import expand_sources, iter_source

    out: list[SourceInput] = []
    for src in expand_sources(sources):
        origin = str(src.expanduser().resolve())
        out.append((origin, lambda s=src: iter_source(s, root=root, columns=columns)))
    return out


class Build:
    """One run of the incremental build into the catalog of an open, locked EditIndex."""

    def __init__(self, catalog: Catalog, model: Any, batch_size: int, workers: int | None, progress: bool):
        self.catalog = catalog
        self.model = model
        self.fp = model.fingerprint
        self.batch_size = max(1, batch_size)
        self.workers = None if workers is None else max(0, workers)  # None: default_workers, once the model is up
        self.progress = progress
        self.report = BuildReport()
        self.first_listed: dict[str, Listing] = {}  # pair key -> where it was first listed, with what
        self.updates: list[tuple[int, str | None, dict[str, Any], str]] = []

    def run(self, inputs: Sequence[SourceInput], sweep: bool) -> BuildReport:
        """Scan every source, embed what changed, tombstone what vanished, record errors."""
        with gc_frozen():
            return self._run(inputs, sweep)

    def _run(self, inputs: Sequence[SourceInput], sweep: bool) -> BuildReport:
        start = time.perf_counter()
        todo: list[Planned] = []
        complete: list[str] = []
        for origin, reader in inputs:
            if self._scan(origin, reader, todo):
                complete.append(origin)
        self.catalog.update_texts(self.updates)
        self._embed(todo)
        self.report.instructions = embed_missing(self.catalog, self.model)
        if sweep:
            for origin in complete:
                vanished = [
                    i for key, i in self.catalog.live_ids_for_origin(origin).items() if key not in self.first_listed
                ]
                self.report.removed += self.catalog.tombstone(vanished, "vanished")
        self.catalog.replace_errors(self.report.errors)
        self.report.seconds = time.perf_counter() - start
        return self.report

    # -- scanning -------------------------------------------------------------------------------------

    def _scan(self, origin: str, reader: Callable[[], Iterator[EditPair | ItemError]], todo: list[Planned]) -> bool:
        """Classify one source's pairs into skipped / todo / failed; False if the source could not be read."""
        from tqdm import tqdm

        bar = tqdm(
            desc=f"scanning {Path(origin).name}",
            unit="pair",
            file=sys.stderr,
            disable=not self.progress,
            total=_count(origin) if self.progress else None,
            leave=False,
        )
        chunk: list[EditPair] = []
        try:
            for item in reader():
                bar.update(1)
                if isinstance(item, ItemError):
                    self._fail(origin, item.item, item.reason)
                    continue
                chunk.append(item)
                if len(chunk) >= SCAN_CHUNK:
                    self._classify(origin, chunk, todo)
                    chunk = []
            self._classify(origin, chunk, todo)
        except (OSError, ValueError) as e:
            self._classify(origin, chunk, todo)
            self._fail(origin, origin, f"cannot read source: {failure_reason(e)}")
            return False
        finally:
            bar.close()
        return True

    def _classify(self, origin: str, pairs: list[EditPair], todo: list[Planned]) -> None:
        """Skip unchanged pairs (same files, sizes and mtimes, with a vector); queue the others."""
        rows = self.catalog.rows_by_keys([p.key for p in pairs], self.fp)
        for pair in pairs:
            listing = Listing.of(pair)
            if (first := self.first_listed.setdefault(pair.key, listing)) is not listing:
                self.report.skip(origin, listing.item, first.repeated_by(listing))  # the pair once, as first listed
                continue
            try:
                stats = (pair.before.stat(), pair.after.stat())
            except (OSError, ValueError) as e:
                self._fail(origin, pair.key, failure_reason(e))
                continue
            row = rows.get(pair.key)
            if row is not None and row["deleted"] and row["deleted_reason"] == "removed":
                self.report.skip(origin, listing.item, removed_reason(row["id"]))
                continue
            if row is not None and not row["deleted"] and row["vector_id"] is not None and _same_files(row, stats):
                self.report.skipped += 1
                self._maybe_update_text(row, pair, origin)
                continue
            todo.append(Planned(pair, origin, row, stats))

    def _maybe_update_text(self, row: dict[str, Any], pair: EditPair, origin: str) -> None:
        if (row["instruction"], row["metadata"], row["origin"]) != (pair.instruction, pair.metadata, origin):
            self.updates.append((row["id"], pair.instruction, pair.metadata, origin))

    def _fail(self, origin: str, item: str, reason: str) -> None:
        self.report.failed += 1
        self.report.errors.append((origin, item, reason))

    # -- embedding ------------------------------------------------------------------------------------

    def _embed(self, todo: list[Planned], bar: Any = None) -> None:
        """Hash, decode and embed the queued pairs, committing each batch.

        A failure that is no single item's (a worker that died or is stuck, shared memory or disk full, a
        file-size limit, memory) stops the build at once with BuildAbortedError; batches committed before
        it stay, so running the build again resumes where it stopped.
        """
        if not todo:
            return
        try:
            self._embed_batches(todo, bar)
        except (RuntimeError, OSError, MemoryError, sqlite3.OperationalError) as e:
            raise BuildAbortedError(
                f"the build stopped: {_abort_reason(e)}. The {self.report.added + self.report.updated} pairs "
                "committed so far are kept; run the same command again to resume"
            ) from None

    def _embed_batches(self, todo: list[Planned], bar: Any = None) -> None:
        """The batches of `todo` through the loader and the forward, counted on `bar` (a tqdm; None: one of its own)."""
        from torch.utils.data import DataLoader

        workers = default_workers(self.model.device.type) if self.workers is None else self.workers
        workers = workers if len(todo) > self.batch_size else 0
        loader = DataLoader(
            PairDataset(todo, self.model.pair_transform.pixels, self.model.config.image_size),
            batch_size=self.batch_size,
            num_workers=workers,
            collate_fn=partial(collate_loaded, signatures=True),
            prefetch_factor=4 if workers else None,
            timeout=WORKER_TIMEOUT_S if workers else 0,
        )
        with nullcontext(bar) if bar is not None else self.progress_bar(len(todo)) as counted:
            for batch in loader:
                self._commit(batch, todo)
                counted.update(len(batch))

    def progress_bar(self, total: int) -> Any:
        """The embedding progress bar (tqdm on stderr, shown only with `progress`)."""
        from tqdm import tqdm

        return tqdm(total=total, desc="embedding", unit="pair", file=sys.stderr, disable=not self.progress)

    def _commit(self, batch: LoadedBatch, todo: list[Planned]) -> None:
        """Reuse vectors by content hash, embed the rest, and save the batch in one transaction."""
        for i, err in batch.failed:
            self._unreadable(todo[i], err)
        reuse = self.catalog.vectors_by_hashes(batch.hashes, self.fp)
        fresh = [j for j, h in enumerate(batch.hashes) if h not in reuse]
        blobs = {j: reuse[h] for j, h in enumerate(batch.hashes) if h in reuse}
        bad: dict[int, str] = {}
        if fresh:
            assert batch.pixels is not None
            pixels = batch.pixels if len(fresh) == len(batch.ok) else batch.pixels[fresh]
            emb = self.model.embed_pair_tensors(pixels).numpy()
            bad = {fresh[n]: reason for n, reason in row_problems(emb).items()}  # a model's NaN, say
            blobs.update({j: emb[n].tobytes() for n, j in enumerate(fresh) if j not in bad})
        self.report.embedded += len(fresh)
        self.report.reused += len(batch.ok) - len(fresh)
        self._save(batch, todo, blobs, bad)

    def _save(self, batch: LoadedBatch, todo: list[Planned], blobs: dict[int, bytes], bad: dict[int, str]) -> None:
        """Save the batch's edits with their vectors (`blobs` by position in the batch; `bad`: why one has none)."""
        rows, vectors, kept = [], [], []
        for j, (i, hashes) in enumerate(zip(batch.ok, batch.hashes, strict=True)):
            planned = todo[i]
            if j in bad:
                self._unreadable(planned, f"the model's output: {bad[j]}")
                continue
            rows.append(edit_row(planned, hashes))
            vectors.append(blobs[j])
            kept.append(j)
            if planned.existing is not None and not planned.existing["deleted"]:
                self.report.updated += 1
            else:
                self.report.added += 1
        ids = self.catalog.save_edits(rows, vectors, self.fp)
        made = batch.signatures or [None] * len(batch.ok)  # each pair's signature, made by the loader's worker
        signed = [(edit_id, batch.hashes[j], made[j]) for edit_id, j in zip(ids, kept, strict=True)]
        save_signatures(self.catalog.conn, [(i, h, blob) for i, h, blob in signed if blob is not None])

    def _unreadable(self, planned: Planned, reason: str) -> None:
        """A queued pair that got no vector: a failed item, and its live edit (an older version) goes."""
        self._fail(planned.origin, planned.pair.key, reason)
        if planned.existing is not None and not planned.existing["deleted"]:
            self.catalog.tombstone([planned.existing["id"]], "unreadable")


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Hide every object that exists now (the model, torch's and open_clip's modules) from the garbage collector.

    A full collection walks all ~430k of them, 0.2-0.25 s each time, and a build triggers one or more; the
    objects it creates itself are still collected. gc.freeze also keeps forked DataLoader workers from
    copying pages the collector would touch. A caller's own freeze (a server that froze before forking) is
    left as it is.
    """
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


def _abort_reason(e: BaseException) -> str:
    """One line for what stopped a build: the worker's own error, not the DataLoader's wrapping of it."""
    text = str(e) or type(e).__name__
    if "DataLoader timed out" in text:
        return (
            f"no batch came from the data-loader workers in {WORKER_TIMEOUT_S:g} s (a stuck worker, or one that "
            "could not hand its batch over); retry with --workers 0, or set EDITSEARCH_WORKER_TIMEOUT"
        )
    if "exited unexpectedly" in text or "killed by signal" in text:
        return f"a data-loader worker died ({text.splitlines()[0]}); retry with --workers 0 if it happens again"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "DataLoader worker" in lines[0] and len(lines) > 1:
        return f"a data-loader worker failed: {lines[-1]}"
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return lines[0] if isinstance(e, sqlite3.Error) else f"{type(e).__name__}: {lines[0]}"


def _same_files(row: dict[str, Any], stats: tuple[tuple[int, float], tuple[int, float]]) -> bool:
    (bs, bm), (as_, am) = stats
    return (row["before_size"], row["before_mtime"], row["after_size"], row["after_mtime"]) == (bs, bm, as_, am)


def _count(origin: str) -> int | None:
    from editsearch.data.sources import count_source

    try:
        return count_source(origin)
    except Exception:  # noqa: BLE001 - a count is only for the progress bar
        return None
