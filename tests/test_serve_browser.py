"""The web page in a real browser: Playwright drives Chromium against a live `editsearch serve` on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_fixtures import HOSTILE, QUOTED, make_served_index, png_bytes

BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
LOADED = "(sel) => { const i = Array.from(document.querySelectorAll(sel)); return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0); }"  # noqa: E501


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


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("browser")
    index_dir = make_served_index(root, tiny_model_dir)
    port = free_port()
    cli = Path(sys.executable).parent / "editsearch"
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([str(cli), "serve", "--index", str(index_dir), "--port", str(port)], stderr=log)
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
        yield url, root
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_search_open_more_like_this_example_and_apply_in_a_browser(server):
    from playwright.sync_api import sync_playwright

    url, root = server
    images = root / "data" / "images"
    uploads = root / "uploads"
    uploads.mkdir()
    (uploads / f"{QUOTED} photo.png").write_bytes(png_bytes(11))
    (uploads / "notes.txt").write_text("not an image")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path(), args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(url)

        # a text query: cards with loaded thumbnails; the HTML instruction shows as text
        page.fill("#q", "make it bright")
        page.click("#search-form button[type=submit]")
        page.wait_for_selector(".card")
        page.wait_for_function(LOADED, arg=".card img")
        cards = page.locator(".card")
        assert cards.count() == 13
        texts = page.locator(".card .instruction").all_text_contents()
        assert HOSTILE in texts
        assert page.locator("#results script, #results img[src='x']").count() == 0
        assert page.evaluate("window.pwned") is None

        # open the hostile card (quotes in its file names): title as text, its images load
        cards.nth(texts.index(HOSTILE)).click()
        assert page.locator("#d-title").text_content() == HOSTILE
        page.wait_for_function(LOADED, arg="#d-before, #d-after")
        assert json.dumps(QUOTED)[1:-1] in page.locator("#d-meta").text_content()  # shown as JSON

        # more like this: a fresh result list without the edit itself
        opened = page.locator("#d-meta").text_content()
        page.click("#more-like")
        page.wait_for_function("document.querySelector('#summary').textContent.includes('edits like #')")
        page.wait_for_function(LOADED, arg=".card img")
        assert page.locator(".card").count() == 12 and '"id": 13' in opened

        # search by an uploaded example pair: the indexed copy of the pair comes first with EC2EC 1
        page.click(".more summary")
        page.set_input_files("#ex-before", str(images / "p0_3_before.png"))
        page.set_input_files("#ex-after", str(images / "p0_3_after.png"))
        page.click("#ex-search")
        page.wait_for_function("document.querySelector('#summary').textContent.includes('your example')")
        assert page.locator(".card .score").first.text_content() == "1.000"
        assert page.locator(".card").first.get_attribute("data-id") == "4"

        # apply the first edit to an uploaded photo; then a bad upload shows a clear message
        page.locator(".card").first.click()
        page.set_input_files("#apply-file", str(uploads / "notes.txt"))
        page.click("#apply-run")
        page.wait_for_function("document.querySelector('#apply-message').classList.contains('error')")
        assert "not a recognised image" in page.locator("#apply-message").text_content()
        page.set_input_files("#apply-file", str(uploads / f"{QUOTED} photo.png"))
        page.click("#apply-run")
        page.wait_for_function(LOADED, arg="#apply-in-img, #apply-out-img", timeout=120_000)
        assert "EC2EC" in page.locator("#apply-caption").text_content()

        # an empty result and a bad filter are messages on the page
        page.keyboard.press("Escape")
        page.fill("#contains", "zzzz-nothing")
        page.fill("#q", "anything")
        page.click("#search-form button[type=submit]")
        page.wait_for_function("document.querySelector('#message').classList.contains('empty')")
        page.fill("#contains", "")
        page.fill("#where", "no_such_column = 1")
        page.click("#search-form button[type=submit]")
        page.wait_for_function("document.querySelector('#message').classList.contains('error')")
        assert "bad filter" in page.locator("#message").text_content()
        browser.close()
