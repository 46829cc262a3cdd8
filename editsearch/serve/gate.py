"""The apply gate: a bounded number of edit transfers at once, a bounded queue, a 503 beyond it."""

from __future__ import annotations

from typing import Any

import anyio

from editsearch.core.errors import EditSearchError, UsageError


class ApplyBusyError(EditSearchError):
    """Every apply slot is taken and the queue is full."""


class ApplyGate:
    """At most `running` applies at once in worker threads, `waiting` more queued; beyond that ApplyBusyError."""

    def __init__(self, running: int, waiting: int) -> None:
        if running < 1 or waiting < 0:
            raise UsageError("max applies must be at least 1 and the apply queue at least 0")
        self.running = running
        self.waiting = waiting
        self.pending = 0
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run fn(*args) in a worker thread of the apply pool (never the one searches use)."""
        if self.pending >= self.running + self.waiting:
            raise ApplyBusyError(f"{self.pending} edits are being applied or queued; try again shortly")
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.running)
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self.pending -= 1
