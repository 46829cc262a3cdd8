"""Helpers for the browser test: the served index plus one edit whose metadata value has quotes, and page scripts."""

from __future__ import annotations

import json
from pathlib import Path

from index_fixtures import write_image
from PIL import Image, ImageOps
from serve_fixtures import QUOTED, make_served_index

# every image matched by the selector has loaded
LOADED = "(sel) => { const i = Array.from(document.querySelectorAll(sel)); return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0); }"  # noqa: E501

# drop two images fetched from the server onto a drop zone, as one DataTransfer of two files
DROP_TWO = """async ([zone, urls]) => {
  const files = await Promise.all(urls.map(async (url, i) =>
    new File([await (await fetch(url)).blob()], `dropped-${i}.png`, { type: "image/png" })));
  const data = new DataTransfer();
  files.forEach((file) => data.items.add(file));
  const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
  document.querySelector(zone).dispatchEvent(drop);
}"""


def make_browser_index(root: Path, model_dir: Path) -> Path:
    """The served test index (13 edits) plus a 14th whose `family` has quotes in it and whose `n` is another's."""
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    index_dir = make_served_index(root, model_dir)
    images = root / "data" / "images"
    before = write_image(images / "quoted_family_before.png", 777)
    ImageOps.mirror(ImageOps.grayscale(Image.open(before))).convert("RGB").save(images / "quoted_family_after.png")
    row = {
        "before": "images/quoted_family_before.png",
        "after": "images/quoted_family_after.png",
        "instruction": "mirror it in grey",
        "family": QUOTED,
        "n": 7,  # shared with another edit: a numeric facet
    }
    manifest = root / "data" / "manifest.jsonl"
    with manifest.open("a") as f:
        f.write(json.dumps(row) + "\n")
    with EditIndex.open(index_dir, writable=True) as index:
        index.sync([manifest], load_model(model_dir), batch_size=8, workers=0)
    return index_dir


def damage_catalog(catalog: Path) -> None:
    """Overwrite a catalog past its 100-byte header and move its change counter, so that readers notice."""
    data = bytearray(catalog.read_bytes())
    data[24:28] = (int.from_bytes(data[24:28], "big") + 1).to_bytes(4, "big")
    data[100:] = b"\xa5" * (len(data) - 100)
    catalog.write_bytes(bytes(data))
