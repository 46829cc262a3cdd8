"""Opportunistic batching: texts that callers on other threads ask for while a batch runs share the next one.

A served text query runs the text tower on one short text. Eight clients at once would run eight graphs
side by side on two cores; instead, one caller at a time leads: it runs what is queued (its own texts first)
as one batch, and then hands the lead to the oldest caller still waiting. Nobody waits for a batch to fill,
so a lone query pays nothing. A batch that fails is re-run caller by caller, so one bad input fails only its
own caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

MAX_BATCH = 64  # texts in one batch


class _Request:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.wake = threading.Event()


class Coalescer:
    """Call `run(texts) -> rows [N, D]` for concurrent callers in shared batches, each getting its own rows."""

    def __init__(self, run: Callable[[list[str]], np.ndarray], max_batch: int = MAX_BATCH) -> None:
        self._run = run
        self._max = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The rows of `texts`, run alone or with other callers' texts."""
        request = _Request(list(texts))
        with self._lock:
            self._queue.append(request)
            if not self._busy:
                self._busy = request.lead = True
        if not request.lead:
            request.wake.wait()
        if request.lead:
            self._lead()
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return request.rows

    def _lead(self) -> None:
        """Run the head of the queue as one batch, then pass the lead on (or go idle)."""
        with self._lock:
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self._max):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
        try:
            self._run_batch(batch)
        except BaseException as e:  # an interrupt: every caller of the batch hears of it, and the lead moves on
            for request in batch:
                if request.rows is None and request.error is None:
                    request.error = e
            raise
        finally:
            for request in batch:
                if not request.lead:
                    request.wake.set()
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._busy = False

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            rows = self._run([t for request in batch for t in request.texts])
        except Exception as e:
            if len(batch) == 1:
                batch[0].error = e
                return
            for request in batch:  # find whose input failed: each alone
                self._run_batch([request])
            return
        start = 0
        for request in batch:
            request.rows = rows[start : start + len(request.texts)]
            start += len(request.texts)
