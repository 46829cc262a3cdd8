"""Hostile values at the CLI boundary: out-of-range ids and sizes, control characters, non-finite JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from index_fixtures import make_collection

from editsearch.cli.common import finite, printable
from editsearch.cli.main import cli

HUGE = "99999999999999999999999"
TITLE = "make it \x1b]0;pwned\x07 red\x1b[2J"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("faults")
    manifest = make_collection(root / "data", 6)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[0]["instruction"] = TITLE
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows).replace('"n": 1}', '"n": NaN}'))
    result = run("build-index", manifest, "--index", root / "idx", "--model", tiny_model_dir, "-q")
    assert result.exit_code == 0, result.output
    return root / "idx"


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--edit-id", HUGE],
        ["show", HUGE],
        ["remove", HUGE],
        ["show", "0"],
        ["query", "--text", "  "],
        ["query", "--text", "blur", "--not-text", ""],
    ],
)
def test_out_of_range_ids_and_empty_texts_are_usage_errors(built, args):
    result = run(*args, "--index", built)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_apply_and_score_validate_their_numbers(tmp_path):
    for args in (["--size", "-8"], ["--steps", "0"], ["--edit-id", HUGE]):
        result = run("apply", "--before", "a.png", "--after", "b.png", "--image", "q.png", "--out", tmp_path, *args)
        assert result.exit_code == 2, args
    for size in ("0", "-2"):
        assert run("score", "--manifest", __file__, "--batch-size", size).exit_code == 2


def test_a_huge_id_in_a_queries_file_fails_only_its_line(built, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(f'{{"edit_id": {HUGE}}}\n{{"edit_id": 2}}\n{{"edit_id": -1}}\n')
    result = run("query", "--index", built, "--queries", queries, "--json")
    outs = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 3 and len(outs) == 3
    assert "64-bit" in outs[0]["error"] and "error" not in outs[1] and outs[1]["results"] and "error" in outs[2]


def test_catalog_text_reaches_the_terminal_with_control_characters_escaped(built):
    listed = run("query", "--index", built, "--edit-id", "2", "--k", "10")
    shown = run("show", "1", "--index", built)
    for result in (listed, shown):
        assert result.exit_code == 0 and "\x1b" not in result.output and "\x07" not in result.output
        assert "\\x1b]0;pwned\\x07" in result.output
    as_json = json.loads(run("show", "1", "--index", built, "--json").stdout)
    assert as_json["instruction"] == TITLE  # JSON keeps the exact text, escaped by JSON itself


def test_json_output_is_strict_non_finite_values_become_null(built):
    result = run("show", "2", "--index", built, "--json")
    assert result.exit_code == 0 and "NaN" not in result.stdout
    assert json.loads(result.stdout)["metadata"]["n"] is None
    assert finite({"a": [float("nan"), 1.5, (float("-inf"),)]}) == {"a": [None, 1.5, [None]]}
    assert printable("tab\tnew\nline\x00\x9b") == "tab\tnew\nline\\x00\\x9b"
