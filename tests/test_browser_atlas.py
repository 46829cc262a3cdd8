"""The Atlas view in Chromium (Playwright): no empty frame without a map, names beside their clusters, the picture's
colours, and the example panel kept off the map."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from browser_fixtures import pixel, serving
from map_fixtures import clustered, store_map, vector_index

from editsearch.index.store import EditIndex

TEXTS = ["invert the colors", "a watercolor painting", "black and white", "mirror the image", "blur it"]
PER = 60  # edits per family; one in ten of them noise on the map
DRAWN = "document.querySelector('#atlas-canvas').dataset.drawn"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, tiny_model_dir) -> tuple[Path, Path, dict[int, int]]:
    """(an index of 300 edits with a stored map of five clusters, the same edits with no map, edit -> cluster)."""
    from editsearch.encoder import load_model

    root = tmp_path_factory.mktemp("atlas-page")
    model = load_model(str(tiny_model_dir))
    vectors, family = clustered(model.embed_texts(TEXTS).numpy(), PER, seed=3)
    carried = [TEXTS[f] for f in family]
    mapped, unmapped = (vector_index(root / name, model, vectors, carried) for name in ("mapped", "unmapped"))
    clusters = {i + 1: int(f) for i, f in enumerate(family) if i % 10}  # edit ids start at 1
    store_map(mapped, clusters, None)  # named as `map` names them: each cluster by its instruction
    return mapped, unmapped, clusters


@pytest.fixture(scope="module")
def served(indexes, tmp_path_factory):
    with serving(indexes[0], tmp_path_factory.mktemp("served")) as url:
        yield url


def open_atlas(page, url: str) -> None:
    page.goto(f"{url}/?view=atlas")
    page.wait_for_function(f"{DRAWN} !== undefined")


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_without_a_map_only_the_message_shows(indexes, page, tmp_path):
    with serving(indexes[1], tmp_path) as url:
        page.goto(f"{url}/?view=atlas")
        page.wait_for_function("document.querySelector('#message').classList.contains('error')")
        assert "run `editsearch map --index" in page.locator("#message").text_content()
        assert page.locator("#message").is_visible()
        assert not page.locator("#atlas").is_visible() and page.locator("#atlas-wrap").bounding_box() is None
        assert not page.locator("#results").is_visible() and page.evaluate(DRAWN) is None


def test_cluster_names_cover_none_of_their_points(served, indexes, page):
    _, _, clusters = indexes
    open_atlas(page, served)
    for zoom in ("", "+"):  # as fitted, and zoomed in around the centre
        if zoom:
            page.focus("#atlas-overlay")
            page.keyboard.press(zoom)
            page.wait_for_timeout(200)
        labels = page.evaluate("editsearchAtlas.labels()")
        assert {label["label"] for label in labels} <= set(TEXTS) and len(labels) >= (5 if not zoom else 1)
        for label in labels:
            x0, y0, x1, y1 = label["box"]
            members = [i for i, c in clusters.items() if c == label["cluster"]]
            at = [page.evaluate(f"editsearchAtlas.screenOf({i})") for i in members]
            covered = sum(x0 <= p["x"] <= x1 and y0 <= p["y"] <= y1 for p in at)
            assert covered < 0.05 * len(members), (label, covered)


def test_the_page_says_how_far_the_clusters_agree_with_the_instructions(served, indexes, page):
    _, _, clusters = indexes
    open_atlas(page, served)
    assert page.locator("#atlas-agreement").is_visible()
    assert page.locator("#atlas-agreement").text_content() == (
        "clusters agree with the instructions: purity 1.00 (per cluster in the legend); an instruction's edits in "
        f"one cluster: 1.00; 0 of 5 clusters mixed; over {len(TEXTS) * PER} edits with instructions"
    )
    legend = page.locator("#atlas-legend li").all_inner_texts()
    assert {row.split("\n")[0] for row in legend[:5]} == {f"{text} · purity 1.00" for text in TEXTS}
    point = next(i for i, c in clusters.items() if c == 3)
    at = page.evaluate(f"editsearchAtlas.screenOf({point})")
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector("#atlas-tip:not([hidden])")
    assert page.locator("#atlas-tip-label").text_content() == f"cluster: {TEXTS[3]} · purity 1.00"


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[k : k + 2], 16) for k in (1, 3, 5)])


def test_the_page_colours_each_cluster_as_the_picture_does(served, indexes, page):
    from matplotlib.colors import to_hex

    from editsearch.atlas import read_map
    from editsearch.atlas.render import figure

    mapped, _, clusters = indexes
    with EditIndex.open(mapped) as index:
        atlas = read_map(index)
    fig = figure(atlas)
    faces = fig.axes[0].collections[1].get_facecolors()  # the clustered points, in the map's order
    in_png = {int(c): to_hex(faces[k], keep_alpha=False) for k, c in enumerate(atlas.cluster[atlas.cluster >= 0])}
    open_atlas(page, served)
    swatches = page.eval_on_selector_all(
        "#atlas-legend li", "(rows) => rows.map(r => [r.textContent, getComputedStyle(r.firstChild).backgroundColor])"
    )
    for k, text in enumerate(TEXTS):
        swatch = next(colour for row, colour in swatches if row.startswith(text))
        assert swatch == "rgb({}, {}, {})".format(*rgb(in_png[k])), (k, swatch, in_png[k])
        # the points themselves: the base canvas at one of cluster k's points is that colour, faded onto white
        point = next(i for i, c in clusters.items() if c == k)
        at = page.evaluate(f"editsearchAtlas.screenOf({point})")
        drawn = np.array(pixel(page, at)[:3])
        pure, faded = rgb(in_png[k]), 255 - 0.9 * (255 - rgb(in_png[k]))
        assert (np.minimum(pure, faded) - 3 <= drawn).all() and (drawn <= np.maximum(pure, faded) + 3).all(), k


def test_the_example_panel_stays_off_the_map(served, page):
    page.goto(served)
    page.click("#example-toggle")
    assert page.locator("#example-form").is_visible()
    page.click("#atlas-toggle")  # into the Atlas: the panel closes, the map is in view
    page.wait_for_function(f"{DRAWN} !== undefined")
    assert not page.locator("#example-form").is_visible() and in_viewport(page, "#atlas-wrap")
    page.click("#example-toggle")  # searching by example from the Atlas: the search view, the panel open
    page.wait_for_function("document.querySelector('#atlas').hidden")
    assert page.locator("#example-form").is_visible() and "view" not in page.url
    page.click("#atlas-toggle")
    page.wait_for_function("!document.querySelector('#atlas').hidden")
    assert not page.locator("#example-form").is_visible() and in_viewport(page, "#atlas-wrap")
    page.click("#atlas-toggle")  # and out of it: the panel stays closed
    page.wait_for_function("document.querySelector('#atlas').hidden")
    assert not page.locator("#example-form").is_visible()


def test_the_atlas_draws_hovers_and_opens_under_the_pages_content_security_policy(served, indexes, browser):
    _, _, clusters = indexes
    page = browser.new_page(viewport={"width": 1200, "height": 900})  # no bypass: locator waits need no eval
    page.set_default_timeout(30_000)
    problems: list[str] = []  # a module refused (its type, the policy) or failing shows up here
    failed: list[str] = []  # these edits have no images: their thumbnails fail (422), nothing else may
    quiet = "Failed to load resource"  # a failed response, checked below
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and quiet not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: failed.append(urlparse(r.url).path) if r.status >= 400 else None)
    page.goto(f"{served}/?view=atlas&text=blur+it")
    page.wait_for_selector("#atlas-canvas[data-drawn]", state="attached")
    page.locator("#summary").filter(has_text="highlighted").wait_for()
    point = next(i for i, c in clusters.items() if c == 4)
    at = page.evaluate(f"editsearchAtlas.screenOf({point})")
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector("#atlas-tip:not([hidden])")
    assert page.locator("#atlas-tip-label").text_content() == f"cluster: {TEXTS[4]} · purity 1.00"
    page.select_option("#atlas-colour", "source")
    assert len(page.locator("#atlas-legend li").all_inner_texts()) == 1
    page.mouse.click(at["x"], at["y"])
    page.wait_for_selector("#detail[open]")
    page.locator("#d-id").filter(has_text=f"#{point}").wait_for()
    page.close()
    assert not problems, problems
    assert failed and all(re.fullmatch(r"/api/edits/\d+/(before|after)", path) for path in failed), failed
