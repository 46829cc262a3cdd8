"""Helpers for the browser tests: a live `editsearch serve`, the served index plus an edit with quotes, page scripts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
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


BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def browser_path() -> str:
    """The Chromium to drive; the test fails (never skips) without one."""
    found = os.environ.get("EDITSEARCH_CHROMIUM") or next((b for b in BROWSERS if Path(b).exists()), None)
    found = found or shutil.which("chromium")
    if not found:
        pytest.fail("no Chromium found: install one with `apt-get install -y chromium` (or set EDITSEARCH_CHROMIUM)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(index_dir: Path, root: Path, *extra: str) -> Iterator[str]:
    """`editsearch serve` of an index (and `extra` options) on a free loopback port, until the block ends."""
    port = free_port()
    cli = Path(sys.executable).parent / "editsearch"
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([str(cli), "serve", "--index", str(index_dir), "--port", str(port), *extra], stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (root / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


NEXT_FRAMES = "new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def pixel(page, at: dict) -> list[int]:
    """The base canvas's RGBA at a page position."""
    return page.evaluate(
        """(at) => { const c = document.querySelector('#atlas-canvas'), r = c.getBoundingClientRect();
        const k = c.width / r.width;
        return Array.from(c.getContext('2d').getImageData((at.x - r.left) * k, (at.y - r.top) * k, 1, 1).data); }""",
        at,
    )


def close_dialog(page) -> None:
    """Press Escape on the open edit dialog and return once the page has handled its (asynchronous) close event."""
    page.evaluate(
        "window.dialogClosed = false;"
        "document.querySelector('#detail').addEventListener('close', () => (window.dialogClosed = true), {once: true})"
    )
    page.keyboard.press("Escape")
    page.wait_for_function("window.dialogClosed === true")
