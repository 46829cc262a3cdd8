"""EditCLIP: the 6-channel CLIP vision tower that embeds (before, after) edit pairs."""

from editsearch.encoder.checkpoints import WeightsNotFoundError
from editsearch.encoder.config import EditCLIPConfig
from editsearch.encoder.model import EditCLIP
from editsearch.encoder.registry import DEFAULT_MODEL, MODELS, load_model

__all__ = ["DEFAULT_MODEL", "MODELS", "EditCLIP", "EditCLIPConfig", "WeightsNotFoundError", "load_model"]
