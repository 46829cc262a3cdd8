"""A contact sheet of a held-out manifest: one row per family, its first pairs as before → after."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from editsearch.core.errors import DataError
from editsearch.core.files import write_atomic
from editsearch.core.jsonl import read_jsonl

TILE, LABEL, GAP = 128, 150, 8  # tile side, label column width, gap between pairs (px)


def contact_sheet(manifest: Path, target: Path, families: Sequence[str] | None = None, per_row: int = 3) -> Path:
    """Draw up to `per_row` pairs of each family (all families, or those named) into a PNG at `target`."""
    rows: dict[str, list[dict]] = {}
    for lineno, record in read_jsonl(Path(manifest)):
        if isinstance(record, str):
            raise DataError(f"{manifest}:{lineno}: {record}")
        if families and record["family"] not in families:
            continue
        rows.setdefault(record["family"], [])
        if len(rows[record["family"]]) < per_row:
            rows[record["family"]].append(record)
    if not rows:
        raise DataError(f"{manifest}: no pairs of the families asked for")
    width = LABEL + per_row * (2 * TILE + GAP) + GAP
    sheet = Image.new("RGB", (width, len(rows) * (TILE + GAP) + GAP), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=10)
    base = Path(manifest).parent
    for r, (family, records) in enumerate(rows.items()):
        top = GAP + r * (TILE + GAP)
        draw.text((6, top + 4), family, font=font, fill=(0, 0, 0))
        for c, record in enumerate(records):
            left = LABEL + c * (2 * TILE + GAP)
            for k, key in enumerate(("before", "after")):
                tile = Image.open(base / record[key]).convert("RGB").resize((TILE, TILE), Image.NEAREST)
                sheet.paste(tile, (left + k * TILE, top))
            draw.text((left + 2, top + TILE - 13), record["instruction"][:40], font=small, fill=(255, 255, 0),
                      stroke_width=1, stroke_fill=(0, 0, 0))  # fmt: skip
    buf = io.BytesIO()
    sheet.save(buf, "PNG")
    return write_atomic(target, buf.getvalue())
