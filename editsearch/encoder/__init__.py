"""EditCLIP: the 6-channel CLIP vision tower that embeds (before, after) edit pairs.

Its exports load on first use, so the model names (`DEFAULT_MODEL`, `MODELS`) are read without importing torch.
"""

from __future__ import annotations

from editsearch.core.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_MODEL": "editsearch.encoder.names",
    "MODELS": "editsearch.encoder.names",
    "EditCLIP": "editsearch.encoder.model",
    "EditCLIPConfig": "editsearch.encoder.config",
    "WeightsNotFoundError": "editsearch.core.errors",
    "load_model": "editsearch.encoder.registry",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
