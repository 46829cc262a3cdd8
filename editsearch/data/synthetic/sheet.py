"""Contact sheet of a synthetic collection: each family's before -> after with name and instruction."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from editsearch.core.errors import DataError
from editsearch.core.files import atomic_path
from editsearch.core.jsonl import read_jsonl
from editsearch.data.synthetic.imaging import load_font
from editsearch.media.images import load_image

BACKGROUND = (245, 245, 242)
INK = (20, 20, 20)


def contact_sheet(
    collection: str | Path, out: str | Path, thumb: int = 160, columns: int = 3, per_family: int = 1
) -> Path:
    """Draw up to `per_family` pairs of every family in DIR/manifest.jsonl into one PNG; return its path."""
    manifest = Path(collection) / "manifest.jsonl" if Path(collection).is_dir() else Path(collection)
    rows: dict[str, list[dict]] = {}
    for _, row in read_jsonl(manifest):
        if isinstance(row, dict) and isinstance(row.get("before"), str) and isinstance(row.get("after"), str):
            picked = rows.setdefault(row.get("family", "?"), [])
            if len(picked) < per_family:
                picked.append(row)
    cells = [row for fam in sorted(rows) for row in rows[fam]]
    if not cells:
        raise DataError(f"cannot draw a contact sheet: no pairs with 'before' and 'after' in {manifest}")
    font = load_font(max(10, thumb // 12))
    caption = thumb // 12 * 4 + 8
    cell_w, cell_h = 2 * thumb + 30, thumb + caption + 12
    n_rows = -(-len(cells) // columns)
    sheet = Image.new("RGB", (columns * cell_w, n_rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, row in enumerate(cells):
        x, y = (i % columns) * cell_w + 6, (i // columns) * cell_h + 6
        for j, half in enumerate(("before", "after")):
            img = load_image(manifest.parent / row[half]).resize((thumb, thumb))
            sheet.paste(img, (x + j * (thumb + 16), y))
        ax, ay = x + thumb + 4, y + thumb // 2
        draw.polygon([(ax, ay - 6), (ax + 8, ay), (ax, ay + 6)], fill=INK)
        lines = [row.get("family", "?")] + textwrap.wrap(row.get("instruction") or "", width=2 * thumb // 7)[:2]
        draw.multiline_text((x, y + thumb + 3), "\n".join(lines), fill=INK, font=font, spacing=2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format=Image.registered_extensions().get(out.suffix.lower(), "PNG"))
    return out
