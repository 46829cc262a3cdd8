"""Pair signatures: a few hundred bytes per pair that let an audit judge its images without decoding them.

Computed from the pair's resized, centre-cropped uint8 pixels (what a build already holds for the model):
- `change`: how visibly the after differs from the before, in grey levels: the mean over 2x2-pooled pixels
  of the largest channel difference, or a quarter of its 99th percentile when that is larger (so a small
  local edit counts). Pooling averages invisible noise and re-encoding error away.
- a perceptual hash (imagehash's DCT pHash, 64 bits) of each image: layout, blind to tone;
- an 8x8 RGB thumbnail of each image: tone and colour, blind to fine layout.
A resized or re-encoded copy of a pair keeps both hashes and both thumbnails; another crop of the photo
changes the hashes; another edit of the same photo changes the after's thumbnail or hash.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMB = 8  # side of the colour thumbnails
_HEAD = struct.Struct("<BfQQ")  # version, change, before pHash, after pHash
_VERSION = 1


@dataclass(frozen=True)
class Signature:
    """One pair's signature: visible change, both pHashes (64-bit ints), both 8x8 RGB thumbnails (uint8)."""

    change: float
    before_hash: int
    after_hash: int
    before_thumb: np.ndarray
    after_thumb: np.ndarray

    def to_bytes(self) -> bytes:
        """The catalog's blob: a small header, then the two thumbnails."""
        head = _HEAD.pack(_VERSION, self.change, self.before_hash, self.after_hash)
        return head + self.before_thumb.tobytes() + self.after_thumb.tobytes()


_RECORD = np.dtype(
    [("version", "u1"), ("change", "<f4"), ("hashes", "<u8", (2,)), ("thumbs", "u1", (2, THUMB, THUMB, 3))]
)  # one blob as a packed numpy record (the header's fields, then the thumbnails)


@dataclass
class SignatureTable:
    """The signatures of N pairs as arrays, one entry per pair; `known` is False where a pair has none (yet)."""

    known: np.ndarray  # bool [N]
    change: np.ndarray  # float64 [N], NaN where unknown
    hashes: np.ndarray  # uint64 [N, 2]: before, after pHash
    thumbs: np.ndarray  # uint8 [N, 2, THUMB, THUMB, 3]: before, after thumbnail

    @classmethod
    def empty(cls, n: int) -> SignatureTable:
        """A table of n pairs with no signature."""
        return cls(
            np.zeros(n, dtype=bool),
            np.full(n, np.nan),
            np.zeros((n, 2), dtype=np.uint64),
            np.zeros((n, 2, THUMB, THUMB, 3), dtype=np.uint8),
        )

    @classmethod
    def from_blobs(cls, blobs: list[bytes | None]) -> SignatureTable:
        """A table of these blobs (None, or a blob of another version or size: unknown, to be recomputed)."""
        table = cls.empty(len(blobs))
        table.fill(np.arange(len(blobs)), blobs)
        return table

    def fill(self, positions: np.ndarray, blobs: list[bytes | None]) -> None:
        """Set the signatures at these positions from blobs written by `Signature.to_bytes` (others are skipped)."""
        good = [i for i, b in enumerate(blobs) if b is not None and len(b) == _RECORD.itemsize and b[0] == _VERSION]
        if not good:
            return
        records = np.frombuffer(b"".join(blobs[i] for i in good), dtype=_RECORD)  # type: ignore[misc]
        at = np.asarray(positions)[good]
        self.known[at] = True
        self.change[at] = records["change"]
        self.hashes[at] = records["hashes"]
        self.thumbs[at] = records["thumbs"]


def visible_change(pixels: np.ndarray) -> np.ndarray:
    """Visible change of each pair in uint8 pixels [N, 6, S, S]: grey levels (see the module docstring)."""
    x = pixels[:, :, : pixels.shape[2] // 2 * 2, : pixels.shape[3] // 2 * 2].astype(np.int16)
    pooled = x[:, :, 0::2, 0::2] + x[:, :, 1::2, 0::2] + x[:, :, 0::2, 1::2] + x[:, :, 1::2, 1::2]  # 4 x the mean
    diff = np.abs(pooled[:, :3] - pooled[:, 3:]).max(axis=1).reshape(len(x), -1).astype(np.float32) / 4
    p99 = np.partition(diff, int(0.99 * (diff.shape[1] - 1)), axis=1)[:, int(0.99 * (diff.shape[1] - 1))]
    return np.maximum(diff.mean(axis=1), p99 / 4)


def image_hash(image: Image.Image) -> int:
    """imagehash's pHash of an image as a 64-bit unsigned int (from a 32x32 grey box-filtered copy, as fast)."""
    import imagehash

    small = image.convert("L").resize((32, 32), Image.BOX)
    bits = imagehash.phash(small).hash.reshape(-1)
    return int(np.packbits(bits).view(">u8")[0])


def _image_parts(chw: np.ndarray) -> tuple[int, np.ndarray]:
    """(pHash, 8x8 RGB thumbnail) of one uint8 image [3, S, S]."""
    image = Image.fromarray(np.ascontiguousarray(chw.transpose(1, 2, 0)))
    thumb = np.asarray(image.resize((THUMB, THUMB), Image.BOX), dtype=np.uint8)
    return image_hash(image), thumb


def pair_signatures(pixels: np.ndarray) -> list[bytes]:
    """Signature blobs of a batch of pairs given as uint8 pixels [N, 6, S, S] (a build's or an audit's)."""
    pixels = np.asarray(pixels)
    out = []
    for pair, change in zip(pixels, visible_change(pixels), strict=True):
        before_hash, before_thumb = _image_parts(pair[:3])
        after_hash, after_thumb = _image_parts(pair[3:])
        out.append(Signature(float(change), before_hash, after_hash, before_thumb, after_thumb).to_bytes())
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between two arrays of 64-bit hashes (uint64), elementwise."""
    x = np.bitwise_xor(a.astype(np.uint64), b.astype(np.uint64))
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1)
