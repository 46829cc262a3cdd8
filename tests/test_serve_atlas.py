"""The Atlas view of `editsearch serve`: GET /api/map (TestClient), and the page's map in Chromium (Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from browser_fixtures import LOADED, NEXT_FRAMES, close_dialog, pixel, serving
from fastapi.testclient import TestClient
from index_fixtures import make_collection
from map_fixtures import clustered, store_map, vector_index
from serve_fixtures import HOSTILE, audited_index, make_served_index

from editsearch.atlas.palette import CLUSTER_COLOURS, NOISE_COLOUR
from editsearch.audit.checks import registry
from editsearch.index.store import EditIndex
from editsearch.serve import create_app

HOSTS = ["testserver"]
EDITS = 28  # 24 ordinary edits and the hostile one from manifest.jsonl, 3 from second.jsonl
NAMES = {0: "invert the colors", 1: "a watercolor painting", 2: "black and white", 3: "mirror the image", 4: HOSTILE}
CLUSTERS = {i: (i - 1) % 5 for i in range(1, 25)}  # ids 1-24 by their instruction; 25-28 noise
DRAWN = "document.querySelector('#atlas-canvas').dataset.drawn"


def load(model_dir: Path):
    from editsearch.encoder import load_model

    return load_model(str(model_dir))


@pytest.fixture(scope="module")
def unmapped(tmp_path_factory, tiny_model_dir) -> Path:
    """EDITS edits from two manifests (images on disk), and no map."""
    root = tmp_path_factory.mktemp("atlas")
    index_dir = make_served_index(root, tiny_model_dir, n=24)
    second = make_collection(root / "second", 3, seed=7, name="second.jsonl")
    with EditIndex.open(index_dir, writable=True) as index:
        index.sync([second], load(tiny_model_dir), batch_size=8, workers=0)
    return index_dir


@pytest.fixture(scope="module")
def mapped(unmapped, tmp_path_factory) -> tuple[Path, dict[int, tuple]]:
    """A copy of `unmapped` with a stored map (five named clusters, one named by the hostile text); its points."""
    index_dir = Path(shutil.copytree(unmapped, tmp_path_factory.mktemp("mapped") / "idx"))
    return index_dir, store_map(index_dir, CLUSTERS, NAMES)


@pytest.fixture(scope="module")
def served(mapped, tmp_path_factory):
    """`editsearch serve` of the mapped index: its URL."""
    with serving(mapped[0], tmp_path_factory.mktemp("served")) as url:
        yield url


@pytest.fixture(scope="module")
def audited(tmp_path_factory, tiny_model_dir) -> tuple[Path, Path, int]:
    return audited_index(tmp_path_factory.mktemp("audited"), tiny_model_dir)


def client_of(index_dir: Path, **options) -> TestClient:
    return TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1, **options))


# ---- GET /api/map ----------------------------------------------------------------------------------------


def test_an_index_without_a_map_is_a_409_naming_the_command(unmapped):
    with client_of(unmapped) as client:
        answer = client.get("/api/map")
    assert answer.status_code == 409 and answer.json()["status"] == 409
    assert "editsearch map" in answer.json()["error"] and str(unmapped.parent) not in answer.text


def test_the_map_is_parallel_arrays_with_clusters_and_sources(mapped):
    index_dir, points = mapped
    with client_of(index_dir) as client:
        answer = client.get("/api/map")
        plain = client.get("/api/map", headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert plain.json() == answer.json()
    out = answer.json()
    p = out["points"]
    assert set(p) == {"id", "x", "y", "cluster", "source"} and out["edits"] == EDITS
    assert p["id"] == list(range(1, EDITS + 1)) and all(len(v) == EDITS for v in p.values())
    for i, x, y, c in zip(p["id"], p["x"], p["y"], p["cluster"], strict=True):
        assert (x, y, c) == pytest.approx((points[i][0], points[i][1], points[i][2]), abs=1e-4)
    assert out["sources"] == ["manifest.jsonl", "second.jsonl"]
    assert p["source"] == [0] * 25 + [1] * 3
    clusters = {c["cluster"]: c for c in out["clusters"]}
    assert {k: c["label"] for k, c in clusters.items()} == NAMES  # the hostile name comes back as data
    assert [clusters[k]["size"] for k in range(5)] == [5, 5, 5, 5, 4]
    members = [i for i in range(1, 25) if CLUSTERS[i] == 3]
    assert clusters[3]["x"] == pytest.approx(float(np.median([points[i][0] for i in members])), abs=1e-4)
    assert [clusters[k]["colour"] for k in range(5)] == list(CLUSTER_COLOURS[:5])  # the picture's colours
    assert out["palette"] == list(CLUSTER_COLOURS) and out["noise_colour"] == NOISE_COLOUR
    x0, y0, x1, y1 = clusters[3]["box"]  # the extent of its members (but for strays)
    xs, ys = [points[i][0] for i in members], [points[i][1] for i in members]
    assert min(xs) <= x0 < clusters[3]["x"] < x1 <= max(xs) and min(ys) <= y0 < clusters[3]["y"] < y1 <= max(ys)
    assert out["audit"] is None and out["notes"] == []
    assert out["agreement"] is None and "run `editsearch map`" in out["agreement_line"]  # named by older rules
    assert {(c["source"], c["purity"]) for c in out["clusters"]} == {("", None)}
    assert str(index_dir.parent) not in answer.text and "/tmp" not in answer.text


def test_the_map_says_how_far_its_clusters_agree_with_the_instructions(tmp_path, tiny_model_dir):
    model = load(tiny_model_dir)
    mirror, flip, sepia = "mirror the image", "flip it upside down", "make it sepia"
    vectors, family = clustered(model.embed_texts([mirror, sepia]).numpy(), 12, seed=4)
    carried = [(mirror, flip)[i % 2] if f == 0 else sepia for i, f in enumerate(family.tolist())]
    e = np.eye(vectors.shape[1], dtype=np.float32)  # the three instructions unlike each other
    with_texts = vector_index(tmp_path / "idx", model, vectors, carried, {mirror: e[0], flip: e[1], sepia: e[2]})
    without = vector_index(tmp_path / "bare", model, vectors)
    for index_dir in (with_texts, without):
        store_map(index_dir, {i + 1: int(f) for i, f in enumerate(family)}, None)  # named as `map` names them
    with client_of(with_texts) as client:
        out = client.get("/api/map").json()
    clusters = {c["cluster"]: c for c in out["clusters"]}
    assert clusters[0]["label"] == f"mixed: {flip} / {mirror}" and clusters[0]["mixed"] is True
    assert (clusters[0]["purity"], clusters[0]["instructed"], clusters[0]["source"]) == (0.5, 12, "instructions")
    assert (clusters[1]["label"], clusters[1]["mixed"], clusters[1]["purity"]) == (sepia, False, 1.0)
    assert out["agreement"]["purity"] == 0.75 and out["agreement"]["mixed"] == 1
    assert out["agreement_line"].startswith(
        "clusters agree with the instructions: purity 0.75 (per cluster in the legend);"
    )
    with client_of(without) as client:
        bare = client.get("/api/map").json()
    assert {c["source"] for c in bare["clusters"]} == {"vocabulary"} and bare["agreement"]["instructed"] == 0
    assert bare["agreement_line"] == "no instructions on the mapped edits: the clusters cannot be checked against them"


def test_a_removed_edit_leaves_the_map_and_a_new_one_is_noted(mapped, tmp_path, tiny_model_dir):
    index_dir = Path(shutil.copytree(mapped[0], tmp_path / "idx"))
    with client_of(index_dir) as client:
        assert 3 in client.get("/api/map").json()["points"]["id"]
        with EditIndex.open(index_dir, writable=True) as index:
            assert index.remove([3]) == 1
        out = client.get("/api/map").json()
        assert 3 not in out["points"]["id"] and out["edits"] == EDITS - 1
        assert {c["cluster"]: c["size"] for c in out["clusters"]}[2] == 4  # edit 3 was one of cluster 2's
        more = make_collection(tmp_path / "more", 1, seed=9, name="more.jsonl")
        with EditIndex.open(index_dir, writable=True) as index:
            index.sync([more], load(tiny_model_dir), batch_size=8, workers=0)
        noted = client.get("/api/map").json()
        store_map(index_dir, dict.fromkeys(range(1, 10), 0), {0: "mapped anew"})  # the map alone changes
        out = client.get("/api/map").json()
    assert noted["edits"] == EDITS - 1 and "1 edits added since" in noted["notes"][0]
    assert "editsearch map" in noted["notes"][0]
    assert out["edits"] == EDITS and out["notes"] == [] and [c["label"] for c in out["clusters"]] == ["mapped anew"]


@pytest.mark.parametrize("n", [0, 1, 2, 10])
def test_a_few_edits_are_laid_out_without_a_stored_map(tmp_path, tiny_model_dir, n):
    model = load(tiny_model_dir)
    vectors, _ = clustered(model.embed_texts(["invert the colors", "blur it"]).numpy(), 5, seed=2)
    index_dir = vector_index(tmp_path / "idx", model, vectors[:n])
    with client_of(index_dir) as client:
        answer = client.get("/api/map")
    assert answer.status_code == 200
    out = answer.json()
    assert out["edits"] == n and len(out["points"]["x"]) == n and out["clusters"] == []
    assert out["points"]["cluster"] == [-1] * n and np.isfinite(out["points"]["x"] + out["points"]["y"]).all()
    assert ("no edits" if n == 0 else "at least 20") in out["notes"][0]
    if n == 2:
        assert out["points"]["x"][0] != out["points"]["x"][1]  # apart on their principal axis


def test_the_audit_flags_each_point_by_check(audited):
    index_dir, out_dir, noop_id = audited
    with client_of(index_dir, audit=out_dir) as client:
        out = client.get("/api/map").json()
    checks, flags = out["audit"]["checks"], out["audit"]["flags"]
    assert checks == ["noop", "duplicate"] and len(flags) == out["edits"] == 11
    assert out["audit"]["colours"] == [registry.get(c).colour for c in checks]  # the page colours by the registry
    assert flags[out["points"]["id"].index(noop_id)] & 1
    assert sum(1 for f in flags if f & 1) == 1


def test_the_map_needs_the_token_and_its_script_sets_no_html(mapped):
    with TestClient(create_app(mapped[0], allowed_hosts=HOSTS, token="s3cret", readers=1)) as client:
        assert client.get("/api/map").status_code == 401
        assert client.get("/api/map", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        for module in ("view", "pointer", "colours", "labels"):
            script = client.get(f"/static/js/atlas/{module}.js")
            assert script.status_code == 200 and "innerHTML" not in script.text
            assert "insertAdjacentHTML" not in script.text


# ---- the page ------------------------------------------------------------------------------------------------


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def open_atlas(page) -> None:
    page.click("#atlas-toggle")
    page.wait_for_function(f"{DRAWN} !== undefined")


def test_the_atlas_draws_every_edit_hovers_a_pair_and_opens_it(served, page):
    page.goto(served)
    open_atlas(page)
    assert query_of(page) == {"view": ["atlas"]} and page.get_attribute("#atlas-toggle", "aria-pressed") == "true"
    assert page.evaluate(DRAWN) == str(EDITS) and not page.locator("#results").is_visible()
    assert page.locator("#summary").text_content() == f"Atlas · {EDITS} edits · 5 clusters"

    # the cluster names are on the map and in the legend, the hostile one as text
    assert {label["label"] for label in page.evaluate("editsearchAtlas.labels()")} == set(NAMES.values())
    legend = page.locator("#atlas-legend li").all_inner_texts()
    assert any(HOSTILE in row for row in legend) and any(row.startswith("noise") for row in legend)
    assert page.evaluate("window.pwned") is None and page.locator("#atlas img[src='x'], #atlas script").count() == 0

    # a point is drawn where the map says; hovering it shows its pair, its instruction and its cluster
    at = page.evaluate("editsearchAtlas.screenOf(4)")
    assert pixel(page, at)[:3] != [255, 255, 255]
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector("#atlas-tip:not([hidden])")
    assert page.locator("#atlas-tip").get_attribute("data-id") == "4"
    page.wait_for_function(LOADED, arg="#atlas-tip img")
    assert page.evaluate("document.querySelector('#atlas-tip-before').src").endswith("/api/edits/4/before?size=128")
    page.wait_for_function("document.querySelector('#atlas-tip-text').textContent !== ''")
    assert page.locator("#atlas-tip-text").text_content() == "mirror the image"
    assert page.locator("#atlas-tip-label").text_content() == "cluster: mirror the image"

    # a click opens the edit as a search result does; no score, since no query ranked it
    page.mouse.click(at["x"], at["y"])
    page.wait_for_function(LOADED, arg="#d-before, #d-after")
    assert page.locator("#d-id").text_content() == "#4"
    assert page.locator("#d-title").text_content() == "mirror the image"
    assert page.locator("#d-score").text_content() == "—" and page.locator("#d-source").text_content() == "manifest"
    close_dialog(page)

    # colour by source: the legend counts each source file
    page.select_option("#atlas-colour", "source")
    page.wait_for_function("document.querySelector('#atlas-legend').textContent.includes('second.jsonl')")
    assert page.locator("#atlas-legend li").all_inner_texts() == ["manifest.jsonl\n25", "second.jsonl\n3"]


def test_a_query_highlights_its_results_on_the_map_and_the_view_is_in_the_history(served, page):
    page.goto(served)
    open_atlas(page)
    page.fill("#q", "mirror the image")
    page.fill("#k", "3")
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelector('#summary').textContent.includes('highlighted')")
    assert query_of(page) == {"text": ["mirror the image"], "view": ["atlas"], "k": ["3"]}
    assert "3 results for “mirror the image” highlighted" in page.locator("#summary").text_content()

    # a highlighted result's card says its rank and score, and opens with that score
    hit = page.evaluate("fetch('/api/search?text=mirror+the+image&k=3').then(r => r.json())")["results"][0]
    at = page.evaluate(f"editsearchAtlas.screenOf({hit['id']})")
    page.mouse.move(at["x"], at["y"])
    page.wait_for_function(f"document.querySelector('#atlas-tip').dataset.id === '{hit['id']}'")
    assert page.locator("#atlas-tip-id").text_content() == f"#{hit['id']} · result 1 · {hit['score']:.3f}"
    page.mouse.click(at["x"], at["y"])
    page.wait_for_selector("#detail[open]")
    assert page.locator("#d-score").text_content().startswith(f"{hit['score']:.3f}")
    close_dialog(page)

    # leaving the Atlas keeps the query as result cards; Back comes back to the map
    page.click("#atlas-toggle")
    page.wait_for_function("document.querySelectorAll('.card').length === 3")
    assert query_of(page) == {"text": ["mirror the image"], "k": ["3"]} and not page.locator("#atlas").is_visible()
    page.go_back()
    page.wait_for_function("document.querySelector('#summary').textContent.includes('highlighted')")
    assert page.locator("#atlas").is_visible() and not page.locator("#results").is_visible()


def test_without_a_map_the_page_says_how_to_make_one(unmapped, page, tmp_path):
    with serving(unmapped, tmp_path) as url:
        page.goto(f"{url}/?view=atlas")
        page.wait_for_function("document.querySelector('#message').classList.contains('error')")
        assert "editsearch map" in page.locator("#message").text_content()
        assert page.evaluate(DRAWN) is None


def test_the_atlas_colours_by_audit_flag(audited, page, tmp_path):
    index_dir, out_dir, noop_id = audited
    with serving(index_dir, tmp_path, "--audit", str(out_dir)) as url:
        page.goto(f"{url}/?view=atlas")
        page.wait_for_function(f"{DRAWN} === '11'")
        assert "at least 20" in page.locator("#message").text_content()  # 11 edits: laid out, all noise
        page.select_option("#atlas-colour", "audit")
        page.wait_for_function("document.querySelector('#atlas-legend').textContent.includes('noop')")
        assert page.locator("#atlas-legend li").all_inner_texts()[0] == "noop\n1"
        page.evaluate(NEXT_FRAMES)  # the legend changes at once, the canvas at the next animation frame
        at = page.evaluate(f"editsearchAtlas.screenOf({noop_id})")
        red, green, blue = pixel(page, at)[:3]
        assert red > green and red > blue  # the noop colour, not the grey of unflagged edits
