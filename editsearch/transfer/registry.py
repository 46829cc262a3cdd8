"""Named edit-transfer pipelines, and resolving a name, folder or hub id to a local pipeline folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from editsearch.encoder import WeightsNotFoundError
from editsearch.encoder.registry import WEIGHTS_DIR


@dataclass(frozen=True)
class PipelineSource:
    """Where a named pipeline comes from: kind is dir | hub."""

    kind: str
    location: str
    description: str


TINY_NAME = "editclip-ip2p-mini"
OFFICIAL_HUB_ID = "QWW/EditCLIP-IP2P"
OFFICIAL_EDITCLIP = "editclip-vit-l-14"  # the encoder the official release was trained with
TRAIN_TINY_HINT = (  # the recipe of the shipped pipeline (MODEL_CARD.md beside it)
    "editsearch train vae --out RUN/vae --init tiny --synthetic --steps 5000, then "
    "editsearch train ip2p --init tiny --size 64 --editclip editclip-mini --synthetic --vae RUN/vae "
    "--lpips-weight 0 --lr 4e-4 --lr-schedule cosine --lr-warmup 300 --zero-snr --batch-size 32 --steps 10000 "
    f"--cache 24000 --out RUN/ip2p --export {WEIGHTS_DIR / TINY_NAME}"
)

PIPELINES: dict[str, PipelineSource] = {
    TINY_NAME: PipelineSource(
        "dir", str(WEIGHTS_DIR / TINY_NAME), "tiny IP2P (64 px) on EditCLIP-mini, trained here on synthetic edits"
    ),
    "editclip-ip2p": PipelineSource(
        "hub", OFFICIAL_HUB_ID, "official EditCLIP-IP2P (SD 1.5 InstructPix2Pix fine-tuned, 512 px, ~4 GB)"
    ),
}
DEFAULT_PIPELINE = TINY_NAME

# What a pipeline folder needs; anything else in the official repo (text encoder, safety checker) is skipped.
NEEDED_FILES = ["model_index.json", "unet/*", "vae/*", "scheduler/*", "image_proj_model.pt", "editsearch.json"]


def _is_pipeline_dir(path: Path) -> bool:
    return (path / "unet").is_dir() and (path / "vae").is_dir()


def _hub_folder(repo_id: str) -> Path:
    """The needed files of a hub repo, from the cache when offline; WeightsNotFoundError with a how-to if absent."""
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=NEEDED_FILES, local_files_only=offline))
    except Exception as e:  # noqa: BLE001 - the hub raises many types; all mean "not available here"
        raise WeightsNotFoundError(
            f"the pipeline {repo_id!r} is not on this machine and cannot be downloaded ({type(e).__name__}). "
            f"On a machine with network run `huggingface-cli download {repo_id} --local-dir DIR "
            f"--include {' '.join(repr(p) for p in NEEDED_FILES)}`, copy DIR here and pass --model DIR."
        ) from None


def resolve_pipeline(name_or_path: str | Path | None = None) -> Path:
    """A local pipeline folder for a registry name, a folder, or a hub id (default: the shipped tiny pipeline)."""
    name = str(name_or_path or DEFAULT_PIPELINE)
    if name in PIPELINES:
        src = PIPELINES[name]
        if src.kind == "hub":
            return _hub_folder(src.location)
        path = Path(src.location)
        if not _is_pipeline_dir(path):
            raise WeightsNotFoundError(
                f"the pipeline {name!r} is not shipped yet (nothing at {path}). Train it with `{TRAIN_TINY_HINT}`, "
                f"or pass --model with an EditCLIP-IP2P folder or hub id (e.g. {OFFICIAL_HUB_ID})."
            )
        return path
    path = Path(name).expanduser()
    if path.exists():
        if not _is_pipeline_dir(path):
            raise WeightsNotFoundError(f"{path} is not an EditCLIP-IP2P pipeline folder (it needs unet/ and vae/)")
        return path
    if "/" not in name or name.startswith((".", "/", "~")):
        known = ", ".join(PIPELINES)
        raise WeightsNotFoundError(f"no pipeline named {name!r}: not a folder, not a hub id, not one of: {known}")
    return _hub_folder(name)
