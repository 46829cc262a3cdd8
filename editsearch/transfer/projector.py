"""EditProjector: Linear + LayerNorm from EditCLIP vision tokens to the UNet's cross-attention space."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from editsearch.core.errors import IncompatibleModelError, UsageError
from editsearch.encoder import WeightsNotFoundError

OFFICIAL_WEIGHTS = "image_proj_model.pt"  # the official release's file name (keys proj.*, norm.*)
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class EditProjector(nn.Module):
    """Project every token: [N, T, vision_width] -> LayerNorm(Linear(x)) [N, T, cross_attention_dim]."""

    def __init__(self, vision_width: int, cross_attention_dim: int) -> None:
        super().__init__()
        self.vision_width = vision_width
        self.cross_attention_dim = cross_attention_dim
        self.proj = nn.Linear(vision_width, cross_attention_dim)
        self.norm = nn.LayerNorm(cross_attention_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """EditCLIP tokens [N, T, vision_width] (or [T, vision_width]) -> conditioning [N, T, cross_dim]."""
        if tokens.ndim == 2:
            tokens = tokens.unsqueeze(0)
        if tokens.ndim != 3 or tokens.shape[-1] != self.vision_width:
            raise UsageError(f"expected tokens [N, T, {self.vision_width}], got {tuple(tokens.shape)}")
        return self.norm(self.proj(tokens))

    @staticmethod
    def null_condition(projected: torch.Tensor) -> torch.Tensor:
        """The unconditional (dropped-edit) condition: zeros shaped like the projected tokens."""
        return torch.zeros_like(projected)

    # ----- persistence -------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors (our format)."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        config = {"vision_width": self.vision_width, "cross_attention_dim": self.cross_attention_dim}
        (out / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        state = {k: v.detach().cpu().float().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "editsearch-projector"})
        return out

    def save_official(self, path: str | Path) -> Path:
        """Write the official `image_proj_model.pt` (a torch state dict with proj.* and norm.* keys)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu().float().contiguous() for k, v in self.state_dict().items()}, path)
        return path

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> EditProjector:
        """Build a projector whose sizes are read off a proj.*/norm.* state dict."""
        missing = {"proj.weight", "proj.bias", "norm.weight", "norm.bias"} - set(state)
        if missing:
            raise IncompatibleModelError(f"not a projector state dict: missing {sorted(missing)}")
        out_dim, in_dim = state["proj.weight"].shape
        cross_dim = state["norm.weight"].shape[0]
        if out_dim != cross_dim:
            raise IncompatibleModelError(
                f"projector emits {out_dim // cross_dim} tokens per input token (proj {out_dim} vs norm "
                f"{cross_dim}); only one context token per token is supported (the EditCLIP-IP2P layout)"
            )
        projector = cls(in_dim, cross_dim)
        projector.load_state_dict(state, strict=True)
        return projector

    @classmethod
    def from_pretrained(cls, path: str | Path) -> EditProjector:
        """Load our folder (config.json + model.safetensors), a folder holding image_proj_model.pt, or that file."""
        path = Path(path).expanduser()
        if path.is_dir() and (path / WEIGHTS_NAME).exists():
            from safetensors.torch import load_file

            config = json.loads((path / CONFIG_NAME).read_text())
            projector = cls(config["vision_width"], config["cross_attention_dim"])
            projector.load_state_dict(load_file(str(path / WEIGHTS_NAME)), strict=True)
            return projector
        file = path / OFFICIAL_WEIGHTS if path.is_dir() else path
        if not file.is_file():
            raise WeightsNotFoundError(f"no projector weights at {path} ({WEIGHTS_NAME} or {OFFICIAL_WEIGHTS})")
        return cls.from_state_dict(torch.load(file, map_location="cpu", weights_only=True))
