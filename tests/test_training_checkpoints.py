"""The checkpoint layout every trainer shares: complete once the state file is written, newest kept, old runs read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from editsearch.training.recipes import data_sources
from editsearch.training.run_state import (
    checkpoint_dir,
    complete_checkpoints,
    latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)


class FakeAccelerator:
    """Just enough of accelerate.Accelerator for save_checkpoint; records what existed when it saved."""

    is_main_process = True

    def __init__(self) -> None:
        self.state_file_seen_at_save: list[bool] = []

    def save_state(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "model.safetensors").write_bytes(b"weights")
        self.state_file_seen_at_save.append((Path(path) / "state.json").exists())

    def wait_for_everyone(self) -> None:
        pass


def test_the_state_file_is_written_last_and_only_complete_checkpoints_count(tmp_path) -> None:
    acc = FakeAccelerator()
    for step in (10, 20, 30):
        save_checkpoint(acc, tmp_path, step, keep=2)
    assert acc.state_file_seen_at_save == [False, False, False]
    assert [s for s, _ in complete_checkpoints(tmp_path)] == [20, 30]  # pruned to the newest two
    assert json.loads((checkpoint_dir(tmp_path, 30) / "state.json").read_text()) == {"step": 30}
    checkpoint_dir(tmp_path, 40).mkdir()  # killed while saving: no state file
    (checkpoint_dir(tmp_path, 40) / "model.safetensors").write_bytes(b"half")
    assert latest_checkpoint(tmp_path) == (30, checkpoint_dir(tmp_path, 30))


def test_old_layout_is_recognised_and_steps_sort_as_numbers(tmp_path) -> None:
    for step in (9, 10):  # EditCLIP's earlier layout: step-N + progress.json
        (tmp_path / "checkpoints" / f"step-{step}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"step-{step}" / "progress.json").write_text(json.dumps({"step": step}))
    assert latest_checkpoint(tmp_path) == (10, tmp_path / "checkpoints" / "step-10")
    assert latest_checkpoint(tmp_path / "nothing-here") is None


def test_pruning_drops_unfinished_checkpoints_older_than_the_newest_complete(tmp_path) -> None:
    acc = FakeAccelerator()
    save_checkpoint(acc, tmp_path, 1, keep=0)
    checkpoint_dir(tmp_path, 2).mkdir()  # unfinished, superseded by step 3
    checkpoint_dir(tmp_path, 5).mkdir()  # unfinished, newer: it will be written again when step 5 is reached
    save_checkpoint(acc, tmp_path, 3, keep=0)  # keep=0 keeps every complete one
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step-0000001",
        "step-0000003",
        "step-0000005",
    ]
    prune_checkpoints(tmp_path, keep=1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-0000003", "step-0000005"]


def test_data_values_name_sources_or_synthetic_edits() -> None:
    from editsearch.core.errors import UsageError

    assert data_sources([]) == () and data_sources(["synthetic"]) == ()
    assert data_sources(["a.jsonl", "b"]) == ("a.jsonl", "b")
    with pytest.raises(UsageError, match="cannot be mixed"):
        data_sources(["synthetic", "a.jsonl"])
