"""The MiniLM's WordPiece tokenizer without torch: its tokenizer.json, run by `tokenizers`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


class MiniLMTokens:
    """Texts -> the MiniLM graph's inputs: ids and attention mask, truncated at `max_length`, padded to the longest."""

    def __init__(self, path: Path, max_length: int) -> None:
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """{"input_ids": [N, T] int64, "attention_mask": [N, T] int64}."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": mask}
