"""Helpers for the server tests: a tiny index with a hostile instruction and quotes in file names."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from index_fixtures import make_collection, write_image
from PIL import Image, ImageOps

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> make it "bright" & bold'
QUOTED = 'it\'s a "quoted" name'


def make_served_index(root: Path, model_dir: Path, n: int = 12) -> Path:
    """An index of n ordinary edits plus one whose instruction is HTML and whose files have quotes in their names."""
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    manifest = make_collection(root / "data", n)
    images = root / "data" / "images"
    before = write_image(images / f"{QUOTED} before.png", 4242)
    ImageOps.invert(Image.open(before).convert("RGB")).save(images / f"{QUOTED} after.png")
    row = {"before": f"images/{QUOTED} before.png", "after": f"images/{QUOTED} after.png", "instruction": HOSTILE}
    with manifest.open("a") as f:
        f.write(json.dumps(row) + "\n")
    with EditIndex.open(root / "idx", create=True) as index:
        index.sync([manifest], load_model(model_dir), batch_size=8, workers=0)
    return root / "idx"


def png_bytes(seed: int, size: tuple[int, int] = (40, 32)) -> bytes:
    """A small noisy PNG, as bytes."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def big_png16(side: int = 9400) -> bytes:
    """A valid 16-bit greyscale PNG of side x side black pixels (about 200 kB; 2 GB to decode the old way)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze = zlib.compressobj(9)
    row = bytes(1 + 2 * side)  # filter byte 0, then 16-bit zeros
    idat = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
