"""Opportunistic batching of the text tower: concurrent callers share batches and each gets its own rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from editsearch.core.errors import UsageError
from editsearch.towers.coalesce import Coalescer, _Request

WAIT = 60  # generous bound for a thread to arrive on a loaded machine


def rows_of(texts: list[str]) -> np.ndarray:
    """A stand-in tower: one row per text, [len(text), first letter's code]."""
    return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def test_callers_that_arrive_during_a_batch_share_the_next_one():
    first_running, release = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def run(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if len(calls) == 1:  # hold the first batch until the others have queued
            first_running.set()
            assert release.wait(WAIT)
        return rows_of(texts)

    batcher = Coalescer(run)
    results: dict[str, np.ndarray] = {}

    def ask(text: str) -> None:
        results[text] = batcher([text, text + "!"])

    lead = threading.Thread(target=ask, args=("a",))
    lead.start()
    assert first_running.wait(WAIT)
    others = [threading.Thread(target=ask, args=(c * (i + 2),)) for i, c in enumerate("bcdefgh")]
    for t in others:
        t.start()
    for _ in range(WAIT * 100):  # until all seven wait in the queue
        with batcher._lock:
            if len(batcher._queue) == 7:
                break
        threading.Event().wait(0.01)
    release.set()
    for t in [lead, *others]:
        t.join(WAIT)
    assert len(calls) == 2 and len(calls[1]) == 14  # the seven waiting callers ran as one batch
    for text, rows in results.items():
        np.testing.assert_array_equal(rows, rows_of([text, text + "!"]))
    assert not batcher._busy and not batcher._queue


def test_a_lone_caller_runs_at_once_and_a_failing_input_fails_only_its_caller():
    def run(texts: list[str]) -> np.ndarray:
        if "bad" in texts:
            raise ValueError("cannot embed 'bad'")
        return rows_of(texts)

    batcher = Coalescer(run)
    np.testing.assert_array_equal(batcher(["x"]), rows_of(["x"]))
    good = _Request(["ok"])  # a caller already queued when "bad" arrives: the two run as one batch
    batcher._queue.append(good)
    with pytest.raises(ValueError, match="bad"):
        batcher(["bad"])  # ran after the queued "ok" request in one batch, then each alone
    np.testing.assert_array_equal(good.rows, rows_of(["ok"]))
    assert good.error is None
    np.testing.assert_array_equal(batcher(["y"]), rows_of(["y"]))  # the batcher still serves


def test_searchers_sharing_an_embedder_share_its_text_cache(tmp_path, tiny_model):
    from index_fixtures import make_collection

    from editsearch.encoder.embedder import Embedder
    from editsearch.index.store import EditIndex
    from editsearch.search.api import EditSearch, embed_query_texts

    manifest = make_collection(tmp_path / "data", 4)
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.sync([manifest], tiny_model, batch_size=4, workers=0)
    embedder = Embedder(tiny_model)
    calls: list[list[str]] = []
    embed = embedder.text_vectors
    embedder.text_vectors = lambda texts: calls.append(list(texts)) or embed(texts)  # type: ignore[method-assign]
    embed_query_texts(embedder, ["make it brighter", 2])  # as the server does before it takes a reader
    assert calls == [["make it brighter"]]
    with (
        EditSearch.open(tmp_path / "idx", model=embedder) as one,
        EditSearch.open(tmp_path / "idx", model=embedder) as two,
    ):
        first = one.search_text("make it brighter", k=2)
        assert two.search_text("make it brighter", k=2) == first
    assert calls == [["make it brighter"]]  # neither searcher ran the text tower again
    with pytest.raises(UsageError, match="at least one term"):
        embed_query_texts(embedder, [])
