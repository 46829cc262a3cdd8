"""VISII on an EditCLIP-conditioned InstructPix2Pix (e.g. the shipped editclip-ip2p-mini): invert its conditioning.

Such a pipeline has no text encoder: its UNet is conditioned on the exemplar's EditCLIP tokens through a
projector. VISII's idea carries over unchanged: keep the pipeline frozen and optimise its conditioning so that
it maps the exemplar's before to its after. The learned instruction is the projected token sequence [T, D]
(what the projector outputs), starting from the exemplar's own (the mean over pairs for n pairs), which is what
`apply --method editclip` conditions on. There is no text tower, so no CLIP-direction term, no hybrid text
and no initial text: the loss is the reconstruction term alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from editsearch.core.errors import UsageError
from editsearch.transfer.visii import InversionSettings, Pair, VisiiBase

TEXT_ONLY = {"init_text": "--init-text", "tokens": "--tokens", "lambda_clip": "--lambda-clip"}


class EditVisii(VisiiBase):
    """An EditTransfer whose projected EditCLIP conditioning is learned from exemplar pairs, then applied."""

    def __init__(self, transfer: Any, name: str = "") -> None:
        self.transfer = transfer
        self.pipe = transfer.pipe
        self.name = name
        self.clip_name = ""

    @classmethod
    def from_pretrained(cls, model: str | Path, device: str | None = None) -> EditVisii:
        """Load an EditCLIP-IP2P pipeline (registry name, folder or hub id) in float32, as VISII optimises."""
        from editsearch.transfer.pipeline import EditTransfer

        name = str(model)
        if Path(name).expanduser().exists():  # a folder is named by its absolute path (the catalog's reuse key)
            name = str(Path(name).expanduser().resolve())
        return cls(EditTransfer.from_pretrained(model, device=device, dtype=torch.float32), name)

    @property
    def tokens(self) -> int:
        """How many conditioning tokens the pipeline takes: one per EditCLIP vision token (CLS included)."""
        return int(self.transfer.editclip.visual.positional_embedding.shape[0])

    def settings(self, **given: Any) -> InversionSettings:
        """The paper's settings without the CLIP term; the text-only options are refused, naming them."""
        text_only = [flag for key, flag in TEXT_ONLY.items() if given.get(key)]
        if text_only:
            raise UsageError(
                f"{', '.join(text_only)} need a text-conditioned InstructPix2Pix (--model, e.g. "
                f"timbrooks/instruct-pix2pix); {self.name} is EditCLIP-conditioned: VISII learns its conditioning "
                "tokens from the exemplar's own, with the reconstruction term alone"
            )
        given = {k: v for k, v in given.items() if k not in TEXT_ONLY}
        return InversionSettings(**given, lambda_clip=0.0, tokens=self.tokens, clip="")

    def initial(self, pairs: Sequence[Pair], settings: InversionSettings) -> torch.Tensor:
        """The pairs' projected EditCLIP tokens, averaged over pairs: what the default method conditions on."""
        if settings.init_text or settings.lambda_clip:
            raise UsageError("an EditCLIP-conditioned pipeline takes no initial text and has no CLIP term")
        encoded = [self.transfer.encode_edit(before, after)[0].float().cpu() for before, after in pairs]
        return torch.stack(encoded).mean(0).clone()

    def condition(self, learned: torch.Tensor, text: str | None = None) -> torch.Tensor:
        """The learned tokens themselves, batched: [1, T, D]."""
        self.refuse_text(text)
        return learned.unsqueeze(0).to(self.device, self.dtype)

    def unconditional(self, cond: torch.Tensor) -> torch.Tensor:
        """Zeros: the dropped-edit condition the pipeline was trained with."""
        return torch.zeros_like(cond)

    def frozen_parts(self) -> list[tuple[str, torch.nn.Module | str]]:
        """The UNet, the VAE, the projector and the EditCLIP (by its own fingerprint) that encodes the start."""
        parts: list[tuple[str, torch.nn.Module | str]] = [("unet", self.pipe.unet), ("vae", self.pipe.vae)]
        return [*parts, ("projector", self.transfer.projector), ("editclip", self.transfer.editclip.fingerprint)]
