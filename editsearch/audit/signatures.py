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
_THUMB_BYTES = THUMB * THUMB * 3


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

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature | None:
        """Parse a blob written by to_bytes; None for a blob of another version or size (then recomputed)."""
        if len(blob) != _HEAD.size + 2 * _THUMB_BYTES or blob[0] != _VERSION:
            return None
        _, change, before, after = _HEAD.unpack_from(blob)
        thumbs = np.frombuffer(blob, np.uint8, offset=_HEAD.size).reshape(2, THUMB, THUMB, 3)
        return cls(change, before, after, thumbs[0], thumbs[1])


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
