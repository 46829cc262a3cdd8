"""Builds that cannot go on fail fast: a dead, stuck or out-of-memory worker, a file-size limit; reruns resume."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest
import torch
from index_fixtures import make_collection

import editsearch.index.build as build_module
from editsearch.index.errors import BuildAbortedError
from editsearch.index.store import EditIndex
from editsearch.pairs.loading import PairDataset

N = 16
BATCH = 4


@pytest.fixture
def manifest(tmp_path):
    return make_collection(tmp_path / "data", N)


def sync(idx, manifest, model, workers=1):
    with EditIndex.open(idx, create=True, lock_timeout=0) as index:
        return index.sync([manifest], model, batch_size=BATCH, workers=workers)


def assert_resumes(idx, manifest, model, kept: int) -> None:
    """The lock is free, `kept` edits survived, and a plain rerun adds exactly the rest."""
    with EditIndex.open(idx, writable=True, lock_timeout=0) as index:
        assert index.stats()["edits"] == kept
    again = sync(idx, manifest, model, workers=0)
    assert (again.added, again.skipped, again.failed) == (N - kept, kept, 0)


def fail_from_item(monkeypatch, start: int, action) -> None:
    """Make data-loader workers run `action` for items >= start (the main process is left alone)."""
    parent = os.getpid()
    original = PairDataset.__getitem__

    def getitem(self, i):
        if i >= start and os.getpid() != parent:
            action()
        return original(self, i)

    monkeypatch.setattr(PairDataset, "__getitem__", getitem)


def assert_aborts_within_a_minute_then_resumes(tmp_path, manifest, model, monkeypatch, match: str) -> None:
    """The faulty build stops with `match` in under a minute; undone, a rerun keeps the two batches done."""
    start = time.monotonic()
    with pytest.raises(BuildAbortedError, match=match):
        sync(tmp_path / "idx", manifest, model)
    assert time.monotonic() - start < 60
    monkeypatch.undo()
    assert_resumes(tmp_path / "idx", manifest, model, kept=2 * BATCH)


def test_a_dead_worker_stops_the_build_at_once(tmp_path, manifest, tiny_model, monkeypatch):
    fail_from_item(monkeypatch, 2 * BATCH, lambda: (time.sleep(1), os._exit(7)))  # once its batches are handed over
    match = "worker died.*run the same command again"
    assert_aborts_within_a_minute_then_resumes(tmp_path, manifest, tiny_model, monkeypatch, match)


def test_a_stuck_worker_stops_the_build_after_the_worker_timeout(tmp_path, manifest, tiny_model, monkeypatch):
    monkeypatch.setattr(build_module, "WORKER_TIMEOUT_S", 3.0)
    fail_from_item(monkeypatch, 2 * BATCH, lambda: time.sleep(3600))
    match = "no batch came from the data-loader workers in 3 s"
    assert_aborts_within_a_minute_then_resumes(tmp_path, manifest, tiny_model, monkeypatch, match)


def test_shared_memory_that_cannot_be_allocated_stops_the_build(tmp_path, manifest, tiny_model, monkeypatch):
    parent, original = os.getpid(), torch.Tensor.share_memory_
    calls = []

    def share_memory_(self):
        calls.append(1)
        if os.getpid() != parent and len(calls) > 2:  # the worker's third batch: /dev/shm is full
            raise RuntimeError("unable to write to file </torch_1_2_3>: No space left on device (28)")
        return original(self)

    monkeypatch.setattr(torch.Tensor, "share_memory_", share_memory_)
    with pytest.raises(BuildAbortedError, match="worker failed: RuntimeError: unable to write.*No space left"):
        sync(tmp_path / "idx", manifest, tiny_model)
    monkeypatch.undo()
    assert_resumes(tmp_path / "idx", manifest, tiny_model, kept=2 * BATCH)


def test_a_file_size_limit_fails_the_build_cleanly_and_a_rerun_resumes(tmp_path, tiny_model_dir):
    small = make_collection(tmp_path / "small", 2, seed=1)
    big = make_collection(tmp_path / "big", 120, seed=2)
    idx = tmp_path / "idx"
    cli = [sys.executable, "-c", "from editsearch.cli.main import cli; cli()"]
    args = ["--index", str(idx), "--model", str(tiny_model_dir), "-q", "--batch-size", "8", "--workers", "1"]
    first = subprocess.run([*cli, "build-index", str(small), *args], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    limit = (idx / "catalog.db").stat().st_size + 40_000

    def cap_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    capped = subprocess.run(
        [*cli, "build-index", str(small), str(big), *args], capture_output=True, text=True, preexec_fn=cap_file_size
    )
    assert capped.returncode == 1, capped.stdout + capped.stderr
    assert "Traceback" not in capped.stderr and capped.stderr.count("Error:") == 1
    assert "File too large" in capped.stderr or "full" in capped.stderr or "disk" in capped.stderr, capped.stderr
    assert not [p for p in idx.iterdir() if p.name.endswith(".tmp")]
    rerun = subprocess.run([*cli, "build-index", str(small), str(big), *args], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    verified = subprocess.run([*cli, "verify", "--index", str(idx)], capture_output=True, text=True)
    assert verified.returncode == 0 and "edits: 122" in verified.stdout, verified.stdout
