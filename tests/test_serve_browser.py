"""The web page in a real browser: Playwright drives Chromium against a live `editsearch serve` on loopback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser_fixtures import DROP_TWO, LOADED, close_dialog, damage_catalog, make_browser_index, serving
from serve_fixtures import HOSTILE, QUOTED, png_bytes

from editsearch.index.catalog import CATALOG_FILE

ALL = 14  # edits in the served index


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("browser")
    with serving(make_browser_index(root, tiny_model_dir), root) as url:
        yield url, root


def search_text(page, text: str) -> None:
    page.fill("#q", text)
    page.click("#search-form button[type=submit]")
    summary = "(t) => document.querySelector('#summary').textContent.includes(t)"
    page.wait_for_function(summary, arg=f"“{text}”", timeout=120_000)  # a busy 2-core machine can be slow


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def open_card(page, instruction: str) -> None:
    texts = page.locator(".card .instruction").all_text_contents()
    page.locator(".card").nth(texts.index(instruction)).click()
    page.wait_for_function(LOADED, arg="#d-before, #d-after")


def test_results_dialog_and_apply(server, page):
    url, root = server
    uploads = root / "uploads"
    uploads.mkdir()
    (uploads / f"{QUOTED} photo.png").write_bytes(png_bytes(11))
    (uploads / "notes.txt").write_text("not an image")
    page.goto(url)

    # a text query: cards with loaded thumbnails; the HTML instruction shows as text
    search_text(page, "make it bright")
    page.wait_for_function(LOADED, arg=".card img")
    assert page.locator(".card").count() == ALL
    assert HOSTILE in page.locator(".card .instruction").all_text_contents()
    assert page.locator("#results script, #results img[src='x']").count() == 0
    assert page.evaluate("window.pwned") is None

    # the hostile edit's dialog: title as text, focus inside, no apply output yet, fields people read
    open_card(page, HOSTILE)
    assert page.locator("#d-title").text_content() == HOSTILE
    assert page.evaluate("document.querySelector('#detail').contains(document.activeElement)")
    assert not page.locator("#apply-out").is_visible() and not page.locator("#apply-out-img").is_visible()
    assert not page.locator("#apply-download").is_visible()
    assert re.fullmatch(r"-?\d\.\d{3}( · \w+ -?\d\.\d{3})*", page.locator("#d-score").text_content())
    assert page.locator("#d-files").text_content() == f"{QUOTED} before.png → {QUOTED} after.png"
    page.wait_for_function("document.querySelector('#d-source').textContent !== '…'")
    assert page.locator("#d-source").text_content() == "manifest"
    dialog_html = page.locator("#detail").inner_html() + page.locator("#detail").inner_text()
    assert str(root) not in dialog_html and "/tmp" not in dialog_html
    for side in ("before", "after"):
        link = page.locator(f"#d-{side}-dl")
        assert link.get_attribute("download") and "/api/edits/" in link.get_attribute("href")
    close_dialog(page)

    # an ordinary edit's metadata is a table
    open_card(page, "convert to black and white")
    cells = page.locator("#d-meta tbody tr").all_inner_texts()
    assert any(re.fullmatch(r"family\tf2", c) for c in cells), cells

    # apply it: a bad upload is a message; a photo gives the edited image, its download and the pipeline note
    page.set_input_files("#apply-file", str(uploads / "notes.txt"))
    page.click("#apply-run")
    page.wait_for_function("document.querySelector('#apply-message').classList.contains('error')")
    assert "not a recognised image" in page.locator("#apply-message").text_content()
    assert not page.locator("#apply-out").is_visible()
    page.set_input_files("#apply-file", str(uploads / f"{QUOTED} photo.png"))
    with page.expect_response(lambda r: "/api/apply" in r.url, timeout=180_000) as applied:
        page.click("#apply-run")
    answer = applied.value.json()
    page.wait_for_function(LOADED, arg="#apply-in-img, #apply-out-img", timeout=60_000)
    assert "EC2EC" in page.locator("#apply-caption").text_content()
    download = page.locator("#apply-download")
    assert download.is_visible() and download.get_attribute("href").startswith("data:image/png")
    assert download.get_attribute("download") == f"{QUOTED} photo-edit-{page.locator('#d-id').text_content()[1:]}.png"
    assert answer["pipeline"]["demonstration"] is True  # the shipped pipeline: the note says so
    assert page.locator("#apply-note").is_visible()
    assert f"{answer['pipeline']['resolution']}-px demonstration" in page.locator("#apply-note").text_content()

    # opening another edit (by keyboard) hides the last apply's output again; closing refocuses its card
    close_dialog(page)
    texts = page.locator(".card .instruction").all_text_contents()
    page.locator(".card").nth(texts.index("invert the colors")).focus()
    page.keyboard.press("Enter")
    assert page.locator("#d-title").text_content() == "invert the colors"
    assert not page.locator("#apply-out").is_visible()
    close_dialog(page)
    assert page.evaluate("document.activeElement.querySelector('.instruction').textContent") == "invert the colors"

    # an empty result and a bad filter are messages on the page
    page.click("#more summary")
    page.fill("#contains", "zzzz-nothing")
    page.fill("#q", "anything")
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelector('#message').classList.contains('empty')")
    page.fill("#contains", "")
    page.fill("#where", "no_such_column = 1")
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelector('#message').classList.contains('error')")
    assert "bad filter" in page.locator("#message").text_content()
    assert query_of(page)["where"] == ["no_such_column = 1"]


def test_every_query_is_in_the_history(server, page):
    url, _ = server
    page.goto(url)
    search_text(page, "make it bright")
    assert query_of(page) == {"text": ["make it bright"]}

    # more like this: URL and box follow the query, the chip shows the edit's pair
    open_card(page, "mirror the image")
    edit_id = page.locator("#d-id").text_content().lstrip("#")
    page.click("#more-like")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('edits like #')")
    assert query_of(page) == {"edit_id": [edit_id]}
    assert page.input_value("#q") == ""
    assert page.locator("#chip").is_visible() and page.locator("#chip-label").text_content() == f"edits like #{edit_id}"
    page.wait_for_function(LOADED, arg="#chip img")
    assert page.locator(".card").count() == ALL - 1
    assert edit_id not in [page.locator(".card").nth(i).get_attribute("data-id") for i in range(ALL - 1)]

    # Back: the text query and its results; Forward: the edit query again
    page.go_back()
    page.wait_for_function("document.querySelector('#summary').textContent.includes('“make it bright”')")
    assert query_of(page) == {"text": ["make it bright"]}
    assert page.input_value("#q") == "make it bright" and not page.locator("#chip").is_visible()
    assert page.locator(".card").count() == ALL
    page.go_forward()
    page.wait_for_function("document.querySelector('#summary').textContent.includes('edits like #')")
    assert query_of(page) == {"edit_id": [edit_id]} and page.input_value("#q") == ""
    assert page.locator(".card").count() == ALL - 1

    # an address is a query: opening it runs it, filters included
    page.goto(f"{url}/?text=invert&contains=invert&k=5")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('contains “invert”')")
    assert page.input_value("#q") == "invert" and page.input_value("#k") == "5"
    assert set(page.locator(".card .instruction").all_text_contents()) == {"invert the colors"}


def test_search_by_example_with_files_and_drop(server, page):
    url, root = server
    images = root / "data" / "images"
    page.goto(url)

    # the example panel is one click from the search box; choosing files previews them
    assert page.locator("#example-toggle").is_visible() and not page.locator("#example-form").is_visible()
    page.click("#example-toggle")
    assert page.locator("#drop-before").is_visible() and page.locator("#drop-after").is_visible()
    page.set_input_files("#ex-before", str(images / "p0_1_before.png"))
    page.set_input_files("#ex-after", str(images / "p0_1_after.png"))
    page.wait_for_function(LOADED, arg="#ex-before-preview, #ex-after-preview")
    assert page.locator("#ex-before-name").text_content() == "p0_1_before.png"

    # dropping two files at once fills before, then after
    page.evaluate(DROP_TWO, ["#drop-after", [f"{url}/api/edits/4/before", f"{url}/api/edits/4/after"]])
    page.wait_for_function("document.querySelector('#ex-after-name').textContent === 'dropped-1.png'")
    assert page.locator("#ex-before-name").text_content() == "dropped-0.png"
    page.wait_for_function(LOADED, arg="#ex-before-preview, #ex-after-preview")
    assert page.evaluate("document.querySelector('#ex-before-preview').src").startswith("blob:")

    # searching: the indexed copy of the pair comes first; the chip holds the pair, the URL says so
    page.click("#ex-search")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('your example')")
    assert page.locator(".card .score").first.text_content() == "1.000"
    assert page.locator(".card").first.get_attribute("data-id") == "4"
    assert query_of(page) == {"example": ["uploaded"]}
    assert page.locator("#chip-label").text_content() == "your example" and page.input_value("#q") == ""
    page.wait_for_function(LOADED, arg="#chip img")

    # a reload cannot bring the uploaded images back: a note says so and offers the drop zones
    page.reload()
    page.wait_for_function("document.querySelector('#message').classList.contains('note')")
    assert "drop your pair again" in page.locator("#message").text_content()
    assert page.locator("#example-form").is_visible() and page.locator(".card").count() == 0

    # a pair dropped anywhere on the page fills the example too (the browser does not open the files)
    page.evaluate(DROP_TWO, ["#results", [f"{url}/api/edits/4/before", f"{url}/api/edits/4/after"]])
    page.wait_for_function("document.querySelector('#ex-after-name').textContent === 'dropped-1.png'")
    page.click("#ex-search")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('your example')")
    assert page.locator(".card").first.get_attribute("data-id") == "4" and page.url.startswith(url)


def test_metadata_facets_compose_the_filter(server, page):
    url, _ = server
    page.goto(url)
    page.wait_for_selector("#facets select[data-key=family]")
    options = page.locator("#facets select[data-key=family] option").all_text_contents()
    assert "f0 (3)" in options and f"{QUOTED} (1)" in options
    assert "7 (2)" in page.locator("#facets select[data-key=n] option").all_text_contents()

    search_text(page, "make it bright")
    page.select_option("#facets select[data-key=family]", "f0")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('family = f0')")
    assert query_of(page) == {"text": ["make it bright"], "meta.family": ["f0"]}
    assert page.locator(".card .instruction").all_text_contents() == ["invert the colors"] * 3

    # a value with quotes is sent as it is (the server binds it); a number matches as a number
    page.select_option("#facets select[data-key=family]", QUOTED)
    page.wait_for_function("(q) => document.querySelector('#summary').textContent.includes(q)", arg=QUOTED)
    assert page.locator(".card .instruction").all_text_contents() == ["mirror it in grey"]
    page.select_option("#facets select[data-key=family]", "")
    page.select_option("#facets select[data-key=n]", "7")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('n = 7')")
    found = sorted(page.locator(".card .instruction").all_text_contents())
    assert found == ["convert to black and white", "mirror it in grey"]

    # the facet is part of the history (choosing "any" was a step too), and of an address
    page.go_back()
    page.wait_for_function("!document.querySelector('#summary').textContent.includes('n = 7')")
    assert page.locator(".card").count() == ALL and page.input_value("#facets select[data-key=n]") == ""
    page.go_back()
    page.wait_for_function("(q) => document.querySelector('#summary').textContent.includes(q)", arg=QUOTED)
    assert page.input_value("#facets select[data-key=family]") == QUOTED
    page.goto(f"{url}/?text=make+it+bright&meta.family=f0&where=json_extract(metadata,'$.n')>3")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('family = f0')")
    assert page.locator(".card").count() == 2 and page.input_value("#facets select[data-key=family]") == "f0"


def summary_has(page, text: str) -> None:
    """Wait for the summary to name `text` (a locator wait: it needs no eval, which the page's policy refuses)."""
    page.locator("#summary").filter(has_text=text).wait_for()


def test_a_facet_travels_as_a_meta_parameter_beside_the_users_own_where(server, browser):
    url, root = server
    page = browser.new_page(viewport={"width": 1200, "height": 900})  # under the page's content-security policy
    page.set_default_timeout(30_000)
    problems: list[str] = []  # a module refused (its type, the policy) or failing shows up here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sent: list = []
    page.on("request", lambda r: sent.append(r) if urlparse(r.url).path == "/api/search" else None)
    page.goto(url)
    page.wait_for_selector("#facets select[data-key=family]")
    page.fill("#q", "make it bright")
    page.click("#search-form button[type=submit]")
    summary_has(page, "“make it bright”")
    page.select_option("#facets select[data-key=family]", QUOTED)
    summary_has(page, QUOTED)
    params = parse_qs(urlparse(sent[-1].url).query)
    assert params == {"text": ["make it bright"], "k": ["24"], "meta.family": [QUOTED]}
    assert page.locator(".card .instruction").all_text_contents() == ["mirror it in grey"]

    # the where box is the user's own SQL, passed as typed; the facet goes beside it, never folded into it
    page.click("#more summary")
    page.fill("#where", "id > 0")
    page.click("#search-form button[type=submit]")
    summary_has(page, "where id > 0")
    params = parse_qs(urlparse(sent[-1].url).query)
    assert params["where"] == ["id > 0"] and params["meta.family"] == [QUOTED]
    echo = sent[-1].response().json()["query"]
    assert echo["where"] == "id > 0" and echo["meta"] == {"family": QUOTED}
    assert page.locator(".card .instruction").all_text_contents() == ["mirror it in grey"]

    # a search by example sends the facet as the form field meta.KEY (its multipart body is not recorded)
    page.fill("#where", "")
    page.select_option("#facets select[data-key=family]", "f0")
    summary_has(page, "family = f0")
    page.click("#example-toggle")
    images = root / "data" / "images"
    page.set_input_files("#ex-before", str(images / "p0_1_before.png"))
    page.set_input_files("#ex-after", str(images / "p0_1_after.png"))
    page.click("#ex-search")
    summary_has(page, "your example")
    echo = sent[-1].response().json()["query"]  # the filters the server bound, as it echoes them
    assert sent[-1].method == "POST" and echo["meta"] == {"family": "f0"} and "where" not in echo
    assert "family = f0" in page.locator("#summary").text_content() and page.locator(".card").count() == 3
    page.close()
    assert not problems, problems


def test_a_damaged_index_shows_a_banner(server, page, tmp_path):
    _, root = server
    index_dir = Path(shutil.copytree(root / "idx", tmp_path / "idx"))
    with serving(index_dir, tmp_path) as url:
        page.goto(url)
        page.wait_for_selector(".stats:not(:empty)")
        assert not page.locator("#banner").is_visible()
        damage_catalog(index_dir / CATALOG_FILE)
        page.reload()
        page.wait_for_selector("#banner", state="visible")
        text = page.locator("#banner").text_content()
        assert "cannot serve" in text and "damaged" in text and str(tmp_path) not in text


NESTED = {
    "camera": {"make": "Fuji", "lens": {"mm": 35, "prime": True}},
    "tags": ["sky", "b&w", HOSTILE],
    "crops": [{"x": 1, "y": 2}],
    "empty": {},
    "note": None,
}


def test_nested_metadata_reads_as_rows_and_the_page_loads_without_a_404(tmp_path, tiny_model_dir, page):
    import json

    from index_fixtures import make_collection, write_image

    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    manifest = make_collection(tmp_path / "data", 2)
    images = tmp_path / "data" / "images"
    write_image(images / "nested_before.png", 31)
    write_image(images / "nested_after.png", 32)
    row = {"before": "images/nested_before.png", "after": "images/nested_after.png", "instruction": "tag the sky"}
    with manifest.open("a") as f:
        f.write(json.dumps(row | NESTED) + "\n")
    with EditIndex.open(tmp_path / "idx", create=True) as index:
        index.sync([manifest], load_model(tiny_model_dir), batch_size=8, workers=0)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    with serving(tmp_path / "idx", tmp_path) as url:
        page.goto(url)
        page.wait_for_selector(".stats:not(:empty)")
        icon = page.evaluate("fetch(document.querySelector('link[rel=icon]').href).then((r) => r.status)")
        assert icon == 200  # the page names an icon that is there: no browser asks for a missing one
        search_text(page, "tag the sky")
        open_card(page, "tag the sky")
        rows = [tuple(r.split("\t")) for r in page.locator("#d-meta tbody tr").all_inner_texts()]
        assert rows == [
            ("camera.make", "Fuji"),
            ("camera.lens.mm", "35"),
            ("camera.lens.prime", "true"),
            ("tags", f"sky, b&w, {HOSTILE}"),
            ("crops[0].x", "1"),
            ("crops[0].y", "2"),
            ("empty", "(empty)"),
            ("note", "null"),
        ], rows
        assert page.locator("#d-meta script, #d-meta img").count() == 0 and page.evaluate("window.pwned") is None
        close_dialog(page)
    assert failed == []  # no request of the page fails (without --audit it asks for no audit)


def test_a_weak_match_note_says_what_the_query_was_judged_by(server, page):
    url, _ = server

    def weak(route):  # the server's answer, marked weak: what the page says of it is under test
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "weak_match": True})

    page.route("**/api/search?**", weak)
    page.goto(f"{url}/?edit_id=4")
    page.wait_for_function("document.querySelector('#message').textContent.includes('Weak match for edits like #4')")
    assert "nothing here is much like it" in page.locator("#message").text_content()
    search_text(page, "invert the colors")
    page.wait_for_function("document.querySelector('#message').textContent.includes('fit none of this collection')")
