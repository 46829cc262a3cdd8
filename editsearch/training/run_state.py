"""The checkpoint layout of every trainer: OUT/checkpoints/step-NNNNNNN, complete once its state file exists.

A checkpoint is written by `accelerate` first and its `state.json` ({"step": n}) last, so a run killed while
saving leaves a folder without a state file, which resuming ignores. Runs from before this layout (EditCLIP's
`step-N` folders with a `progress.json`) are recognised and resume the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from editsearch.core.files import write_atomic

CHECKPOINTS = "checkpoints"
STATE_NAME = "state.json"
LEGACY_STATE_NAMES = ("progress.json",)  # EditCLIP runs saved before this layout


def checkpoint_dir(out: Path, step: int) -> Path:
    """The folder of the checkpoint taken after `step` steps."""
    return Path(out) / CHECKPOINTS / f"step-{step:07d}"


def checkpoint_step(path: Path) -> int | None:
    """The step a checkpoint folder holds, or None when it is incomplete (no state file)."""
    for name in (STATE_NAME, *LEGACY_STATE_NAMES):
        if (path / name).is_file():
            return int(json.loads((path / name).read_text())["step"])
    return None


def complete_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint under OUT, oldest first."""
    found = []
    for path in (Path(out) / CHECKPOINTS).glob("step-*"):
        step = checkpoint_step(path) if path.is_dir() else None
        if step is not None:
            found.append((step, path))
    return sorted(found)


def latest_checkpoint(out: Path) -> tuple[int, Path] | None:
    """(step, folder) of the newest complete checkpoint under OUT, if any."""
    done = complete_checkpoints(out)
    return done[-1] if done else None


def save_checkpoint(accelerator: Any, out: Path, step: int, keep: int) -> Path:
    """Save the accelerate state after `step` steps, mark it complete, and keep only the newest `keep` (0: all)."""
    path = checkpoint_dir(out, step)
    accelerator.save_state(str(path))
    accelerator.wait_for_everyone()  # every process has written its part before the state file says "complete"
    if accelerator.is_main_process:
        write_atomic(path / STATE_NAME, json.dumps({"step": step}) + "\n")
        prune_checkpoints(out, keep)
    return path


def prune_checkpoints(out: Path, keep: int) -> None:
    """Delete all but the newest `keep` complete checkpoints (0: keep all), and unfinished ones older than those."""
    done = complete_checkpoints(out)
    if not done:
        return
    for _, old in done[: max(0, len(done) - keep)] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    newest = done[-1][0]
    for path in (Path(out) / CHECKPOINTS).glob("step-*"):
        if path.is_dir() and checkpoint_step(path) is None and _folder_step(path) < newest:
            shutil.rmtree(path, ignore_errors=True)


def _folder_step(path: Path) -> int:
    """The step in a checkpoint folder's name (-1 when the name holds none)."""
    tail = path.name.removeprefix("step-")
    return int(tail) if tail.isdigit() else -1
