"""Helpers for the server tests: a tiny index with a hostile instruction and quotes in file names."""

from __future__ import annotations

import io
import json
import shutil
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


def audited_index(root: Path, model_dir: Path) -> tuple[Path, Path, int]:
    """A 10-pair index plus one planted no-op (its after a copy of its before), audited; (index, audit, no-op id)."""
    manifest = make_collection(root / "data", 10)
    images = root / "data" / "images"
    shutil.copy(images / "p0_3_before.png", images / "noop_after.png")
    with manifest.open("a") as f:
        f.write(json.dumps({"before": "images/p0_3_before.png", "after": "images/noop_after.png", "instruction": "x"}))
        f.write("\n")
    index, out = root / "idx", root / "audit"
    assert _run("build-index", manifest, "--index", index, "--model", model_dir, "-q").exit_code == 0
    audited = _run("audit", "--index", index, "--out", out, "--checks", "noop,duplicate", "-q", "--json")
    assert audited.exit_code == 0, audited.output
    return index, out, 11


def _run(*args: object):
    from click.testing import CliRunner

    from editsearch.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
