"""The served audit: GET /api/audit lists an `editsearch audit` folder's flagged live edits, worst first."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
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
        flagged = client.get("/api/audit").json()["flagged"]["noop"]
        assert noop_id not in [r["id"] for r in flagged]
    with TestClient(create_app(copy, allowed_hosts=HOSTS, readers=1)) as client:
        missing = client.get("/api/audit")
        assert missing.status_code == 404 and "editsearch audit" in missing.json()["error"]
