"""The index's FAISS layer and the Ray engine raise the project's errors, each one line a user can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from editsearch.core.errors import EditSearchError, UsageError
from editsearch.index.errors import EditIndexError, ModelMismatchError
from editsearch.index.vectors import FAISS_FILE, CacheMismatchError, VectorIndex, resolve_kind
from editsearch.scale.jobs import EngineError, ShardJob


def test_an_unknown_index_type_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown index type 'lsh'; expected one of"):
        resolve_kind("lsh", 1)
    with pytest.raises(UsageError, match="needs vectors to train on"):
        VectorIndex.empty("ivf", 8, 10, np.zeros((0, 8), np.float32))


def test_an_unreadable_faiss_file_is_an_index_error(tmp_path):
    x = np.eye(8, dtype=np.float32)
    VectorIndex.build("flat", 8, np.arange(8), x).save(tmp_path, 1, "fp")
    (tmp_path / FAISS_FILE).write_bytes(b"garbage!" * 100)
    with pytest.raises(CacheMismatchError) as info:
        VectorIndex.load(tmp_path)
    assert isinstance(info.value, EditIndexError) and "vectors.faiss" in str(info.value)


def test_ray_engine_errors_are_editsearch_errors(tiny_model_dir):
    from editsearch.scale.ray_engine import EmbedActor, _collect

    class NoBatches:
        def iter_batches(self, **_kwargs):
            return iter(())

    with pytest.raises(EngineError, match="incomplete results for 1 shard") as info:
        list(_collect(NoBatches(), [ShardJob(Path("/data/a.jsonl"), Path("/out/a.parquet"), "")], None))
    assert isinstance(info.value, EditSearchError)
    with pytest.raises(ModelMismatchError, match="same weights"):
        EmbedActor(str(tiny_model_dir), "0" * 64, 0)
