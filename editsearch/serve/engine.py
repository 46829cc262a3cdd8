"""The warm state of a server: one shared model, a pool of index readers, a pool of edit-transfer pipelines."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from editsearch.search import EditSearch

FILTER_BUDGET_S = 2.0  # a served `where` filter running longer is stopped with a 400


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
        self.model_name, self.trained = embedder.name, embedder.trained
        self.pipeline = pipeline
        self.size = readers or min(4, os.cpu_count() or 1)
        self._readers: queue.Queue[EditSearch] = queue.Queue()
        for _ in range(self.size):
            reader = EditSearch.open(index_dir, model=embedder)
            reader.index.catalog.filter_budget_s = FILTER_BUDGET_S
            reader.index.vectors  # noqa: B018 - load the FAISS cache now, not on the first query
            self._readers.put(reader)
        with self.reader() as reader:
            reader.term_vector("warm up")
        self._transfers: queue.LifoQueue[Any] = queue.LifoQueue()
        self._transfer_lock = threading.Lock()

    @contextmanager
    def reader(self) -> Iterator[EditSearch]:
        """Borrow a reader for one request (waits while all are busy)."""
        reader = self._readers.get()
        try:
            yield reader
        finally:
            self._readers.put(reader)

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
