"""The one report every way of applying an edit gives: outputs, skipped inputs, settings, timings, its JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from editsearch.core.errors import items_exit_code

# The top-level keys of every method's `--json`; a method's own facts (its `details`) follow them.
REPORT_KEYS = ("method", "model", "demonstration", "editclip", "edit", "settings", "outputs", "failed", "timings")


@dataclass
class Applied:
    """One edited image: its input's position and name, the output, and its EC2EC when an EditCLIP scored it."""

    position: int
    image: str
    output: Image.Image
    ec2ec: float | None = None


@dataclass
class ApplyReport:
    """What one apply did: outputs, unreadable inputs (name, reason), the method's own facts, settings, timings.

    `model` is the pipeline that edited; `editclip` the EditCLIP that conditioned or scored it (None when none);
    `edit` the exemplar applied (None for a method that takes none); `demonstration` whether the shipped 64-px
    demonstration pipeline (editclip-ip2p-mini) made the outputs.
    """

    method: str
    model: str
    settings: dict[str, Any]
    edit: dict[str, Any] | None = None
    editclip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    outputs: list[Applied] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason)
    timings: dict[str, float] = field(default_factory=dict)
    demonstration: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every image was edited, 3 when some could not be read (each reported)."""
        return items_exit_code(len(self.failed))

    def to_json(self, paths: Sequence[str | Path]) -> dict[str, Any]:
        """The `--json` report, each output written to `paths[its position]`: REPORT_KEYS, then the details."""
        outputs = [
            {"image": a.image, "output": str(paths[a.position]), "size": list(a.output.size), "ec2ec": a.ec2ec}
            for a in self.outputs
        ]
        failed = [{"image": image, "reason": reason} for image, reason in self.failed]
        head = {"method": self.method, "model": self.model, "demonstration": self.demonstration}
        head |= {"editclip": self.editclip, "edit": self.edit, "settings": self.settings}
        return head | self.details | {"outputs": outputs, "failed": failed, "timings": self.timings}
