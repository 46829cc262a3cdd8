"""The registered model names and where their weights come from, readable without importing torch."""

from __future__ import annotations

from pathlib import Path

from editsearch.core.hub import WeightsSource

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

MODELS: dict[str, WeightsSource] = {
    "editclip-mini": WeightsSource(
        "dir", str(WEIGHTS_DIR / "editclip-mini"), "EditCLIP-mini, trained here on synthetic edits, ships offline"
    ),
    "twoframe-mini": WeightsSource(
        "dir",
        str(WEIGHTS_DIR / "twoframe-mini"),
        "two-frame (ViFi-CLIP style) evaluator, the mini tower with each image a frame; ships offline (800 steps)",
    ),
    "editclip-vit-l-14": WeightsSource(
        "hub", "QWW/EditCLIP", "official EditCLIP, ViT-L/14 trained on InstructPix2Pix (1.7 GB download)"
    ),
    "clip-vit-b-32": WeightsSource("open_clip", "ViT-B-32:openai", "OpenAI CLIP B/32, 6-ch init, not edit-trained"),
    "clip-vit-l-14": WeightsSource(
        "open_clip", "ViT-L-14:openai", "OpenAI CLIP L/14, 6-ch init, where EditCLIP starts"
    ),
    "editclip-untrained-tiny": WeightsSource(
        "random", "mini", "UNTRAINED: the mini architecture with random weights (seed 0); results are noise"
    ),
}

DEFAULT_MODEL = "editclip-mini"

# How to get a registered model's weights when its folder lacks them (default: reinstall, or its MODEL_CARD.md).
TRAIN_COMMANDS = {
    "twoframe-mini": "editsearch train editclip --pair-fusion frames --name twoframe-mini --steps 800 --out RUN",
}
