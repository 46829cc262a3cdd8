"""The MiniLM's WordPiece tokenizer without torch (its tokenizer.json, run by `tokenizers`), and the lookup of
the tokens' word embeddings, which the exported graph leaves out (a mapped table: a query reads a few rows)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


class MiniLMTokens:
    """Texts -> the MiniLM graph's inputs: the tokens' word embeddings and attention mask, truncated at `max_length`,
    padded to the longest."""

    def __init__(self, path: Path, words: Path, max_length: int) -> None:
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.words = np.load(words, mmap_mode="r")

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """{"inputs_embeds": [N, T, D] float32, "attention_mask": [N, T] int64}."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return {"inputs_embeds": np.asarray(self.words[ids], dtype=np.float32), "attention_mask": mask}
