"""`editsearch apply` end to end on real image files, with a tiny random pipeline saved to a tmp folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import random_image
from PIL import Image

from editsearch.cli.main import cli

FAST = ["--steps", "2", "--size", "32"]


@pytest.fixture(scope="module")
def pipeline_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test pipeline, conditioned on the tiny EditCLIP loaded from its folder (recorded by path)."""
    from test_transfer_pipeline import tiny_transfer

    from editsearch.encoder import load_model

    return tiny_transfer(load_model(tiny_model_dir, device="cpu")).save_pretrained(tmp_path_factory.mktemp("pipe"))


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, seed, size in [("a", 1, (40, 48)), ("b", 2, (40, 48)), ("q1", 3, (32, 32)), ("q2", 4, (64, 32))]:
        paths[name] = tmp_path / f"{name}.png"
        random_image(seed, size).save(paths[name])
    return paths


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_apply_before_after_json(pipeline_dir, files, tmp_path):
    out = tmp_path / "result.png"
    result = run(
        "apply",
        "--before",
        files["a"],
        "--after",
        files["b"],
        "--image",
        files["q1"],
        "--out",
        out,
        "--model",
        pipeline_dir,
        "--seed",
        "3",
        "--json",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["edit"]["before"] == str(files["a"]) and report["edit"]["id"] is None
    (row,) = report["outputs"]
    assert row["output"] == str(out) and Image.open(out).size == (32, 32) == tuple(row["size"])
    assert -1.0 <= row["ec2ec"] <= 1.0
    assert set(report["timings"]) == {"load_s", "apply_s", "per_image_s", "score_s", "total_s"}
    assert report["settings"]["steps"] == 2 and report["settings"]["dtype"] == "float32"
    again = run(
        "apply",
        "--before",
        files["a"],
        "--after",
        files["b"],
        "--image",
        files["q1"],
        "--out",
        tmp_path / "again.png",
        "--model",
        pipeline_dir,
        "--seed",
        "3",
        *FAST,
    )
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == str(tmp_path / "again.png")
    assert Image.open(out).tobytes() == Image.open(tmp_path / "again.png").tobytes()


def test_apply_many_images_into_a_folder(pipeline_dir, tiny_model_dir, files, tmp_path):
    out = tmp_path / "outs"
    result = run(
        "apply",
        "--before",
        files["a"],
        "--after",
        files["b"],
        "--image",
        files["q1"],
        "--image",
        files["q2"],
        "--out",
        out,
        "--model",
        pipeline_dir,
        "--editclip",
        tiny_model_dir,
        *FAST,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / "q1-edited.png"), str(out / "q2-edited.png")]
    assert Image.open(out / "q2-edited.png").size == (44, 24)
    assert "EC2EC" in result.stderr


def test_apply_an_indexed_edit(pipeline_dir, tiny_model_dir, files, tmp_path, monkeypatch):
    from index_fixtures import make_collection

    from editsearch.index.store import EditIndex

    idx = tmp_path / "idx"
    built = run("build-index", make_collection(tmp_path / "data", 3), "--index", idx, "--model", tiny_model_dir, "-q")
    assert built.exit_code == 0, built.output
    with EditIndex.open(idx) as index:
        edit_id = min(index.catalog.existing_ids(list(range(1, 50))))
    monkeypatch.setenv("EDITSEARCH_INDEX", str(idx))  # --index defaults to $EDITSEARCH_INDEX
    result = run(
        "apply",
        "--edit-id",
        edit_id,
        "--image",
        files["q1"],
        "--out",
        tmp_path / "o.png",
        "--model",
        pipeline_dir,
        "--json",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["edit"]["id"] == edit_id and report["edit"]["before"].endswith("_before.png")
    assert report["edit"]["instruction"] == "invert the colors"
    unknown = run(
        "apply",
        "--index",
        idx,
        "--edit-id",
        9999,
        "--image",
        files["q1"],
        "--out",
        tmp_path / "x.png",
        "--model",
        pipeline_dir,
        *FAST,
    )
    assert unknown.exit_code == 1 and "9999" in unknown.output and "Traceback" not in unknown.output
    no_index = run(
        "apply",
        "--index",
        tmp_path / "none",
        "--edit-id",
        1,
        "--image",
        files["q1"],
        "--out",
        tmp_path / "x.png",
        "--model",
        pipeline_dir,
    )
    assert no_index.exit_code == 1 and "no index at" in no_index.output


def test_user_errors_are_one_line_without_traceback(pipeline_dir, files, tmp_path):
    cases = [
        (
            [
                "--before",
                files["a"],
                "--after",
                files["b"],
                "--image",
                tmp_path / "missing.png",
                "--out",
                tmp_path / "o",
                "--model",
                pipeline_dir,
            ],
            1,
            "file not found",
        ),
        (
            [
                "--before",
                tmp_path / "missing.png",
                "--after",
                files["b"],
                "--image",
                files["q1"],
                "--out",
                tmp_path / "o",
                "--model",
                pipeline_dir,
            ],
            1,
            "file not found",
        ),
        (
            [
                "--before",
                files["a"],
                "--after",
                files["b"],
                "--image",
                files["q1"],
                "--out",
                tmp_path / "o",
                "--model",
                tmp_path / "no-such-model",
            ],
            1,
            "not a folder",
        ),
        (
            [
                "--before",
                files["a"],
                "--after",
                files["b"],
                "--image",
                files["q1"],
                "--out",
                tmp_path / "o",
                "--model",
                tmp_path,
            ],
            1,
            "unet/",
        ),
        (["--before", files["a"], "--image", files["q1"], "--out", tmp_path / "o"], 2, "go together"),
        (["--image", files["q1"], "--out", tmp_path / "o"], 2, "--edit-id"),
        (
            [
                "--before",
                files["a"],
                "--after",
                files["b"],
                "--image",
                files["q1"],
                "--image",
                files["q2"],
                "--out",
                tmp_path / "one.png",
            ],
            2,
            "folder",
        ),
    ]
    for args, code, message in cases:
        result = run("apply", *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, result.output


def test_unreadable_query_images_are_reported_and_skipped(pipeline_dir, files, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    out = tmp_path / "outs"
    images = [files["q1"], tmp_path / "empty.png", tmp_path / "missing.png", files["q2"], tmp_path / "text.png"]
    result = run(
        "apply",
        "--before",
        files["a"],
        "--after",
        files["b"],
        *[a for im in images for a in ("--image", im)],
        "--out",
        out,
        "--model",
        pipeline_dir,
        "--json",
        *FAST,
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert [row["image"] for row in report["outputs"]] == [str(files["q1"]), str(files["q2"])]
    assert sorted(p.name for p in out.iterdir()) == ["q1-edited.png", "q2-edited.png"]
    reasons = {Path(row["image"]).name: row["reason"] for row in report["failed"]}
    assert set(reasons) == {"empty.png", "missing.png", "text.png"}
    assert "0 bytes" in reasons["empty.png"] and "not found" in reasons["missing.png"]
    assert "skipped" in result.stderr and "Traceback" not in result.output


def test_a_seed_outside_the_generator_range_is_a_usage_error(pipeline_dir, files, tmp_path):
    args = ["--before", files["a"], "--after", files["b"], "--image", files["q1"], "--out", tmp_path / "o.png"]
    result = run("apply", *args, "--model", pipeline_dir, "--seed", str(2**63))
    assert result.exit_code == 2 and "Traceback" not in result.output and not (tmp_path / "o.png").exists()


def test_outputs_of_the_shipped_demonstration_pipeline_say_so(pipeline_dir, files, tmp_path):
    """The default pipeline (editclip-ip2p-mini, 64 px, synthetic edits) is named a demonstration on stderr and
    in --json; another pipeline is not."""
    from editsearch.transfer.pipeline_names import PIPELINES, TINY_NAME

    exemplar = ["--before", files["a"], "--after", files["b"], "--image", files["q1"], *FAST]
    shipped = run("apply", *exemplar, "--out", tmp_path / "d.png", "--json")
    assert shipped.exit_code == 0, shipped.output
    report = json.loads(shipped.stdout)
    assert report["demonstration"] is True and report["model"] == TINY_NAME
    assert "64-px demonstration pipeline" in shipped.stderr
    by_folder = run("apply", *exemplar, "--out", tmp_path / "f.png", "--model", PIPELINES[TINY_NAME].location)
    assert by_folder.exit_code == 0 and "64-px demonstration pipeline" in by_folder.stderr
    other = run("apply", *exemplar, "--out", tmp_path / "o.png", "--model", pipeline_dir, "--json")
    assert other.exit_code == 0 and json.loads(other.stdout)["demonstration"] is False
    assert "demonstration" not in other.stderr
