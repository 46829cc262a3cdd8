"""Named models -> (config, weights source), and `load_model`, the one way every command gets a model."""

from __future__ import annotations

from pathlib import Path

import torch

from editsearch.core.errors import WeightsNotFoundError
from editsearch.core.hub import hub_snapshot, resolve_source
from editsearch.encoder import checkpoints as ck
from editsearch.encoder.config import EditCLIPConfig
from editsearch.encoder.model import EditCLIP, default_device
from editsearch.encoder.names import DEFAULT_MODEL, MODELS, TRAIN_COMMANDS

# The EditCLIP-mini architecture: a small 6-channel ViT projecting straight into MiniLM's 384-d space.
MINI_CONFIG = EditCLIPConfig(
    embed_dim=384,
    vision={"image_size": 112, "patch_size": 16, "width": 192, "layers": 6, "head_width": 64, "mlp_ratio": 4.0},
    text={"kind": "minilm"},
    name="editclip-mini",
)


def random_model(config: EditCLIPConfig, seed: int = 0) -> EditCLIP:
    """A deterministic random-init EditCLIP of `config` (for tests and untrained baselines)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EditCLIP(config)
    return model.eval()


def load_model(name_or_path: str | Path | None = None, device: str | torch.device | None = None) -> EditCLIP:
    """Load a model by registry name, by directory (ours or an official HF CLIPModel), or by hub id."""
    dev = torch.device(device) if device is not None else default_device()
    name = str(name_or_path or DEFAULT_MODEL)
    if name.startswith("open_clip:"):
        _, arch, tag = name.split(":", 2)
        return ck.from_open_clip(arch, tag or None, device=dev)
    src = resolve_source(name, MODELS, "model")
    if src.kind == "random":
        config = EditCLIPConfig.from_dict(MINI_CONFIG.to_dict() | {"name": name, "trained": False})
        return random_model(config).to(dev)
    if src.kind == "open_clip":
        arch, tag = src.location.split(":", 1)
        model = ck.from_open_clip(arch, tag, device=dev)
    else:
        path = Path(src.location) if src.kind == "dir" else hub_snapshot(src.location, "the model")
        model = _load_dir(name, path, dev)
    model.name = name
    return model


def _load_dir(name: str, path: Path, device: torch.device) -> EditCLIP:
    """Our format or an official HF CLIPModel, from a folder; a shipped model without its weights says how to fix."""
    if name in MODELS and not (path / "model.safetensors").exists():
        if name in TRAIN_COMMANDS:
            raise WeightsNotFoundError(
                f"the weights of {name!r} are not in this install ({path}); train them with "
                f"`{TRAIN_COMMANDS[name]}`, then pass --model RUN/model or copy RUN/model to {path}"
            )
        raise WeightsNotFoundError(
            f"the weights of {name!r} are missing from {path}; reinstall editsearch, "
            "or train them with `editsearch train editclip` (see its MODEL_CARD.md)"
        )
    if not (path / "config.json").exists():
        raise WeightsNotFoundError(f"{path} has no config.json; is it a model folder?")
    return ck.load_hf_clip_dir(path, device) if ck.is_hf_clip_dir(path) else ck.load_own_dir(path, device)
