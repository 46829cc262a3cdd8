"""Input limits checked at the library boundary: how long a text, how large an image file may be, how many pixels;
and whether a job over a whole collection fits in the memory available."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeVar

from editsearch.core.errors import MemoryLimitError, UsageError

T = TypeVar("T")

# A CLIP text tower reads 77 tokens; 10,000 characters hold far more than that, and a longer text is
# refused before it is tokenized (a 12 MB query took 20 s and 2.6 GB of memory to tokenize).
MAX_TEXT_CHARS = 10_000
# Larger image files are refused before they are hashed or decoded (the pixel limit of the decoder,
# about 179 Mpx, is far below what such a file would hold).
MAX_IMAGE_BYTES = 512 << 20
# Terms of one query (text, pair, edit id; positive and negative together) and the characters of all its
# texts: a query of 400 texts of 2,000 characters took 88 s to embed and stalled every other search.
MAX_QUERY_TERMS = 16
MAX_QUERY_CHARS = 20_000
# A term's weight: larger magnitudes (1e308) overflow the weighted sum, and NaN or infinity rank nothing.
MAX_WEIGHT = 1_000.0
# Images with more pixels are refused from their header, before any decoding: PIL's own decompression-bomb
# threshold (89.5 Mpx), which a 194 KB 16-bit PNG of 9400 x 9400 stays under while decoding to 2 GB. The
# server takes at most MAX_UPLOAD_PIXELS per upload (a 40 Mpx photo; 6,000 x 6,600 pixels).
MAX_IMAGE_PIXELS = 89_478_485
MAX_UPLOAD_PIXELS = 40_000_000
# Text embeddings a model or a searcher keeps (least recently used dropped): a long-running server stays bounded.
TEXT_CACHE_SIZE = 10_000


def lru_lookup(
    cache: OrderedDict[str, T], keys: Sequence[str], compute: Callable[[list[str]], Sequence[T]], size: int
) -> list[T]:
    """The values of `keys`: those not in `cache` computed in one call; the `size` most recently used kept."""
    missing = list(dict.fromkeys(k for k in keys if k not in cache))
    if missing:
        cache.update(zip(missing, compute(missing), strict=True))
    out = [cache[k] for k in keys]
    for k in keys:
        cache.move_to_end(k)
    while len(cache) > size:
        cache.popitem(last=False)
    return out


def check_text(text: str, what: str = "a text") -> str:
    """`text` if it is at most MAX_TEXT_CHARS long; raises UsageError otherwise."""
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"{what} has {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are accepted")
    return text


def check_query_size(texts: Sequence[str], terms: int) -> None:
    """Refuse (UsageError) a query of more than MAX_QUERY_TERMS terms or MAX_QUERY_CHARS characters of text."""
    if terms > MAX_QUERY_TERMS:
        raise UsageError(f"a query has {terms} terms; at most {MAX_QUERY_TERMS} are accepted")
    chars = sum(len(t) for t in texts)
    if chars > MAX_QUERY_CHARS:
        raise UsageError(f"a query's texts have {chars:,} characters in all; at most {MAX_QUERY_CHARS:,} are accepted")


def check_memory(edits: int, per_edit: int, base: int, what: str) -> None:
    """Refuse up front a job over `edits` edits whose estimated peak memory, `base` + `per_edit` bytes an edit,
    exceeds the memory available now (rather than growing into swap or the OOM killer hours in)."""
    import psutil

    need, available = base + per_edit * edits, psutil.virtual_memory().available
    if need > available:
        raise MemoryLimitError(
            f"{what} of {edits:,} edits needs about {need / 2**30:.1f} GiB of memory, and this machine has "
            f"{available / 2**30:.1f} GiB available: free memory, or run it on a machine with more"
        )
