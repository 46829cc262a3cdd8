"""What a model folder holds, read from its JSON files before any loader runs: the right kind, and no custom code.

A loader given a folder of the wrong kind fails deep inside diffusers or transformers (or, worse, loads and
fails at the first step); one whose JSON names a class of its own would want to run the folder's code. These
checks read only the JSON files, name what the folder is and what the method needs, and never import or run
anything from the folder: every class a folder may name is a stock diffusers or transformers one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editsearch.core.errors import IncompatibleModelError, WeightsNotFoundError

EDITCLIP_WEIGHTS = "image_proj_model.pt"  # what makes an InstructPix2Pix folder EditCLIP-conditioned
# The components a stock text-conditioned pipeline loads, and the stock classes each may be.
STOCK_COMPONENTS: dict[str, set[tuple[str, str]]] = {
    "unet": {("diffusers", "UNet2DConditionModel")},
    "vae": {("diffusers", "AutoencoderKL")},
    "text_encoder": {("transformers", "CLIPTextModel"), ("transformers", "CLIPTextModelWithProjection")},
    "tokenizer": {("transformers", "CLIPTokenizer"), ("transformers", "CLIPTokenizerFast")},
}
SKIPPED_COMPONENTS = ("safety_checker", "feature_extractor", "image_encoder")  # passed as None: never loaded
CUSTOM_CODE = "editsearch never runs a model folder's own code (trust_remote_code stays off)"
COMPONENT_JSON = ("config.json", "scheduler_config.json", "tokenizer_config.json")
TRANSFORMERS_JSON = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")


@dataclass(frozen=True)
class PipelineKind:
    """A stock diffusers pipeline a method loads: its class, its UNet's input channels, an example, the option."""

    class_name: str
    in_channels: int
    what: str
    method: str
    option: str
    example: str

    @property
    def needs(self) -> str:
        """What the method needs, in words."""
        return (
            f"{self.method} needs a {self.what} ({self.class_name}: unet/ taking {self.in_channels} channels, "
            f"vae/, text_encoder/, tokenizer/): pass {self.option} with such a diffusers folder or hub id "
            f"(e.g. {self.example})"
        )


def read_json(path: Path) -> Any:
    """A JSON file's value, or None when it is absent or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def unet_channels(folder: Path) -> Any:
    """The input channels a pipeline folder's unet/config.json names (None when it names none)."""
    config = read_json(folder / "unet" / "config.json")
    return config.get("in_channels") if isinstance(config, dict) else None


def describe(folder: Path) -> str:
    """What a folder holds, in a few words, from its JSON files (for messages)."""
    if not folder.is_dir():
        return "not a folder"
    if not any(folder.iterdir()):
        return "an empty folder"
    index = read_json(folder / "model_index.json")
    if isinstance(index, dict) and isinstance(index.get("_class_name"), str):
        conditioned = ", EditCLIP-conditioned" if (folder / EDITCLIP_WEIGHTS).is_file() else ""
        return f"a diffusers pipeline folder ({index['_class_name']}{conditioned})"
    if (folder / "model_index.json").exists():
        return "a folder whose model_index.json names no pipeline class"
    config = read_json(folder / "config.json")
    if isinstance(config, dict) and config.get("format") == "editsearch-editclip":
        return f"an EditCLIP model folder ({config.get('name') or 'editsearch format'}), not a diffusion pipeline"
    if isinstance(config, dict) and isinstance(config.get("model_type"), str):
        architectures = ", ".join(str(a) for a in config.get("architectures") or []) or "no architecture named"
        return f"a transformers {config['model_type']} model folder ({architectures})"
    if isinstance(config, dict) and isinstance(config.get("_class_name"), str):
        return f"a diffusers {config['_class_name']} folder, not a whole pipeline"
    return "a folder with neither model_index.json nor config.json"


def check_stock_pipeline(folder: Path, kind: PipelineKind) -> None:
    """Refuse a folder that is not a stock `kind` pipeline, or whose JSON names custom code; read nothing else."""
    index = read_json(folder / "model_index.json")
    if isinstance(index, dict) and index.get("_class_name") != kind.class_name:
        raise IncompatibleModelError(f"{folder} is {describe(folder)}; {kind.needs}")
    missing = [part for part in ("unet", "vae", "text_encoder", "tokenizer") if not (folder / part).is_dir()]
    if missing or not isinstance(index, dict):
        lacks = ", ".join(f"{part}/" for part in missing) if missing else "model_index.json"
        raise WeightsNotFoundError(f"{folder} is {describe(folder)}: it lacks {lacks}; {kind.needs}")
    for part, entry in index.items():
        if part.startswith("_") or part in SKIPPED_COMPONENTS or not isinstance(entry, list):
            continue
        named = tuple(entry) if len(entry) == 2 and all(isinstance(x, (str, type(None))) for x in entry) else ()
        stock = named in STOCK_COMPONENTS.get(part, set()) or _stock_scheduler(part, named)
        if named != (None, None) and not stock:
            raise IncompatibleModelError(
                f"{folder}/model_index.json names {'.'.join(map(str, entry))} for {part}, not a stock class: "
                f"{CUSTOM_CODE}; {kind.needs}"
            )
    parts = [part for part in index if not part.startswith("_")]
    check_no_custom_code(folder, [f"{part}/{name}" for part in parts for name in COMPONENT_JSON])
    channels = unet_channels(folder)
    if channels != kind.in_channels:
        raise IncompatibleModelError(f"{folder}'s UNet takes {channels} input channels; {kind.needs}")


def check_editclip_pipeline(folder: Path) -> None:
    """Refuse an EditCLIP-IP2P folder whose UNet cannot take the image latents (8 input channels)."""
    channels = unet_channels(folder)
    if channels is not None and channels != 8:
        raise IncompatibleModelError(
            f"{folder}'s UNet takes {channels} input channels, not the 8 of an InstructPix2Pix (noisy latents and "
            "the image's): it is not an EditCLIP-IP2P pipeline"
        )


def check_transformers_folder(folder: Path, model_types: set[str] | None, needs: str, avoid: str = "") -> str:
    """A transformers folder's model_type, after refusing one without config.json, of another type, or custom code.

    `model_types` None accepts any type transformers knows as a causal LM.
    """
    config = read_json(folder / "config.json")
    if not isinstance(config, dict):
        problem = "its config.json is not a JSON object" if (folder / "config.json").exists() else "no config.json"
        raise WeightsNotFoundError(f"{folder} is {describe(folder)} ({problem}); {needs}{avoid}")
    check_no_custom_code(folder, TRANSFORMERS_JSON)
    model_type = config.get("model_type")
    known = model_types if model_types is not None else causal_lm_types()
    if not isinstance(model_type, str) or model_type not in known:
        raise IncompatibleModelError(f"{folder} is {describe(folder)}; {needs}{avoid}")
    return str(model_type)


def check_no_custom_code(folder: Path, names: list[str] | tuple[str, ...]) -> None:
    """Refuse a folder whose JSON files (`names`, relative) map a class to the folder's own code (auto_map)."""
    for name in names:
        data = read_json(folder / name)
        if isinstance(data, dict) and "auto_map" in data:
            raise IncompatibleModelError(
                f"{folder / name} maps its classes to code in the folder (auto_map): {CUSTOM_CODE}; pass a folder "
                "of a stock architecture"
            )


def causal_lm_types() -> set[str]:
    """The model types transformers loads as a causal LM with its own classes."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def _stock_scheduler(part: str, named: tuple[Any, ...]) -> bool:
    """True for diffusers' own scheduler classes, the only ones a scheduler entry may name."""
    if part != "scheduler" or len(named) != 2 or named[0] != "diffusers" or not isinstance(named[1], str):
        return False
    import diffusers

    return named[1].endswith("Scheduler") and hasattr(diffusers, named[1])
