"""Named edit-transfer pipelines, and resolving a name, folder or hub id to a local pipeline folder."""

from __future__ import annotations

from pathlib import Path

from editsearch.core.errors import WeightsNotFoundError
from editsearch.core.hub import WeightsSource, hub_snapshot, resolve_source
from editsearch.encoder.names import WEIGHTS_DIR

TINY_NAME = "editclip-ip2p-mini"
OFFICIAL_HUB_ID = "QWW/EditCLIP-IP2P"
OFFICIAL_EDITCLIP = "editclip-vit-l-14"  # the encoder the official release was trained with
TRAIN_TINY_HINT = (  # the recipe of the shipped pipeline (MODEL_CARD.md beside it)
    "editsearch train vae --out RUN/vae --init tiny --data synthetic --steps 5000, then "
    "editsearch train ip2p --init tiny --size 64 --editclip editclip-mini --data synthetic --vae RUN/vae "
    "--lpips-weight 0 --lr 4e-4 --lr-schedule cosine --lr-warmup 300 --zero-snr --batch-size 32 --steps 10000 "
    f"--cache 24000 --out RUN/ip2p --export {WEIGHTS_DIR / TINY_NAME}"
)

PIPELINES: dict[str, WeightsSource] = {
    TINY_NAME: WeightsSource(
        "dir", str(WEIGHTS_DIR / TINY_NAME), "tiny IP2P (64 px) on EditCLIP-mini, trained here on synthetic edits"
    ),
    "editclip-ip2p": WeightsSource(
        "hub", OFFICIAL_HUB_ID, "official EditCLIP-IP2P (SD 1.5 InstructPix2Pix fine-tuned, 512 px, ~4 GB)"
    ),
}
DEFAULT_PIPELINE = TINY_NAME

# What a pipeline folder needs; anything else in the official repo (text encoder, safety checker) is skipped.
NEEDED_FILES = ["model_index.json", "unet/*", "vae/*", "scheduler/*", "image_proj_model.pt", "editsearch.json"]


def _is_pipeline_dir(path: Path) -> bool:
    return (path / "unet").is_dir() and (path / "vae").is_dir()


def resolve_pipeline(name_or_path: str | Path | None = None) -> Path:
    """A local pipeline folder for a registry name, a folder, or a hub id (default: the shipped tiny pipeline)."""
    name = str(name_or_path or DEFAULT_PIPELINE)
    src = resolve_source(name, PIPELINES, "pipeline")
    if src.kind == "hub":
        return hub_snapshot(src.location, "the pipeline", allow_patterns=NEEDED_FILES)
    path = Path(src.location)
    if _is_pipeline_dir(path):
        return path
    if name in PIPELINES:
        raise WeightsNotFoundError(
            f"the pipeline {name!r} is not shipped yet (nothing at {path}). Train it with `{TRAIN_TINY_HINT}`, "
            f"or pass --model with an EditCLIP-IP2P folder or hub id (e.g. {OFFICIAL_HUB_ID})."
        )
    raise WeightsNotFoundError(f"{path} is not an EditCLIP-IP2P pipeline folder (it needs unet/ and vae/)")


def is_demonstration(name_or_path: str | Path | None) -> bool:
    """True for the shipped 64-px demonstration pipeline (editclip-ip2p-mini, the default), by name or folder."""
    name = str(name_or_path or DEFAULT_PIPELINE)
    if name == TINY_NAME:
        return True
    folder = Path(name).expanduser()
    return folder.is_dir() and folder.resolve() == Path(PIPELINES[TINY_NAME].location).resolve()


DEMONSTRATION_NOTE = (
    f"note: the output comes from {TINY_NAME}, the shipped 64-px demonstration pipeline (trained on synthetic "
    f"edits only, it shows the mechanism, not the quality); for real photos pass --model {OFFICIAL_HUB_ID}"
)
