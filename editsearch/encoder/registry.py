"""Named models -> (config, weights source), and `load_model`, the one way every command gets a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from editsearch.encoder import checkpoints as ck
from editsearch.encoder.config import EditCLIPConfig
from editsearch.encoder.model import EditCLIP, default_device

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

# The EditCLIP-mini architecture: a small 6-channel ViT projecting straight into MiniLM's 384-d space.
MINI_CONFIG = EditCLIPConfig(
    embed_dim=384,
    vision={"image_size": 112, "patch_size": 16, "width": 192, "layers": 6, "head_width": 64, "mlp_ratio": 4.0},
    text={"kind": "minilm"},
    name="editclip-mini",
)


@dataclass(frozen=True)
class ModelSource:
    """Where a named model's weights come from: kind is dir | hub | open_clip | random."""

    kind: str
    location: str
    description: str


MODELS: dict[str, ModelSource] = {
    "editclip-mini": ModelSource(
        "dir", str(WEIGHTS_DIR / "editclip-mini"), "EditCLIP-mini, trained here on synthetic edits, ships offline"
    ),
    "editclip-vit-l-14": ModelSource(
        "hub", "QWW/EditCLIP", "official EditCLIP, ViT-L/14 trained on InstructPix2Pix (1.7 GB download)"
    ),
    "clip-vit-b-32": ModelSource("open_clip", "ViT-B-32:openai", "OpenAI CLIP B/32, 6-ch init, not edit-trained"),
    "clip-vit-l-14": ModelSource("open_clip", "ViT-L-14:openai", "OpenAI CLIP L/14, 6-ch init (the paper start)"),
    "editclip-untrained-tiny": ModelSource(
        "random", "mini", "UNTRAINED: the mini architecture with random weights (seed 0); results are noise"
    ),
}

DEFAULT_MODEL = "editclip-mini"


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
    if name in MODELS:
        src = MODELS[name]
        if src.kind == "random":
            config = EditCLIPConfig.from_dict(MINI_CONFIG.to_dict() | {"name": name, "trained": False})
            return random_model(config).to(dev)
        if src.kind == "open_clip":
            arch, tag = src.location.split(":", 1)
            model = ck.from_open_clip(arch, tag, device=dev)
        elif src.kind == "dir":
            if not (Path(src.location) / "model.safetensors").exists():
                raise ck.WeightsNotFoundError(
                    f"the weights of {name!r} are missing from {src.location}; reinstall editsearch, "
                    "or train them with `editsearch train editclip` (see its MODEL_CARD.md)"
                )
            model = ck.load_own_dir(Path(src.location), dev)
        else:
            model = _load_dir_or_hub(src.location, dev)
        model.name = name
        return model
    if name.startswith("open_clip:"):
        _, arch, tag = name.split(":", 2)
        return ck.from_open_clip(arch, tag or None, device=dev)
    return _load_dir_or_hub(name, dev)


def _load_dir_or_hub(location: str, device: torch.device) -> EditCLIP:
    path = Path(location).expanduser()
    if not path.exists():
        if "/" not in location or location.startswith((".", "/", "~")):
            known = ", ".join(MODELS)
            raise ck.WeightsNotFoundError(f"no model named {location!r}: not a folder, not one of: {known}")
        path = ck.hub_snapshot(location)
    if not (path / "config.json").exists():
        raise ck.WeightsNotFoundError(f"{path} has no config.json; is it a model folder?")
    model = ck.load_hf_clip_dir(path, device) if ck.is_hf_clip_dir(path) else ck.load_own_dir(path, device)
    model.name = str(location)
    return model
