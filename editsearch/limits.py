"""Input limits checked at the library boundary: how long a text, how large an image file may be."""

from __future__ import annotations

from editsearch.errors import UsageError

# A CLIP text tower reads 77 tokens; 10,000 characters hold far more than that, and a longer text is
# refused before it is tokenized (a 12 MB query took 20 s and 2.6 GB of memory to tokenize).
MAX_TEXT_CHARS = 10_000
# Larger image files are refused before they are hashed or decoded (the pixel limit of the decoder,
# about 179 Mpx, is far below what such a file would hold).
MAX_IMAGE_BYTES = 512 << 20


def check_text(text: str, what: str = "a text") -> str:
    """`text` if it is at most MAX_TEXT_CHARS long; raises UsageError otherwise."""
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"{what} has {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are accepted")
    return text
