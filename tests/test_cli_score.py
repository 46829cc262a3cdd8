"""`editsearch score` end to end on real image files."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner
from conftest import random_image

from editsearch.cli.main import cli
from editsearch.encoder import load_model


@pytest.fixture
def pair_files(tmp_path):
    paths = {}
    for name, seed in [("b", 1), ("a", 2), ("rb", 3), ("ra", 4)]:
        paths[name] = tmp_path / f"{name}.png"
        random_image(seed, (50, 40)).save(paths[name])
    return paths


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def test_score_ec2t_and_ec2ec_json(pair_files, tiny_model_dir) -> None:
    p = pair_files
    code, out, _ = run(
        "score",
        "--before",
        p["b"],
        "--after",
        p["a"],
        "--text",
        "add snow",
        "--ref-before",
        p["rb"],
        "--ref-after",
        p["ra"],
        "--model",
        tiny_model_dir,
        "--json",
    )
    assert code == 0, out
    res = json.loads(out)
    model = load_model(tiny_model_dir, device="cpu")
    emb = model.embed_pairs([p["b"]], [p["a"]])
    assert res["ec2t"] == pytest.approx(float((emb * model.embed_texts(["add snow"])).sum()), abs=1e-5)
    assert res["ec2ec"] == pytest.approx(float(model.ec2ec(([p["b"]], [p["a"]]), ([p["rb"]], [p["ra"]]))[0]), abs=1e-5)
    assert -1 <= res["ec2t"] <= 1


def test_score_same_pair_ec2ec_is_one(pair_files, tiny_model_dir) -> None:
    p = pair_files
    code, out, _ = run(
        "score",
        "--before",
        p["b"],
        "--after",
        p["a"],
        "--ref-before",
        p["b"],
        "--ref-after",
        p["a"],
        "--model",
        tiny_model_dir,
    )
    assert code == 0 and out.startswith("EC2EC") and float(out.split()[1]) == pytest.approx(1.0, abs=1e-4)


def test_score_defaults_to_the_shipped_trained_model(pair_files) -> None:
    from editsearch.encoder import load_model

    p = pair_files
    code, out, err = run("score", "--before", p["b"], "--after", p["a"], "--text", "make it brighter", "--json")
    assert code == 0 and "UNTRAINED" not in err
    expected = float(load_model().ec2t([p["b"]], [p["a"]], ["make it brighter"])[0])
    scores = json.loads(out)
    assert scores["ec2t"] == pytest.approx(expected, abs=1e-5)
    assert 1 <= scores["ec2t_rank"] <= scores["ec2t_among"] and 0 <= scores["ec2t_percentile"] <= 100
    code, out, _ = run("score", "--before", p["b"], "--after", p["a"], "--text", "make it brighter")
    assert code == 0 and f"rank {scores['ec2t_rank']} of {scores['ec2t_among']}" in out


def test_score_usage_errors(pair_files, tiny_model_dir) -> None:
    assert run("score", "--before", pair_files["b"], "--after", pair_files["a"], "--model", tiny_model_dir)[0] == 2
    assert (
        run(
            "score",
            "--before",
            pair_files["b"],
            "--after",
            pair_files["a"],
            "--ref-before",
            pair_files["b"],
            "--model",
            tiny_model_dir,
        )[0]
        == 2
    )
    code, _, err = run(
        "score", "--before", "missing.png", "--after", pair_files["a"], "--text", "x", "--model", tiny_model_dir
    )
    assert code == 1 and "file not found" in err and "Traceback" not in err


def test_score_manifest_to_csv_with_bad_rows(pair_files, tiny_model_dir, tmp_path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rows = [
        {"before": "b.png", "after": "a.png", "instruction": "add snow"},
        {"before": "b.png", "after": "broken.png", "instruction": "x"},
        {
            "before": "rb.png",
            "after": "ra.png",
            "instruction": "make it vintage",
            "ref_before": "b.png",
            "ref_after": "a.png",
        },
        {"before": "nope.png", "after": "a.png"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out_csv = tmp_path / "scores.csv"
    code, out, err = run("score", "--manifest", manifest, "--out", out_csv, "--model", tiny_model_dir, "--json")
    assert code == 3, err
    summary = json.loads(out)
    assert summary["scored"] == 2 and summary["failed"] == 2
    table = list(csv.DictReader(out_csv.open()))
    assert len(table) == 4
    assert table[0]["ec2t"] and not table[0]["ec2ec"] and not table[0]["error"]
    assert table[1]["error"] and "broken.png" in table[1]["error"]
    model = load_model(tiny_model_dir, device="cpu")
    expected = model.ec2ec(([pair_files["rb"]], [pair_files["ra"]]), ([pair_files["b"]], [pair_files["a"]]))
    assert float(table[2]["ec2ec"]) == pytest.approx(float(expected[0]), abs=1e-5)
    assert table[3]["error"]
    assert torch.isfinite(torch.tensor(float(table[2]["ec2t"])))


def test_score_manifest_json_streams_every_row_and_the_running_means(pair_files, tiny_model_dir, tmp_path) -> None:
    rows = [{"before": "b.png", "after": "a.png", "instruction": "add snow"}] * 3
    rows += [{"before": "nope.png", "after": "a.png"}, {"before": "rb.png", "after": "ra.png"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, err = run("score", "--manifest", manifest, "--model", tiny_model_dir, "--json")
    assert code == 3, err  # one row failed, and it is reported
    doc = json.loads(out)  # the rows were written as they were scored, inside one document
    assert [r["before"].rsplit("/", 1)[-1] for r in doc["rows"]] == ["b.png"] * 3 + ["", "rb.png"]  # in order
    assert (doc["scored"], doc["failed"]) == (4, 1) and "nope.png" in doc["rows"][3]["error"]
    ec2t = [r["ec2t"] for r in doc["rows"] if r["ec2t"] is not None]
    assert len(ec2t) == 3 and doc["mean_ec2t"] == pytest.approx(sum(ec2t) / 3) and doc["mean_ec2ec"] is None


def test_score_csv_cells_cannot_run_as_spreadsheet_formulas(pair_files, tiny_model_dir, tmp_path) -> None:
    rows = [
        {"before": "b.png", "after": "a.png", "instruction": '=HYPERLINK("http://x","y")'},
        {"before": "b.png", "after": "a.png", "instruction": "@SUM(A1)"},
        {"before": "b.png", "after": "a.png", "instruction": "make it -5% darker"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out_csv = tmp_path / "scores.csv"
    code, _, err = run("score", "--manifest", manifest, "--out", out_csv, "--model", tiny_model_dir)
    assert code == 0, err
    table = list(csv.DictReader(out_csv.open()))
    assert [r["instruction"] for r in table] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "make it -5% darker"]
    assert all(-1 <= float(r["ec2t"]) <= 1 for r in table)  # numbers, negative ones included, stay numbers


def test_score_with_a_two_frame_model_is_blind_to_direction(pair_files, tmp_path) -> None:
    """The frames model scores a pair and its reverse alike, on the torch path and then on its exported towers."""
    from conftest import tiny_config

    from editsearch.encoder.registry import random_model

    model_dir = random_model(tiny_config().with_fusion("frames"), seed=0).save_pretrained(tmp_path / "frames")
    p = pair_files
    scores = []
    for before, after in [("b", "a"), ("a", "b"), ("b", "a")]:  # the first exports the towers, the others use them
        code, out, _ = run(
            "score", "--before", p[before], "--after", p[after], "--text", "add snow", "--model", model_dir, "--json"
        )
        assert code == 0, out
        scores.append(json.loads(out)["ec2t"])
    assert scores == pytest.approx([scores[0]] * 3, abs=1e-5)
    model = load_model(model_dir, device="cpu")
    emb = model.embed_pairs([p["b"]], [p["a"]])
    assert scores[0] == pytest.approx(float((emb * model.embed_texts(["add snow"])).sum()), abs=1e-5)
