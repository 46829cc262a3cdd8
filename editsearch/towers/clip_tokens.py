"""open_clip's CLIP tokenizer without torch: SimpleTokenizer's cleaning and split, then its BPE by `tokenizers`.

The file (byte-level BPE, SOT/EOT) is written at export time from the vocabulary and merges shipped in the
open_clip wheel, see `encoder.export.export_clip_tokenizer`. Cleaning and splitting stay in Python with the
libraries SimpleTokenizer uses (ftfy, `regex`), so the ids are SimpleTokenizer's, whatever Unicode version
the Rust regex engine knows.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import ftfy
import numpy as np
import regex
from tokenizers import Tokenizer


def clean_clip_text(text: str) -> str:
    """open_clip's default ('lower') cleaning: ftfy, HTML unescaped twice, whitespace collapsed, lower case."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


class ClipTokens:
    """Texts -> the CLIP text graph's input: [SOT] ids [EOT], truncated with EOT kept last, zero-padded."""

    def __init__(self, path: Path, context_length: int, pattern: str) -> None:
        self.pattern = regex.compile(pattern, regex.IGNORECASE)  # compiled as SimpleTokenizer compiles it
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(context_length)  # counts SOT and EOT, which stay first and last
        self.tokenizer.enable_padding(length=context_length, pad_id=0)

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """{"tokens": [N, context_length] int64}: the ids SimpleTokenizer gives."""
        words = [self.pattern.findall(clean_clip_text(t)) for t in texts]
        encoded = self.tokenizer.encode_batch(words, is_pretokenized=True)
        return {"tokens": np.array([e.ids for e in encoded], dtype=np.int64)}
