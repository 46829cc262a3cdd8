"""Checkpoint formats: our own directory, the official QWW/EditCLIP (HF CLIPModel), open_clip inits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from editsearch.core.errors import IncompatibleModelError, WeightsNotFoundError
from editsearch.encoder.config import OPENAI_MEAN, OPENAI_STD, EditCLIPConfig, open_clip_config
from editsearch.encoder.model import EditCLIP, widen_conv1
from editsearch.encoder.torch_stack import import_open_clip


def _read_state(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    st = directory / "model.safetensors"
    if st.exists():
        return load_file(str(st))
    pt = directory / "pytorch_model.bin"
    if pt.exists():
        return torch.load(pt, map_location="cpu", weights_only=True)
    raise WeightsNotFoundError(f"no model.safetensors or pytorch_model.bin in {directory}")


def is_hf_clip_dir(directory: Path) -> bool:
    """True for a transformers CLIPModel directory (config.json with a vision_config)."""
    cfg = directory / "config.json"
    return cfg.exists() and "vision_config" in json.loads(cfg.read_text())


def load_own_dir(directory: Path, device: torch.device) -> EditCLIP:
    """Load our format: config.json + model.safetensors."""
    config = EditCLIPConfig.load(directory / "config.json")
    model = EditCLIP(config)
    model.load_state_dict(_read_state(directory), strict=True)
    return model.to(device).eval()


# ----- official release: transformers CLIPModel -> open_clip layout --------------------------------
_BLOCK = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def hf_clip_config(hf: dict[str, Any], num_channels: int) -> EditCLIPConfig:
    """EditCLIPConfig for a transformers CLIPConfig dict; `num_channels` comes from the weights."""
    v, t = hf["vision_config"], hf["text_config"]
    vision = {
        "image_size": v.get("image_size", 224),
        "patch_size": v.get("patch_size", 32),
        "width": v["hidden_size"],
        "layers": v["num_hidden_layers"],
        "head_width": v["hidden_size"] // v["num_attention_heads"],
        "mlp_ratio": v["intermediate_size"] / v["hidden_size"],
    }
    text = {
        "kind": "open_clip",
        "context_length": t.get("max_position_embeddings", 77),
        "vocab_size": t.get("vocab_size", 49408),
        "width": t["hidden_size"],
        "heads": t["num_attention_heads"],
        "layers": t["num_hidden_layers"],
        "mlp_ratio": t["intermediate_size"] / t["hidden_size"],
    }
    acts = {v.get("hidden_act", "quick_gelu"), t.get("hidden_act", "quick_gelu")}
    if len(acts) != 1 or acts - {"quick_gelu", "gelu"}:
        raise IncompatibleModelError(f"unsupported CLIP activations {acts}; expected quick_gelu or gelu in both towers")
    return EditCLIPConfig(
        embed_dim=hf.get("projection_dim", 512),
        vision=vision,
        text=text,
        quick_gelu=acts == {"quick_gelu"},
        in_channels=num_channels,
        image_mean=OPENAI_MEAN,
        image_std=OPENAI_STD,
        name="editclip-hf",
        trained=True,
    )


def convert_hf_clip_state(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a transformers CLIPModel state dict to EditCLIP's (open_clip) keys; q/k/v -> packed in_proj."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    towers = {"vision_model": "visual.", "text_model": "text.model."}
    for key, val in sd.items():
        if key.endswith("position_ids"):
            continue
        if key == "visual_projection.weight":
            out["visual.proj"] = val.t().contiguous()
        elif key == "text_projection.weight":
            out["text.model.text_projection"] = val.t().contiguous()
        elif key == "logit_scale":
            out["logit_scale"] = val.reshape(())
        elif m := re.match(r"(vision_model|text_model)\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key):
            tower, layer, name, kind = m.groups()
            prefix = f"{towers[tower]}transformer.resblocks.{layer}."
            if pm := re.match(r"self_attn\.([qkv])_proj$", name):
                qkv.setdefault(f"{prefix}attn.in_proj_{kind}", {})[pm.group(1)] = val
            else:
                out[f"{prefix}{_BLOCK[name]}.{kind}"] = val
        else:
            out[_rename_embedding(key)] = val
    for key, parts in qkv.items():
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


def _rename_embedding(key: str) -> str:
    table = {
        "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
        "vision_model.embeddings.class_embedding": "visual.class_embedding",
        "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
        "text_model.embeddings.token_embedding.weight": "text.model.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "text.model.positional_embedding",
    }
    if key in table:
        return table[key]
    for hf, ours in (
        ("vision_model.pre_layrnorm.", "visual.ln_pre."),
        ("vision_model.post_layernorm.", "visual.ln_post."),
        ("text_model.final_layer_norm.", "text.model.ln_final."),
    ):
        if key.startswith(hf):
            return ours + key[len(hf) :]
    raise IncompatibleModelError(f"unexpected key in CLIPModel checkpoint: {key}")


def load_hf_clip_dir(directory: Path, device: torch.device) -> EditCLIP:
    """Load an official-format EditCLIP (transformers CLIPModel); num_channels is read off the weights."""
    hf = json.loads((directory / "config.json").read_text())
    sd = _read_state(directory)
    patch = sd["vision_model.embeddings.patch_embedding.weight"]
    config = hf_clip_config(hf, num_channels=patch.shape[1])
    model = EditCLIP(config)
    model.load_state_dict(convert_hf_clip_state(sd), strict=True)
    return model.to(device).eval()


# ----- init from open_clip pretrained tags ---------------------------------------------------------
def from_open_clip(
    arch: str,
    pretrained: str | None,
    text_kind: str = "open_clip",
    device: torch.device | None = None,
    pair_fusion: str = "channels",
) -> EditCLIP:
    """An EditCLIP initialised from open_clip 3-channel weights (loaded before widening to 6 for channels)."""
    open_clip = import_open_clip()
    quick_gelu = pretrained == "openai"
    config = open_clip_config(arch, text_kind=text_kind, quick_gelu=quick_gelu).with_fusion(pair_fusion)
    config.name = f"{arch}/{pretrained}" if pretrained else arch
    model = EditCLIP(config, widen=False)
    if pretrained:
        try:
            clip = open_clip.create_model(arch, pretrained=pretrained, force_quick_gelu=quick_gelu)
        except Exception as e:  # noqa: BLE001 - download/cache failures come in many types
            raise WeightsNotFoundError(
                f"open_clip weights {arch!r} / {pretrained!r} are not in the local cache and cannot be "
                f"downloaded here ({type(e).__name__}: {str(e).splitlines()[0][:160]}). Fetch them once on "
                f"a machine with network (python -c \"import open_clip; open_clip.create_model('{arch}', "
                f"pretrained='{pretrained}')\") and copy the Hugging Face cache (~/.cache/huggingface), or "
                f"pass a local checkpoint file as the pretrained tag: --model open_clip:{arch}:/path/to/file.bin"
            ) from None
        model.visual.load_state_dict(clip.visual.state_dict())
        if text_kind == "open_clip":
            text_sd = {
                k: v
                for k, v in clip.state_dict().items()
                if not k.startswith("visual.") and k not in ("logit_scale", "logit_bias", "attn_mask")
            }
            model.text.model.load_state_dict(text_sd, strict=True)
            model.logit_scale.data.copy_(clip.logit_scale.data.reshape(()))
    widen_conv1(model.visual, config.in_channels)
    return model.to(device or torch.device("cpu")).eval()
