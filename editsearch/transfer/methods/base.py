"""What every way of applying an edit offers: a name, a summary, defaults, options, models, and one `apply`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from editsearch.media.images import ImageLike
from editsearch.transfer.methods.report import ApplyReport

SHARED_SETTINGS = ("steps", "edit_guidance", "image_guidance")  # what each method defaults in its own way


def _silent(message: str) -> None:
    """Drop a note (the default where nobody reads stderr)."""


@dataclass(frozen=True)
class ExemplarChoice:
    """Which exemplar to apply: an indexed edit (`edit_id` in the index `index_dir`) or a before/after pair."""

    index_dir: str | Path | None = None
    edit_id: int | None = None
    before: ImageLike | None = None
    after: ImageLike | None = None

    @property
    def given(self) -> bool:
        """Whether any exemplar was named (an edit id, a before or an after)."""
        return any(v is not None for v in (self.edit_id, self.before, self.after))


@dataclass(frozen=True)
class ModelNeed:
    """A model a method loads: what it is for, the option that names it, its default (None: none unless named)."""

    role: str
    option: str
    default: str | None = None


@dataclass
class ApplyRequest:
    """One apply: the images, the exemplar, the shared settings (None: the method's default), its own options.

    `notify` receives the notes and progress lines a user should see (the CLI writes them to stderr);
    `progress_bars` shows the diffusion pipeline's own progress bars.
    """

    images: Sequence[ImageLike]
    exemplar: ExemplarChoice = field(default_factory=ExemplarChoice)
    steps: int | None = None
    seed: int = 0
    edit_guidance: float | None = None
    image_guidance: float | None = None
    size: int | None = None
    model: str | None = None
    editclip: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    notify: Callable[[str], None] = _silent
    progress_bars: bool = False

    def settings(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The shared settings, each not given taken from a method's `defaults`."""
        return {k: defaults[k] if getattr(self, k) is None else getattr(self, k) for k in SHARED_SETTINGS}

    def own(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """A method's own options: each given one, the others at their value in `options` (the method's)."""
        return {k: v if self.options.get(k) is None else self.options[k] for k, v in options.items()}


@runtime_checkable
class EditMethod(Protocol):
    """A way to apply an edit. Importing one is light: it loads its models (and torch) only in `apply`."""

    name: str  # what `apply --method` and the registry call it
    summary: str  # one line: what it does and what it costs
    defaults: Mapping[str, Any]  # its value of each SHARED_SETTINGS entry
    options: Mapping[str, Any]  # its own options, each at its value when not given (None: chosen per model)
    models: tuple[ModelNeed, ...]  # what it loads

    def check(self, request: ApplyRequest) -> None:
        """UsageError for a request that cannot work, before anything is read or loaded."""
        ...

    def apply(self, request: ApplyRequest) -> ApplyReport:
        """Check, load the models, edit each readable image (the others reported) and report."""
        ...
