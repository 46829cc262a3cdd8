"""The served API through FastAPI's TestClient: every endpoint, every bad input, the token, hostile filters,
writes from another process, and the apply limit."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from index_fixtures import make_collection
from PIL import Image
from serve_fixtures import HOSTILE, make_served_index, png_bytes

from editsearch.serve import create_app

HOSTS = ["testserver"]  # the Host header of TestClient's requests

RESULT_KEYS = {"rank", "id", "score", "instruction", "before", "after", "metadata", "scores"}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, tiny_model_dir) -> Path:
    return make_served_index(tmp_path_factory.mktemp("serve"), tiny_model_dir)


@pytest.fixture(scope="module")
def client(index_dir):
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, max_upload_mb=1, readers=2)) as c:
        yield c


def pair_files(index_dir: Path, n: int = 1) -> dict[str, tuple[str, bytes]]:
    images = index_dir.parent / "data" / "images"
    return {side: (f"{side}.png", (images / f"p0_{n}_{side}.png").read_bytes()) for side in ("before", "after")}


def test_health_stats_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    stats = client.get("/api/stats").json()
    assert stats["index"]["edits"] == 13 and stats["server"]["max_applies"] == 1
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/edits/{edit_id}", "/api/edits/{edit_id}/{side}", "/api/apply"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_text_search_has_the_query_json_shape_and_image_urls(client):
    out = client.get("/api/search", params={"text": "invert the colors", "k": 4}).json()
    assert out["query"] == {"text": ["invert the colors"], "k": 4}
    assert [r["rank"] for r in out["results"]] == [1, 2, 3, 4]
    first = out["results"][0]
    assert set(first) == RESULT_KEYS | {"urls"}
    assert first["urls"]["after_thumb"] == f"/api/edits/{first['id']}/after?size=256"
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)


def test_combined_query_weights_and_filters(client):
    both = client.get("/api/search", params={"text": ["invert", "mirror"], "weight": [1, 0.5], "k": 3})
    assert both.status_code == 200 and len(both.json()["results"]) == 3
    like = client.get("/api/search", params={"edit_id": 2, "not_text": "blur", "k": 20}).json()["results"]
    assert 2 not in [r["id"] for r in like]
    family = client.get(
        "/api/search", params={"edit_id": 1, "k": 20, "where": "json_extract(metadata, '$.family') = 'f2'"}
    )
    assert {r["metadata"]["family"] for r in family.json()["results"]} == {"f2"}
    mirrored = client.get("/api/search", params={"text": "x", "k": 20, "contains": "mirror"}).json()["results"]
    assert mirrored and all("mirror" in r["instruction"] for r in mirrored)
    wrong = client.get("/api/search", params={"text": ["a", "b"], "weight": [1]})
    assert wrong.status_code == 400 and "weights" in wrong.json()["error"]


def test_metadata_facets_travel_as_parameters_bound_server_side(client):
    family = client.get("/api/search", params={"edit_id": 1, "k": 20, "meta.family": "f2"})
    assert family.status_code == 200, family.text
    results = family.json()["results"]
    assert results and {r["metadata"]["family"] for r in results} == {"f2"}
    assert family.json()["query"]["meta"] == {"family": "f2"}
    text = client.get("/api/search", params={"text": "mirror", "k": 20, "meta.family": "f2"}).json()["results"]
    assert text and {r["metadata"]["family"] for r in text} == {"f2"}
    hostile = client.get("/api/search", params={"text": "x", "meta.family": "f2' OR '1'='1"})
    assert hostile.status_code == 200 and hostile.json()["results"] == []
    bad = client.get("/api/search", params={"text": "x", "meta.fam ily": "f2"})
    assert bad.status_code == 400 and "plain name" in bad.json()["error"]
    assert client.get("/api/search", params={"text": "x"}).status_code == 200  # still serving


@pytest.mark.parametrize("k", [0, -3, 1001, "ten"])
def test_k_out_of_range_is_a_400(client, k):
    response = client.get("/api/search", params={"text": "x", "k": k})
    assert response.status_code == 400 and response.json()["error"].startswith("k:")


def test_a_query_needs_a_term(client):
    response = client.get("/api/search")
    assert response.status_code == 400 and "give a query" in response.json()["error"]


@pytest.mark.parametrize(
    "where",
    [
        "1; DROP TABLE edits",
        "id IN (SELECT rowid FROM settings)",
        "(SELECT count(*) FROM models) > 0",
        "length(randomblob(1000000)) > 0",
        "load_extension('/tmp/evil')",
        "id IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)",
        "id IN (SELECT name FROM pragma_table_info('edits'))",
        "no_such_column = 1",
        "id = ",
        "') OR 1=1 --",
    ],
)
def test_hostile_and_malformed_filters_are_a_400_and_change_nothing(client, index_dir, where):
    response = client.get("/api/search", params={"text": "x", "where": where})
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("bad filter")
    import sqlite3

    with sqlite3.connect(index_dir / "catalog.db") as db:
        assert db.execute("SELECT count(*) FROM edits").fetchone()[0] == 13
        assert db.execute("SELECT value FROM settings WHERE key = 'model'").fetchone()
    assert client.get("/api/search", params={"text": "x", "k": 1}).status_code == 200  # still serving


def test_a_slow_filter_is_stopped_by_its_time_budget(client):
    import editsearch.serve.engine as engine_module

    slow = "(SELECT count(*) FROM edits a, edits b, edits c, edits d, edits e, edits f, edits g, edits h) > 0"
    started = time.perf_counter()
    response = client.get("/api/search", params={"text": "x", "where": slow})
    assert response.status_code == 400 and "longer than" in response.json()["error"]
    assert time.perf_counter() - started < engine_module.FILTER_BUDGET_S + 3


def test_edit_and_its_images(client):
    edit = client.get("/api/edits/3").json()
    assert edit["id"] == 3 and edit["instruction"] and edit["metadata"]["family"] == "f2"
    thumb = client.get("/api/edits/3/after", params={"size": 16})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 16
    again = client.get("/api/edits/3/after", params={"size": 16})
    assert again.content == thumb.content and again.headers["etag"] == thumb.headers["etag"]
    full = client.get("/api/edits/3/before")
    assert full.headers["content-type"] == "image/png" and Image.open(io.BytesIO(full.content)).size == (40, 32)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/edits/999", 404),
        ("/api/edits/999/before?size=64", 404),
        ("/api/edits/abc", 400),
        ("/api/edits/3/sideways", 400),
        ("/api/edits/3/before?size=5", 400),
        ("/api/edits/3/before?size=100000", 400),
        ("/api/edits/..%2F..%2Fetc%2Fpasswd/before", 404),
        ("/api/search?edit_id=999", 404),
    ],
)
def test_unknown_ids_and_bad_image_requests(client, path, status):
    response = client.get(path)
    assert response.status_code == status and response.json()["status"] == status


def test_exemplar_search_by_upload_and_by_id(client, index_dir):
    found = client.post("/api/search", files=pair_files(index_dir, 1), data={"k": "3"}).json()["results"]
    assert found[0]["id"] == 2 and found[0]["score"] == pytest.approx(1.0, abs=1e-4)
    like = client.post("/api/search", data={"edit_id": "2", "k": "3"}).json()["results"]
    assert 2 not in [r["id"] for r in like] and len(like) == 3


def test_post_search_ranks_text_as_get_does(client):
    text = "invert the colors"

    def triples(response):
        assert response.status_code == 200, response.text
        raw = [(r["id"], r["score"], r["scores"]) for r in response.json()["results"]]
        return [(i, round(s, 6), {k: round(v, 6) for k, v in c.items()}) for i, s, c in raw]

    seen = {}
    for rank in ("pair", "instruction", None):
        form = {"text": text, "k": "5"} | ({"rank": rank} if rank else {})
        posted = client.post("/api/search", data=form)
        got = client.get("/api/search", params={"text": text, "k": 5} | ({"rank": rank} if rank else {}))
        seen[rank] = triples(posted)
        assert seen[rank] == triples(got)
        assert posted.json()["query"].get("rank") == rank  # echoed unless it is the default
    assert all(score == scores["pair"] for _, score, scores in seen["pair"])
    assert all(score == scores["instruction"] for _, score, scores in seen["instruction"])
    assert [s for _, s, _ in seen["pair"]] != [s for _, s, _ in seen["instruction"]]
    bad = client.post("/api/search", data={"text": text, "rank": "nope"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("rank:")
    assert triples(client.post("/api/search", data={"text": text, "k": "5", "rank": "pair"})) == seen["pair"]


def bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (12_000, 16_000)).save(buf, "PNG")  # 192 Mpx of one bit: a few kB on disk
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"this is not an image", 422, "not a recognised image"),
        (png_bytes(1)[:200], 422, "cannot decode"),
        (b"", 422, "empty"),
        (bomb(), 422, "decompression bomb"),
        (b"\x89PNG" + b"0" * 1_100_000, 413, "limit of 1 MB"),
    ],
    ids=["text", "truncated", "empty", "bomb", "huge"],
)
def test_bad_uploads_are_clear_4xx_errors(client, index_dir, data, status, words):
    files = pair_files(index_dir)
    files["before"] = ("my 'photo'.png", data)
    response = client.post("/api/search", files=files)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    big = b"0" * 5_000_000  # over 3 files x 1 MB
    response = client.post("/api/search", content=big, headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and "limit" in response.json()["error"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(6):
            yield b"0" * 1_000_000

    response = client.post("/api/search", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413


def test_half_a_pair_is_a_400(client, index_dir):
    response = client.post("/api/search", files={"before": pair_files(index_dir)["before"]})
    assert response.status_code == 400 and "both files" in response.json()["error"]


def test_uploads_never_land_in_the_index(client, index_dir):
    before = sorted(p.name for p in index_dir.iterdir())
    client.post("/api/search", files=pair_files(index_dir))
    client.post("/api/apply", files={"image": ("q.png", png_bytes(7))}, data={"edit_id": "1", "steps": "1"})
    assert sorted(p.name for p in index_dir.iterdir()) == before


def test_apply_an_indexed_edit_returns_a_png_and_its_ec2ec(client):
    response = client.post("/api/apply", files={"image": ("q.png", png_bytes(7))}, data={"edit_id": "1", "steps": "2"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (64, 64)
    assert -1 <= float(response.headers["x-ec2ec"]) <= 1


def test_apply_an_uploaded_pair_as_json(client, index_dir):
    files = {"image": ("q.png", png_bytes(8)), **pair_files(index_dir, 3)}
    out = client.post("/api/apply?format=json", files=files, data={"steps": "2"}).json()
    assert out["image"].startswith("data:image/png;base64,") and out["size"] == [64, 64]
    assert -1 <= out["ec2ec"] <= 1 and out["settings"]["steps"] == 2


def test_apply_methods_are_listed_from_the_registry(client):
    from editsearch.transfer.methods.registry import METHODS

    rows = client.get("/api/methods").json()["methods"]
    assert [(r["name"], r["summary"]) for r in rows] == [(m.name, m.summary) for m in METHODS.values()]
    assert [r["name"] for r in rows if r["served"]] == ["editclip"]  # the one /api/apply runs


@pytest.mark.parametrize(
    ("data", "files", "status"),
    [
        ({}, {}, 400),
        ({"edit_id": "1"}, {"image": ("q.txt", b"not an image")}, 422),
        ({"edit_id": "999"}, {"image": ("q.png", png_bytes(9))}, 404),
        ({"edit_id": "1", "steps": "0"}, {"image": ("q.png", png_bytes(9))}, 400),
    ],
)
def test_apply_errors(client, data, files, status):
    files = files or {"image": ("q.png", png_bytes(9))}
    response = client.post("/api/apply", data=data, files=files)
    assert response.status_code == status, response.text


class SlowTransfer:
    """Stands in for EditTransfer: apply blocks until released."""

    resolution = 64
    device, dtype = "cpu", "float32"
    editclip = SimpleNamespace(name="stub-editclip")

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def apply(self, before, after, images, **_):
        self.started.set()
        assert self.release.wait(20)
        return [Image.new("RGB", (64, 64))]

    def ec2ec(self, *_):
        return [0.5]


def test_applies_beyond_the_limit_get_a_503_and_searches_never_wait(index_dir, monkeypatch):
    app = create_app(index_dir, allowed_hosts=HOSTS, max_applies=1, apply_queue=0, readers=1)
    slow = SlowTransfer()

    @contextmanager
    def fake_transfer():
        yield slow

    monkeypatch.setattr(app.state.engine, "transfer", fake_transfer)
    files = {"image": ("q.png", png_bytes(3))}
    with TestClient(app) as client:
        first: dict = {}
        worker = threading.Thread(
            target=lambda: first.update(r=client.post("/api/apply", files=files, data={"edit_id": "1"}))
        )
        worker.start()
        assert slow.started.wait(20)
        busy = client.post("/api/apply", files=files, data={"edit_id": "1"})
        assert busy.status_code == 503 and busy.headers["retry-after"]
        started = time.perf_counter()
        assert client.get("/api/search", params={"text": "x"}).status_code == 200
        assert time.perf_counter() - started < 5  # not queued behind the running apply
        slow.release.set()
        worker.join(20)
        assert first["r"].status_code == 200 and first["r"].headers["x-ec2ec"] == "0.500000"
        assert client.post("/api/apply", files=files, data={"edit_id": "1"}).status_code == 200


def test_parallel_searches_agree_with_serial_ones(client):
    texts = ["invert the colors", "mirror the image", "add strong contrast", "make it a watercolor painting"] * 4
    serial = [client.get("/api/search", params={"text": t, "k": 5}).json()["results"] for t in texts]
    out: list = [None] * len(texts)

    def one(i: int) -> None:
        out[i] = client.get("/api/search", params={"text": texts[i], "k": 5}).json()["results"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert out == serial


def test_catalog_text_comes_back_as_data(client):
    found = client.get("/api/search", params={"text": "x", "k": 20, "contains": "bright"}).json()["results"]
    assert [r["instruction"] for r in found] == [HOSTILE]
    assert "quoted" in found[0]["before"] and client.get(found[0]["urls"]["before_thumb"]).status_code == 200


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for module in ("main", "results", "dialog", "facets"):
        script = client.get(f"/static/js/{module}.js")
        assert script.status_code == 200 and "innerHTML" not in script.text  # catalog text goes in as text only
    assert client.get("/static/style.css").status_code == 200


def test_the_page_names_an_icon_that_is_served_even_without_the_token(client, index_dir):
    page = client.get("/").text
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert link is not None, "the page names its icon: browsers then never ask for a missing one"
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, token="s3cret", readers=1)) as guarded:
        for c in (client, guarded):
            icon = c.get(link[1])
            assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
            assert icon.text.startswith("<svg")


def test_token(index_dir):
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, token="s3cret", readers=1)) as client:
        assert client.get("/healthz").status_code == 200
        denied = client.get("/api/search", params={"text": "x"})
        assert denied.status_code == 401 and "token" in denied.json()["error"]
        assert (
            client.get("/api/search", params={"text": "x"}, headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/docs").status_code == 401
        opened = client.get("/", params={"token": "s3cret"})
        assert opened.status_code == 200 and "editsearch_token=s3cret" in opened.headers["set-cookie"]
        assert client.get("/api/edits/1/before", params={"size": 32}).status_code == 200  # the cookie
        client.cookies.clear()
        assert client.get("/api/edits/1/before", params={"size": 32}).status_code == 401


def test_json_request_log_has_one_line_per_request_and_never_the_token(index_dir, capsys):
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, token="s3cret", log="json", readers=1)) as client:
        client.get("/api/search", params={"text": "x", "token": "s3cret"})
        client.get("/api/edits/999", headers={"Authorization": "Bearer s3cret"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("GET", "/api/search", 200),
        ("GET", "/api/edits/999", 404),
    ]
    assert all("s3cret" not in json.dumps(r) for r in lines) and lines[0]["ms"] > 0


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "editsearch"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def test_writes_from_another_process_are_seen_without_a_restart(tmp_path, tiny_model_dir):
    index_dir = make_served_index(tmp_path, tiny_model_dir, n=4)
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=2)) as client:
        assert client.get("/api/stats").json()["index"]["edits"] == 5
        extra = make_collection(tmp_path / "more", 3, seed=7)
        built = run_cli("build-index", extra, "--index", index_dir, "-q")
        assert built.returncode == 0, built.stderr
        found = client.get("/api/search", params={"text": "x", "k": 50}).json()["results"]
        assert len(found) == 8
        new_id = max(r["id"] for r in found)
        assert client.get(f"/api/edits/{new_id}").status_code == 200
        removed = run_cli("remove", "--index", index_dir, new_id)
        assert removed.returncode == 0, removed.stderr
        for _ in range(2):  # every reader of the pool follows
            ids = {r["id"] for r in client.get("/api/search", params={"text": "x", "k": 50}).json()["results"]}
            assert new_id not in ids and len(ids) == 7
        assert client.get(f"/api/edits/{new_id}").status_code == 404
        assert client.get(f"/api/edits/{new_id}/after?size=32").status_code == 404


def test_serve_command_is_registered():
    from click.testing import CliRunner

    from editsearch.cli.main import cli

    out = CliRunner().invoke(cli, ["serve", "--help"])
    assert out.exit_code == 0
    for option in ("--index", "--host", "--port", "--model", "--token", "--max-upload-mb", "--max-applies", "--json"):
        assert option in out.output


def test_queries_embed_with_the_shared_onnx_towers_or_else_the_torch_model(client, index_dir, monkeypatch):
    from editsearch.encoder.embedder import Embedder
    from editsearch.search.api import EditSearch

    assert client.get("/api/stats").json()["server"]["query_towers"] == "onnx"
    readers = list(client.app.state.engine._readers.queue)
    assert readers[0].embedder.tower("text") is readers[1].embedder.tower("text") is not None  # one session, shared
    served = client.get("/api/search", params={"text": "invert the colors", "k": 5}).json()["results"]
    monkeypatch.setattr(Embedder, "ready_towers", lambda self: False)
    monkeypatch.setattr(Embedder, "tower", lambda self, kind: None)
    with TestClient(create_app(index_dir, allowed_hosts=HOSTS, readers=1)) as torch_client:
        assert torch_client.get("/api/stats").json()["server"]["query_towers"] == "torch"
        by_torch = torch_client.get("/api/search", params={"text": "invert the colors", "k": 5}).json()["results"]
    with EditSearch.open(index_dir) as searcher:
        direct = [r.to_dict() for r in searcher.search_text("invert the colors", k=5)]
    for results in (served, by_torch):
        assert [r["id"] for r in results] == [r["id"] for r in direct]
        assert [r["score"] for r in results] == pytest.approx([r["score"] for r in direct], abs=1e-4)
