"""The served audit: GET /api/audit lists an `editsearch audit` folder's flagged live edits, worst first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from index_fixtures import make_collection
from serve_fixtures import audited_index

from editsearch.cli.main import cli
from editsearch.serve import create_app

HOSTS = ["testserver"]


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def audited(tmp_path_factory, tiny_model_dir):
    return audited_index(tmp_path_factory.mktemp("served-audit"), tiny_model_dir)


def test_the_audit_is_served_worst_first_and_without_paths(audited):
    index, out, noop_id = audited
    with TestClient(create_app(index, allowed_hosts=HOSTS, readers=1, audit=out)) as client:
        data = client.get("/api/audit").json()
        assert set(data["flagged"]) == {"noop", "duplicate"} and data["edits"] == 11
        noop = data["flagged"]["noop"]
        assert noop[0]["id"] == noop_id and noop[0]["check"] == "noop"
        assert noop[0]["before"] == "p0_3_before.png" and noop[0]["urls"]["before_thumb"].startswith("/api/edits/")
        assert [r["score"] for r in noop] == sorted((r["score"] for r in noop), reverse=True)
        assert data["checks"]["noop"]["flagged"] == len(noop)
        assert str(index.parent) not in json.dumps(data)
        one = client.get("/api/audit", params={"check": "noop", "limit": 1}).json()
        assert list(one["flagged"]) == ["noop"] and len(one["flagged"]["noop"]) == 1
        assert client.get("/api/audit", params={"check": "nope"}).status_code == 400


def test_a_removed_edit_leaves_the_problems_and_no_audit_is_a_404(audited, tiny_model_dir, tmp_path):
    index, out, noop_id = audited
    copy = tmp_path / "idx"
    shutil.copytree(index, copy)
    assert run("remove", str(noop_id), "--index", copy).exit_code == 0
    with TestClient(create_app(copy, allowed_hosts=HOSTS, readers=1, audit=out)) as client:
        data = client.get("/api/audit").json()
        assert noop_id not in [r["id"] for r in data["flagged"]["noop"]]
        assert data["stale"] is True  # a removal moves the generation too
    with TestClient(create_app(copy, allowed_hosts=HOSTS, readers=1)) as client:
        missing = client.get("/api/audit")
        assert missing.status_code == 404 and "editsearch audit" in missing.json()["error"]


def plain_answers(client: TestClient) -> dict[str, tuple[int, bytes]]:
    """What a server answers besides its audit: a search, the map, the stats (which name no audit)."""
    paths = ("/api/search?text=brighter&k=3", "/api/map", "/healthz")
    answers = {}
    for path in paths:
        response = client.get(path)
        body = response.json()
        body.pop("ms", None)  # a search's time
        answers[path] = (response.status_code, json.dumps(body, sort_keys=True).encode())
    return answers


def test_an_audit_of_another_index_is_refused_and_the_rest_is_served(audited, tiny_model_dir, tmp_path):
    index, out, _ = audited
    other = tmp_path / "other"
    manifest = make_collection(tmp_path / "data", 6, seed=4)
    assert run("build-index", manifest, "--index", other, "--model", tiny_model_dir, "-q").exit_code == 0
    with TestClient(create_app(other, allowed_hosts=HOSTS, readers=1)) as client:
        plain = plain_answers(client)
    with TestClient(create_app(other, allowed_hosts=HOSTS, readers=1, audit=out)) as client:
        refused = client.get("/api/audit")
        assert refused.status_code == 409 and "another index" in refused.json()["error"]
        assert "Problems view is off" in refused.json()["error"] and str(tmp_path) not in refused.text
        assert plain_answers(client) == plain


def test_an_audit_of_an_older_generation_is_served_as_stale(audited, tiny_model_dir, tmp_path):
    index, out, noop_id = audited
    copy = tmp_path / "idx"
    shutil.copytree(index, copy)  # a copy (or a move) is the same index
    with TestClient(create_app(copy, allowed_hosts=HOSTS, readers=1, audit=out)) as client:
        fresh = client.get("/api/audit").json()
        assert fresh["stale"] is False and fresh["stale_note"] is None
    manifest = make_collection(tmp_path / "data", 3, seed=5)
    assert run("build-index", manifest, "--index", copy, "--model", tiny_model_dir, "-q").exit_code == 0
    with TestClient(create_app(copy, allowed_hosts=HOSTS, readers=1, audit=out)) as client:
        data = client.get("/api/audit").json()
        assert data["stale"] is True and "changed since the audit" in data["stale_note"]
        assert data["flagged"]["noop"][0]["id"] == noop_id  # still shown, with the note


@pytest.mark.parametrize("damage", ["summary-list", "no-id-column", "summary-removed", "incomplete"])
def test_a_damaged_audit_folder_turns_the_problems_view_off_and_nothing_else(audited, tmp_path, damage):
    import pyarrow.parquet as pq

    index, out, _ = audited
    folder = Path(shutil.copytree(out, tmp_path / "audit"))
    with TestClient(create_app(index, allowed_hosts=HOSTS, readers=1)) as client:
        plain = plain_answers(client)
    if damage == "summary-list":
        (folder / "summary.json").write_text("[]")
    elif damage == "no-id-column":
        pq.write_table(pq.read_table(folder / "audit.parquet").drop_columns(["id"]), folder / "audit.parquet")
    elif damage == "incomplete":  # a later audit's table beside this audit's summary
        summary = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, "audit_id": "0" * 32}))
    with TestClient(create_app(index, allowed_hosts=HOSTS, readers=1, audit=folder)) as client:
        if damage == "summary-removed":  # while serving
            assert client.get("/api/audit").status_code == 200
            (folder / "summary.json").unlink()
        refused = client.get("/api/audit")
        assert refused.status_code == 409 and "Problems view is off" in refused.json()["error"]
        assert plain_answers(client) == plain


def test_serve_says_at_start_when_the_problems_view_is_off_or_stale(audited, tmp_path, monkeypatch):
    import uvicorn

    index, out, _ = audited
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # start the app, serve nothing
    folder = Path(shutil.copytree(out, tmp_path / "audit"))
    (folder / "summary.json").write_text("[]")
    started = run("serve", "--index", index, "--audit", folder)
    assert started.exit_code == 0 and "Traceback" not in started.output
    assert (
        "warning: --audit: the Problems view is off: " in started.stderr and "not an audit's summary" in started.stderr
    )
    copy = tmp_path / "idx"
    shutil.copytree(index, copy)
    assert run("remove", "2", "--index", copy).exit_code == 0
    stale = run("serve", "--index", copy, "--audit", out)
    assert stale.exit_code == 0 and "note: --audit: the audit is stale: the index changed" in stale.stderr
