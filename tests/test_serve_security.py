"""The served app under hostile or broken conditions: tokens, Host and Origin checks, filters that try to outrun
their budget, pixel bombs, huge seeds, unexpected errors, a damaged catalog, an index rebuilt under a running server,
and API docs that need no network."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from index_fixtures import make_collection
from PIL import Image
from serve_fixtures import big_png16, make_served_index, png_bytes

from editsearch.core.errors import ImageLoadError, UsageError
from editsearch.index.catalog import Catalog
from editsearch.index.errors import FilterError
from editsearch.media.images import load_image
from editsearch.serve import create_app

HOSTS = ["testserver"]
SLOW = "length(printf('%.*c', 900000 + id*0, 'x')) > 0"  # one costly function call per row, few VM steps


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, tiny_model_dir) -> Path:
    return make_served_index(tmp_path_factory.mktemp("secure"), tiny_model_dir)


@pytest.fixture(scope="module")
def client(index_dir):
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, max_upload_mb=1, readers=2)) as c:
        yield c


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "editsearch"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("token", ["", "   ", "\n"])
def test_an_empty_token_is_a_usage_error(index_dir, token):
    with pytest.raises(UsageError, match="token is empty"):
        create_app(index_dir, token=token)
    out = CliRunner().invoke(__import__("editsearch.cli.main", fromlist=["cli"]).cli, ["serve", "--token", token])
    assert out.exit_code == 2 and "--token" in out.output


def test_only_the_bound_and_allowed_host_names_are_answered(index_dir):
    with TestClient(create_app(index_dir, readers=1)) as plain:  # bound to 127.0.0.1; testserver not allowed
        refused = plain.get("/api/stats")
        assert refused.status_code == 400 and "--allowed-host" in refused.json()["error"]
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
            assert plain.get("/api/stats", headers={"host": host}).status_code == 200, host
        assert plain.get("/api/stats", headers={"host": "attacker.example:8000"}).status_code == 400
    app = create_app(index_dir, host="0.0.0.0", allowed_hosts=["box.lan"], readers=1)
    with TestClient(app) as lan:
        assert lan.get("/healthz", headers={"host": "box.lan:8000"}).status_code == 200
        assert lan.get("/healthz", headers={"host": "other.lan:8000"}).status_code == 400


def test_cross_origin_writes_are_refused(client):
    form = {"edit_id": "1", "k": "2"}
    evil = client.post("/api/search", data=form, headers={"origin": "http://attacker.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["error"]
    assert client.post("/api/search", data=form, headers={"origin": "null"}).status_code == 403
    assert client.post("/api/search", data=form, headers={"origin": "http://testserver:8001"}).status_code == 403
    assert client.post("/api/search", data=form, headers={"origin": "http://testserver"}).status_code == 200
    assert client.post("/api/search", data=form).status_code == 200  # no Origin: not a browser on another site
    assert client.get("/api/stats", headers={"origin": "http://attacker.example"}).status_code == 200  # reads


def test_a_filter_of_slow_calls_is_stopped_by_its_budget(client, index_dir):
    readers = list(client.app.state.engine._readers.queue)
    for reader in readers:
        reader.index.catalog.filter_budget_s = 0.01
    try:
        response = client.get("/api/search", params={"text": "x", "where": SLOW})
    finally:
        for reader in readers:
            reader.index.catalog.filter_budget_s = 2.0
    assert response.status_code == 400 and "longer than 0.01 s" in response.json()["error"]
    catalog = Catalog.open(index_dir / "catalog.db", readonly=True)
    try:
        catalog.filter_budget_s = 0.01
        with pytest.raises(FilterError, match="longer than"):
            catalog.filtered_vector_ids(catalog.get_setting("model") or "", SLOW, None)
        catalog.filter_budget_s = None
        assert len(catalog.filtered_vector_ids(catalog.get_setting("model") or "", SLOW, None)) == 13
    finally:
        catalog.close()


def test_a_filter_cannot_build_huge_values(client):
    found = client.get("/api/search", params={"text": "x", "where": "length(printf('%.*c', 30000000, 'x')) > 0"})
    assert found.status_code == 200 and found.json()["results"] == []  # over the length cap printf() is NULL
    for where in ("length(hex(printf('%.*c', 900000, 'x'))) > 0", "instruction LIKE '%" + "x%" * 150 + "'"):
        response = client.get("/api/search", params={"text": "x", "where": where})
        assert response.status_code == 400, where
        assert re.search("too big|too complex", response.json()["error"]), response.json()["error"]


def test_a_pixel_bomb_upload_is_refused_before_decoding(client, index_dir):
    images = index_dir.parent / "data" / "images"
    files = {"before": ("big.png", big_png16()), "after": ("a.png", (images / "p0_1_after.png").read_bytes())}
    response = client.post("/api/search", files=files)
    assert response.status_code == 422 and "too large" in response.json()["error"]
    assert "9400 x 9400" in response.json()["error"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/search", params={"text": "x", "k": 1}).status_code == 200


def test_the_pixel_limit_is_read_from_the_header_and_16_bit_images_convert_exactly():
    with pytest.raises(ImageLoadError, match="40 x 32 pixels"):
        load_image(png_bytes(1), max_pixels=1000)
    rng = __import__("numpy").random.default_rng(0)
    values = rng.integers(0, 65536, (8, 9), dtype="uint16")
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, "PNG")
    converted = __import__("numpy").asarray(load_image(buf.getvalue()))[..., 0]
    expected = __import__("numpy").clip(values / 65535.0 * 255.0 + 0.5, 0, 255).astype("uint8")
    assert (converted == expected).all()


@pytest.mark.parametrize("seed", [str(2**63), "-1", "99999999999999999999999"])
def test_an_out_of_range_seed_is_a_json_400(client, seed):
    response = client.post(
        "/api/apply", files={"image": ("q.png", png_bytes(2))}, data={"edit_id": "1", "steps": "1", "seed": seed}
    )
    assert response.status_code == 400 and response.json()["error"].startswith("seed:")


def test_an_unexpected_error_is_a_json_500_without_details(index_dir, monkeypatch, caplog):
    app = create_app(index_dir, allowed_hosts=HOSTS, readers=1)

    def broken():
        raise RuntimeError("secret detail at /srv/private/thing")

    monkeypatch.setattr(app.state.engine, "facets", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/facets")
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "internal server error (the server's log has the details)", "status": 500}
    assert "secret detail" in caplog.text  # logged on the server, with its traceback


def test_a_damaged_catalog_shows_in_health_and_as_json_errors(tmp_path, tiny_model_dir):
    index_dir = make_served_index(tmp_path, tiny_model_dir, n=4)
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1), raise_server_exceptions=False) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        catalog = index_dir / "catalog.db"
        data = bytearray(catalog.read_bytes())
        data[24:28] = (int.from_bytes(data[24:28], "big") + 1).to_bytes(4, "big")  # the change counter moves
        data[100:] = b"\xa5" * (len(data) - 100)
        catalog.write_bytes(bytes(data))
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert "damaged" in health.json()["error"] and str(tmp_path) not in health.text
        for response in (c.get("/api/search", params={"text": "x"}), c.get("/api/edits/1"), c.get("/api/stats")):
            assert response.status_code in (500, 503) and response.headers["content-type"] == "application/json"
            assert str(tmp_path) not in response.text and "Traceback" not in response.text


def test_health_reads_the_catalog_again_only_when_its_files_change_or_the_answer_is_old(
    tmp_path, tiny_model_dir, monkeypatch
):
    from editsearch.serve import engine as served

    index_dir = make_served_index(tmp_path, tiny_model_dir, n=4)
    opened = []
    real_open = Catalog.open.__func__

    def counted(cls, path, **kwargs):
        opened.append(path)
        return real_open(cls, path, **kwargs)

    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1)) as c:
        monkeypatch.setattr(Catalog, "open", classmethod(counted))
        for _ in range(3):
            assert c.get("/healthz").json() == {"status": "ok"}
        assert len(opened) == 1  # the first probe checked the file; the others had the same files
        catalog = index_dir / "catalog.db"
        os.utime(catalog, ns=(catalog.stat().st_atime_ns, catalog.stat().st_mtime_ns + 10**9))
        assert c.get("/healthz").status_code == 200 and len(opened) == 2  # the file was touched: read again
        monkeypatch.setattr(served, "HEALTH_RECHECK_S", 0.0)
        assert c.get("/healthz").status_code == 200 and len(opened) == 3  # unchanged, but the answer was old


def test_an_index_rebuilt_at_the_same_path_is_served(tmp_path, tiny_model_dir):
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    index_dir = make_served_index(tmp_path, tiny_model_dir, n=4)
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=2)) as c:
        assert c.get("/api/stats").json()["index"]["edits"] == 5
        shutil.rmtree(index_dir)
        manifest = make_collection(tmp_path / "other", 3, seed=9)
        with EditIndex.open(index_dir, create=True) as index:
            index.sync([manifest], load_model(tiny_model_dir), batch_size=8, workers=0)
        for _ in range(2):  # every reader of the pool follows
            assert c.get("/api/stats").json()["index"]["edits"] == 3
            found = c.get("/api/search", params={"text": "x", "k": 50}).json()["results"]
            assert {r["before"] for r in found} == {f"p9_{i}_before.png" for i in range(3)}
        removed = run_cli("remove", "--index", index_dir, found[0]["id"])
        assert removed.returncode == 0, removed.stderr
        for _ in range(2):
            assert len(c.get("/api/search", params={"text": "x", "k": 50}).json()["results"]) == 2


def test_api_docs_load_nothing_from_other_sites(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assert links and all(link.startswith("/") and not link.startswith("//") for link in links), links
        assert "http://" not in html.text and "https://" not in html.text
        for link in links:
            assert client.get(link).status_code == 200, link
    assert client.get("/openapi.json").json()["paths"]
