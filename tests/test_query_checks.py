"""What a query is refused for, in one place for every face: unknown ids, blank texts, bad weights, oversized
queries; and the weak-match cue of a text query."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from index_fixtures import make_collection

from editsearch.cli.main import cli
from editsearch.core.errors import UsageError
from editsearch.core.limits import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from editsearch.index.errors import UnknownEditError
from editsearch.search.api import EditSearch


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def mini_index(tmp_path_factory):
    """A 10-pair index built with the shipped editclip-mini (real text tower: weak matches are meaningful)."""
    root = tmp_path_factory.mktemp("checks")
    manifest = make_collection(root / "data", 10)
    result = run("build-index", manifest, "--index", root / "idx", "-q")
    assert result.exit_code == 0, result.output
    return root / "idx"


def test_query_of_an_unknown_edit_id_exits_1_with_one_line(mini_index):
    result = run("query", "--index", mini_index, "--edit-id", "999")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == ["Error: no live edit with id 999 (and a vector) in this index"]
    removed = run("remove", "3", "--index", mini_index)
    assert removed.exit_code == 0
    gone = run("query", "--index", mini_index, "--edit-id", "3", "--json")
    assert gone.exit_code == 1 and "no live edit with id 3" in gone.stderr
    assert run("show", "3", "--index", mini_index).exit_code == 1  # show follows the same rule


def test_blank_text_is_refused_by_the_library_and_so_by_every_face(mini_index):
    with EditSearch.open(mini_index) as searcher:
        with pytest.raises(UsageError, match="empty"):
            searcher.search_text("   ")
        outcome = searcher.run_batch([{"text": " "}, {"text": "invert the colors"}])
    assert "empty" in outcome[0].error and outcome[1].results
    result = run("query", "--index", mini_index, "--text", " ")
    assert result.exit_code == 2 and "empty" in result.stderr


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -float("inf"), 1e308])
def test_weights_must_be_finite_and_bounded(mini_index, weight):
    with EditSearch.open(mini_index) as searcher, pytest.raises(UsageError, match="weight"):
        searcher.search(["invert the colors", "mirror the image"], weights=[1.0, weight])


def test_queries_are_capped_in_terms_and_characters(mini_index, tmp_path):
    with EditSearch.open(mini_index) as searcher:
        with pytest.raises(UsageError, match="terms"):
            searcher.search(["invert the colors"] * (MAX_QUERY_TERMS + 1))
        with pytest.raises(UsageError, match="characters"):
            searcher.search(["x" * 9_000, "y" * 9_000, "z" * (MAX_QUERY_CHARS - 18_000 + 1)])
    queries = tmp_path / "q.jsonl"
    lines = [{"text": ["make it a watercolor painting " * 60] * 400}, {"text": "invert the colors"}]
    queries.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run("query", "--index", mini_index, "--queries", queries, "--json")
    assert result.exit_code == 3
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "at most" in first["error"] and not first["results"]
    assert second["results"]


def test_a_nonsense_text_is_a_weak_match_and_a_real_one_is_not(mini_index):
    with EditSearch.open(mini_index) as searcher:
        nonsense = searcher.search_text("asdkjh qwpeoiru", k=5)
        real = searcher.search_text("invert the colors", k=5)
        assert searcher.weak_match(nonsense) is True
        assert searcher.weak_match(real) is False
        assert searcher.weak_match([]) is None
    weak = json.loads(run("query", "--index", mini_index, "--text", "asdkjh qwpeoiru", "--json").stdout)
    assert weak["weak_match"] is True and weak["results"]
    shown = run("query", "--index", mini_index, "--text", "asdkjh qwpeoiru")
    assert "weak match" in shown.stdout
    strong = json.loads(run("query", "--index", mini_index, "--text", "invert the colors", "--json").stdout)
    assert strong["weak_match"] is False
    assert weak["results"][0]["score"] <= weak["weak_reference"] == strong["weak_reference"]
    assert strong["results"][0]["score"] > strong["weak_reference"]
    by_id = json.loads(run("query", "--index", mini_index, "--edit-id", "1", "--json").stdout)
    assert by_id["weak_match"] is False and by_id["results"][0]["score"] > by_id["weak_reference"]
    image = mini_index.parent / "data" / "images" / "p0_0_before.png"
    noop = run("query", "--index", mini_index, "--before", image, "--after", image)  # after = before: no edit at all
    assert "weak match: nothing here is much like this edit" in noop.stdout
    mixed = json.loads(run("query", "--index", mini_index, "--text", "invert", "--edit-id", "1", "--json").stdout)
    assert mixed["weak_match"] is None and mixed["weak_reference"] is None  # no reference fits a mix


def test_unknown_edit_error_is_the_index_error(mini_index):
    with EditSearch.open(mini_index) as searcher, pytest.raises(UnknownEditError):
        searcher.index.get_edit(10_000)


def test_the_server_reports_weak_matches_and_refuses_what_the_library_refuses(mini_index):
    from fastapi.testclient import TestClient

    from editsearch.serve import create_app

    with TestClient(create_app(mini_index, allowed_hosts=["testserver"], readers=1)) as client:
        weak = client.get("/api/search", params={"text": "asdkjh qwpeoiru"}).json()
        assert weak["weak_match"] is True and weak["results"]
        assert client.get("/api/search", params={"text": "invert the colors"}).json()["weak_match"] is False
        by_id = client.get("/api/search", params={"edit_id": 1}).json()
        assert by_id["weak_match"] is False and by_id["weak_reference"] < by_id["results"][0]["score"]
        image = (mini_index.parent / "data" / "images" / "p0_0_before.png").read_bytes()
        files = {"before": ("b.png", image, "image/png"), "after": ("a.png", image, "image/png")}
        noop = client.post("/api/search", files=files).json()
        assert noop["weak_match"] is True and noop["results"][0]["score"] <= noop["weak_reference"]
        blank = client.get("/api/search", params={"text": " "})
        assert blank.status_code == 400 and "empty" in blank.json()["error"]
        for weight in ("nan", "inf", "1e308"):
            bad = client.get("/api/search", params={"text": ["invert the colors", "mirror"], "weight": [1, weight]})
            assert bad.status_code == 400 and "weight" in bad.json()["error"]
        for texts in (["invert the colors"] * (MAX_QUERY_TERMS + 1), ["blur " * 500] * 10):
            many = client.get("/api/search", params={"text": texts})
            assert many.status_code == 400 and "at most" in many.json()["error"]
