"""The warm state of a server: one shared model, a pool of index readers, a pool of edit-transfer pipelines."""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from editsearch.atlas.store import map_stamp
from editsearch.core.errors import EditSearchError
from editsearch.index.catalog import CATALOG_FILE, damaged
from editsearch.index.errors import CatalogCorruptError, UnknownEditError
from editsearch.index.store import EditIndex
from editsearch.index.verify import check_caches
from editsearch.search.api import EditSearch
from editsearch.serve.atlas_map import encode_map

FILTER_BUDGET_S = 2.0  # a served `where` filter running longer is stopped with a 400
HEALTH_RECHECK_S = 60.0  # an unchanged catalog file's health is read again after this long


class Engine:
    """One served index: a pool of readers for searches, the model behind a lock, a pool of pipelines for applies."""

    # Each reader is its own EditSearch (catalog connection and FAISS cache), used by one thread at a time,
    # so searches run in parallel; each follows writes from other processes as EditIndex does (it refreshes
    # its cache when the catalog's generation moves). All readers share one Embedder: the model's ONNX
    # towers (exported now if need be), run in parallel, or where they cannot be had the torch model, whose
    # forwards the Embedder runs one at a time.

    def __init__(
        self, index_dir: str | Path, model: str | Path | None = None, readers: int | None = None, pipeline: Any = None
    ) -> None:
        with EditSearch.open(index_dir, model) as first:
            embedder = first.embedder
            self.onnx = embedder.ready_towers()  # loads and checks the model
        self.index_dir = Path(index_dir)
        self.embedder = embedder  # shared by every reader: the text tower's batches and the text cache
        self.model_name, self.trained = embedder.name, embedder.trained
        self.fingerprint = embedder.fingerprint  # what every request checks the index against, with no lock taken
        self.pipeline = pipeline
        self.size = readers or min(4, os.cpu_count() or 1)
        self._readers: queue.Queue[EditSearch] = queue.Queue()
        check_caches(self.index_dir)  # every chunk once, here; the readers' opens then check only a sample
        for _ in range(self.size):
            reader = EditSearch.open(index_dir, model=embedder)
            reader.index.catalog.filter_budget_s = FILTER_BUDGET_S
            reader.index.vectors  # noqa: B018 - load the FAISS cache now, not on the first query
            self._readers.put(reader)
        self._files = {id(r): catalog_file(self.index_dir) for r in self._readers.queue}  # what each reader opened
        self._facets: tuple[Any, dict[str, Any]] | None = None
        self._audit: tuple[Any, Any] | None = None  # (what it was read from, (rows, summary, stale) or why not)
        self._map: tuple[Any, tuple[bytes, bytes]] | None = None  # (what it was made of, the /api/map answer)
        self._damage: tuple[Any, str] | None = None  # (catalog file, why it cannot be served) of the last health check
        self._health: tuple[Any, float, str | None] | None = None  # (files' stamp, when, answer) of the last check
        with self.reader() as reader:
            reader.term_vector("warm up")
        self._transfers: queue.LifoQueue[Any] = queue.LifoQueue()
        self._transfer_lock = threading.Lock()

    @contextmanager
    def reader(self) -> Iterator[EditSearch]:
        """Borrow a reader for one request (waits while all are busy), reopened first if the index was replaced."""
        if self._damage is not None and self._damage[0] == catalog_file(self.index_dir):
            raise CatalogCorruptError(self._damage[1])
        reader = self._readers.get()
        try:
            reader = self._current(reader)
            yield reader
        finally:
            self._readers.put(reader)

    def _current(self, reader: EditSearch) -> EditSearch:
        """`reader`, or a new reader sharing its model if catalog.db is now another file (the index was rebuilt).

        A rebuilt index of another model, or one re-embedded in place (`rebuild --model`), is refused
        (ModelMismatchError): the server serves one model.
        """
        now = catalog_file(self.index_dir)
        if now is None or now == self._files.get(id(reader)):
            reader.index.check_model(self.fingerprint, self.model_name)
            return reader
        index = EditIndex.open(self.index_dir)
        try:
            index.check_model(self.fingerprint, self.model_name)
        except BaseException:
            index.close()
            raise
        fresh = EditSearch(index, reader.embedder)
        fresh.index.catalog.filter_budget_s = FILTER_BUDGET_S
        self._files.pop(id(reader), None)
        reader.close()
        self._files[id(fresh)] = now
        return fresh

    def facets(self) -> dict[str, Any]:
        """The edits columns a filter may use and the commonest values of each metadata key (see Catalog.facets).

        Computed once per catalog file and generation.
        """
        with self.reader() as reader:
            key = (self._files.get(id(reader)), reader.index.generation)
            cached = self._facets
            if cached is None or cached[0] != key:
                cached = (key, reader.index.facets())
                self._facets = cached
        return cached[1]

    def audit(self, out: Path | None) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
        """(rows, summary, why it is stale or None) of the audit in `out`: the rows whose edits are still live.

        Read again when its files or the index change. UnknownEditError (a 404) when the server was started
        without an audit folder; AuditFolderError when the folder cannot be served (absent, incomplete, not an
        audit's files, or an audit of another index), a refusal that leaves the rest of the server as it is.
        """
        if out is None:
            raise UnknownEditError(
                "this server has no audit: run `editsearch audit --index DIR --out OUT`, then "
                "`editsearch serve --index DIR --audit OUT`"
            )
        from editsearch.audit.identity import AuditFolderError

        stamp = tuple(file_stamp(out / name) for name in ("audit.parquet", "summary.json"))
        with self.reader() as reader:
            key = (stamp, self._files.get(id(reader)), reader.index.generation)
            if self._audit is None or self._audit[0] != key:
                self._audit = (key, _served_audit(out, reader.index))
        found = self._audit[1]
        if isinstance(found, str):
            raise AuditFolderError(found)
        return found

    def atlas_map(self, audit_dir: Path | None) -> tuple[bytes, bytes]:
        """The /api/map answer (JSON, and gzipped), encoded again only when the index, its map or the audit changed.

        An audit folder that cannot be served leaves the map without its flags.
        """
        from editsearch.audit.identity import AuditFolderError

        try:
            audit = self.audit(audit_dir)[:2] if audit_dir is not None else None
        except AuditFolderError:
            audit = None
        with self.reader() as reader:
            index = reader.index
            key = (self._files.get(id(reader)), index.generation, map_stamp(index), self._audit_key(audit_dir))
            cached = self._map
            if cached is None or cached[0] != key:
                cached = (key, encode_map(index, audit))
                self._map = cached
        return cached[1]

    def _audit_key(self, audit_dir: Path | None) -> Any:
        """What identifies the audit rows last read (None without an audit)."""
        return None if audit_dir is None or self._audit is None else self._audit[0]

    def health(self) -> str | None:
        """Why the index cannot be served (a damaged or unreadable catalog), or None when it can.

        Checked on a new connection, which reads the file itself rather than the pages the readers hold
        in memory; while a damage is known every reader refuses to serve (CatalogCorruptError, a 503). On a
        large catalog the check counts the live edits (10 ms at 100k edits, so about a second at 10M), so the
        answer is kept while the catalog and its WAL are the same files, unchanged, for up to HEALTH_RECHECK_S.
        """
        stamp = files_stamp(self.index_dir / CATALOG_FILE)
        last = self._health
        if last is not None and last[0] == stamp and time.monotonic() - last[1] < HEALTH_RECHECK_S:
            return last[2]
        problem = self._check_health()
        self._health = (stamp, time.monotonic(), problem)
        return problem

    def _check_health(self) -> str | None:
        """Why the catalog file cannot be served, read from the file on a new connection; None when it can."""
        from editsearch.index.catalog import QUICK_CHECK_MAX_BYTES, Catalog

        checked, problem = catalog_file(self.index_dir), None
        try:
            catalog = Catalog.open(self.index_dir / CATALOG_FILE, readonly=True)  # quick_check up to 32 MB
            try:
                if (self.index_dir / CATALOG_FILE).stat().st_size > QUICK_CHECK_MAX_BYTES:
                    catalog.live_edit_count()
            finally:
                catalog.close()
        except EditSearchError as e:
            problem = str(e)
        except (sqlite3.Error, OSError) as e:
            problem = damaged(Path(CATALOG_FILE), str(e))
        self._damage = None if problem is None or checked is None else (checked, problem)
        return problem

    @contextmanager
    def transfer(self) -> Iterator[Any]:
        """Borrow an EditTransfer (loaded on first need; one per concurrent apply, so none is shared)."""
        try:
            transfer = self._transfers.get_nowait()
        except queue.Empty:
            from editsearch.transfer import EditTransfer

            with self._transfer_lock:
                transfer = EditTransfer.from_pretrained(self.pipeline)
        try:
            yield transfer
        finally:
            self._transfers.put(transfer)

    def close(self) -> None:
        """Close every reader."""
        while not self._readers.empty():
            self._readers.get_nowait().close()


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of a file, None where absent: what a write or a rename over it moves."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def files_stamp(catalog: Path) -> tuple[tuple[int, int, int] | None, ...]:
    """(inode, size, mtime) of a catalog file and of its WAL (None where absent): what a write or a swap moves."""
    return file_stamp(catalog), file_stamp(catalog.with_name(catalog.name + "-wal"))


def catalog_file(index_dir: Path) -> tuple[int, int] | None:
    """(device, inode) of an index's catalog.db, or None when there is none."""
    try:
        found = (index_dir / CATALOG_FILE).stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _served_audit(out: Path, index: EditIndex) -> tuple[list[dict[str, Any]], dict[str, Any], str | None] | str:
    """(live rows, summary, why stale or None) of the audit in `out` as `index` is now, or why it cannot be served."""
    from editsearch.audit.folder import read_outputs
    from editsearch.audit.identity import AuditFolderError, staleness

    try:
        rows, summary = read_outputs(out)
        stale = staleness(summary, index)
    except AuditFolderError as e:
        return str(e)
    live = index.catalog.existing_ids([r["id"] for r in rows])
    return [r for r in rows if r["id"] in live], summary, stale
