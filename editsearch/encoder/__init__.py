"""EditCLIP: the 6-channel CLIP vision tower that embeds (before, after) edit pairs.

Its exports load on first use, so the model names (`DEFAULT_MODEL`, `MODELS`) are read without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MODEL": "editsearch.encoder.names",
    "MODELS": "editsearch.encoder.names",
    "EditCLIP": "editsearch.encoder.model",
    "EditCLIPConfig": "editsearch.encoder.config",
    "WeightsNotFoundError": "editsearch.errors",
    "load_model": "editsearch.encoder.registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'editsearch.encoder' has no attribute {name!r}")
