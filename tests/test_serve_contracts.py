"""What the page builds on: served JSON names no server path, image downloads, facets for filters, helpful filter
errors, the apply response's pipeline, and the one JPEG thumbnail function."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_fixtures import make_served_index, png_bytes

from editsearch.serve import create_app
from editsearch.serve.shapes import public_name

HOSTS = ["testserver"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, tiny_model_dir) -> Path:
    return make_served_index(tmp_path_factory.mktemp("contracts"), tiny_model_dir)


@pytest.fixture(scope="module")
def client(index_dir):
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1)) as c:
        yield c


def no_paths(text: str, index_dir: Path) -> bool:
    return str(index_dir.parent) not in text and str(index_dir.parent.resolve()) not in text


def test_served_json_names_files_never_their_paths(client, index_dir):
    found = client.get("/api/search", params={"text": "x", "k": 20})
    results = found.json()["results"]
    assert {r["before"] for r in results} >= {"p0_0_before.png", 'it\'s a "quoted" name before.png'}
    edit = client.get("/api/edits/1")
    assert edit.json()["before"] == "p0_0_before.png" and edit.json()["origin"] == "manifest.jsonl"
    stats = client.get("/api/stats")
    assert stats.json()["index"]["path"] == "idx" and stats.json()["index"]["origins"] == ["manifest.jsonl"]
    missing = client.get("/api/edits/999")
    for response in (found, edit, stats, missing, client.get("/api/facets")):
        assert no_paths(response.text, index_dir), response.text


def test_locator_names():
    assert public_name("/data/set/cat.jpg") == "cat.jpg"
    assert (
        public_name("parquet-cell:12:original_image:/data/train-0001.parquet")
        == "train-0001.parquet row 12, original_image"
    )
    assert public_name(None) is None


def test_an_unreadable_image_error_names_no_path(tmp_path, tiny_model_dir):
    index_dir = make_served_index(tmp_path, tiny_model_dir, n=2)
    (tmp_path / "data" / "images" / "p0_1_after.png").unlink()
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1)) as c:
        response = c.get("/api/edits/2/after")
        assert response.status_code >= 400 and "p0_1_after.png" in response.json()["error"]
        assert no_paths(response.text, index_dir), response.text


def test_images_download_as_png_attachments(client):
    urls = client.get("/api/edits/3").json()["urls"]
    assert urls["before_download"] == "/api/edits/3/before?download=1"
    download = client.get(urls["after_download"])
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == 'attachment; filename="edit-3-after.png"'
    assert Image.open(io.BytesIO(download.content)).size == (40, 32)


def test_facets_list_the_columns_and_common_metadata_values(client):
    facets = client.get("/api/facets").json()
    assert {"id", "instruction", "source", "metadata", "before"} <= set(facets["columns"])
    assert set(facets["metadata"]) == {"family", "n"}
    family = facets["metadata"]["family"]
    assert sum(v["count"] for v in family) == 12 and family == sorted(family, key=lambda v: -v["count"])
    top = family[0]["value"]
    where = f"json_extract(metadata, '$.family') = '{top}'"
    found = client.get("/api/search", params={"text": "x", "k": 50, "where": where}).json()["results"]
    assert len(found) == family[0]["count"] and {r["metadata"]["family"] for r in found} == {top}
    assert client.get("/api/facets").json() == facets  # cached, same answer


def test_facets_cap_keys_and_values(tmp_path):
    from editsearch.index.catalog import Catalog, now

    catalog = Catalog.open(tmp_path / "catalog.db")
    rows = [
        (i, f"k{i}", "o", "manifest", "b", "a", json.dumps({f"key{i % 60}": i % 30, "x": i}), now(), now())
        for i in range(600)
    ]
    catalog.db.conn.executemany(
        "INSERT INTO edits (id, key, origin, source, before, after, metadata, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    facets = catalog.facets()
    catalog.close()
    assert len(facets) == 50 and "x" in facets
    assert all(len(values) <= 20 for values in facets.values()) and len(facets["x"]) == 20


def test_an_unknown_column_error_lists_the_columns_and_metadata_keys(client):
    response = client.get("/api/search", params={"text": "x", "where": "family = 'watercolor'"})
    error = response.json()["error"]
    assert response.status_code == 400 and "no such column: family" in error
    assert "columns: id, key, origin, source, before" in error
    assert "metadata keys (use json_extract(metadata, '$.KEY')): family, n" in error


def test_the_apply_json_names_its_pipeline(client):
    out = client.post(
        "/api/apply?format=json", files={"image": ("q.png", png_bytes(8))}, data={"edit_id": "1", "steps": "1"}
    ).json()
    assert out["pipeline"] == {"name": "editclip-ip2p-mini", "demonstration": True, "resolution": 64}


def test_one_thumbnail_function_serves_gallery_and_server(client, index_dir, tmp_path):
    from editsearch.data.gallery import write_gallery
    from editsearch.data.thumbnails import thumbnail_jpeg
    from editsearch.search.api import EditSearch

    with EditSearch.open(index_dir) as searcher:
        results = searcher.search_text("x", k=1)
    locator = results[0].before
    served = client.get(f"/api/edits/{results[0].id}/before", params={"size": 32}).content
    assert served == thumbnail_jpeg(locator, 32)
    page = write_gallery(tmp_path / "g.html", [("q", results)], thumb=16).read_text()
    import base64

    assert base64.b64encode(thumbnail_jpeg(locator, 32)).decode() in page
