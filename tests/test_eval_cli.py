"""`editsearch eval`: held-out, phrasing-shift and real sets; pair, instruction and hybrid text->edit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import random_image

from editsearch.cli.main import cli
from editsearch.data.synthetic.generator import FAMILIES
from editsearch.evaluation.phrasing_shift import shift_phrasings

LABELS = {"red": "make it red", "blue": "make it blue", "flip": "mirror it"}


def _real_folder(tmp_path):
    """Six pairs, two per label, on six different photos, each with its instruction."""
    root = tmp_path / "real"
    (root / "images").mkdir(parents=True)
    lines = []
    for i, (label, instruction) in enumerate(list(LABELS.items()) * 2):
        for side in (0, 1):
            random_image(10 * i + side, (40, 40)).save(root / "images" / f"{i}-{side}.png")
        lines.append(
            {"edit": label, "instruction": instruction, "before": f"images/{i}-0.png", "after": f"images/{i}-1.png"}
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


def _eval(*args):
    return CliRunner().invoke(cli, ["eval", *map(str, args)])


def _results(output: str) -> dict:
    """{set: {task: metrics}} of a one-model `eval --json` run."""
    sets = json.loads(output[output.index("{") :])
    assert all(len(by_model) == 1 for by_model in sets.values())
    return {name: next(iter(by_model.values())) for name, by_model in sets.items()}


def test_eval_reports_every_set_and_ranking_with_chance(tiny_model_dir, tmp_path) -> None:
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps({"_about": "a note", "red": ["crimson please", "i want it red"], "blue": ["azure"]}))
    res = _eval("--model", tiny_model_dir, "--per-family", 1, "--no-baselines", "--json")
    res_real = _eval(
        "--model", tiny_model_dir, "--per-family", 1, "--no-baselines", "--json", "--real", _real_folder(tmp_path)
    )
    res_queries = _eval(
        *("--model", tiny_model_dir, "--per-family", 1, "--no-baselines", "--json"),
        *("--real", tmp_path / "real", "--real-queries", queries),
    )
    assert res.exit_code == res_real.exit_code == res_queries.exit_code == 0, res.output + res_queries.output
    out = _results(res.output)
    assert list(out) == ["synthetic", "phrasing-shift"]
    for tasks in (out["synthetic"], out["phrasing-shift"]):
        for task in ("text->edit", "text->edit (instruction)", "text->edit (hybrid)", "edit->text"):
            assert 0.0 <= tasks[task]["hit@5"] <= 1.0, task
        assert tasks["text->edit"]["chance"]["hit@5"] > 0
        assert "edit->edit" not in tasks  # one pair per family: no other pair of its edit to find
    assert out["synthetic"]["text->edit"]["queries"] == sum(len(f.heldout_phrasings) for f in FAMILIES.values())
    assert out["phrasing-shift"]["text->edit"]["queries"] == sum(map(len, shift_phrasings().values()))
    # held-out queries are the phrasings the stored instructions are drawn from: half find theirs by the instruction
    assert out["synthetic"]["text->edit (instruction)"]["top1"] >= 0.45
    real = _results(res_real.output)["real"]
    assert real["text->edit"]["queries"] == 3 and real["text->edit (instruction)"]["top1"] == 1.0
    assert real["edit->edit"]["queries"] == 6
    requeried = _results(res_queries.output)["real"]
    assert requeried["text->edit"]["queries"] == 3  # two for red, one for blue; flip is not queried
    assert requeried["edit->edit"] == real["edit->edit"]


def test_eval_table_names_the_sets(tiny_model_dir) -> None:
    res = _eval("--model", tiny_model_dir, "--per-family", 1, "--no-baselines")
    assert res.exit_code == 0, res.output
    assert "phrasing-shift" in res.output and "text->edit (hybrid)" in res.output and "(chance)" in res.output


def test_bad_real_queries_file_is_one_error_line(tiny_model_dir, tmp_path) -> None:
    real = _real_folder(tmp_path)
    for content in ("not json", json.dumps(["a list"]), json.dumps({"red": "not a list"}), json.dumps({"red": []})):
        (tmp_path / "q.json").write_text(content)
        res = _eval("--model", tiny_model_dir, "--no-baselines", "--real", real, "--real-queries", tmp_path / "q.json")
        assert res.exit_code == 1, content
        assert res.output.strip().splitlines()[-1].startswith("Error: ") and "q.json" in res.output
        assert "Traceback" not in res.output


def test_eval_compares_models_and_reads_pairs_backwards(tiny_model_dir, tmp_path) -> None:
    from conftest import tiny_config

    from editsearch.encoder.registry import random_model

    frames = random_model(tiny_config().with_fusion("frames"), seed=0).save_pretrained(tmp_path / "frames")
    args = ("--model", tiny_model_dir, "--compare", frames, "--per-family", 1, "--no-baselines")
    res = _eval(*args, "--json", "--real", _real_folder(tmp_path))
    assert res.exit_code == 0, res.output
    sets = json.loads(res.output[res.output.index("{") :])
    assert all(list(by_model) == [str(tiny_model_dir), str(frames)] for by_model in sets.values())
    for name in ("synthetic", "real"):
        channels, two_frame = (sets[name][str(m)]["reversed"] for m in (tiny_model_dir, frames))
        assert two_frame["accuracy"] == 0.5 and two_frame["ties"] == 1.0, name  # average pooling: no direction
        assert channels["ties"] == 0.0 and channels["pairs"] == two_frame["pairs"] > 0
        assert (
            sets[name][str(frames)]["text->edit"]["queries"] == sets[name][str(tiny_model_dir)]["text->edit"]["queries"]
        )
    assert sets["real"][str(frames)]["reversed"]["pairs"] == 6
    assert "reversed" not in sets["phrasing-shift"][str(frames)]  # the same pairs and instructions as synthetic
    table = _eval(*args)
    assert table.exit_code == 0 and "reversed pairs" in table.output and str(frames) in table.output


def _refuse_to_load(monkeypatch) -> None:
    """Make any model load fail the test: a refused --per-family must stop before one."""
    import editsearch.cli.evaluate

    def never(*args, **kwargs):
        raise AssertionError("no model loads for a refused --per-family")

    monkeypatch.setattr(editsearch.cli.evaluate, "load_model_noted", never)


def test_per_family_below_one_is_a_usage_error(monkeypatch) -> None:
    _refuse_to_load(monkeypatch)
    for value in (0, -1):
        res = _eval("--per-family", value, "--no-baselines")
        assert res.exit_code == 2, res.output
        assert "--per-family" in res.output and "at least 1" in res.output and "Traceback" not in res.output


def test_per_family_is_capped_with_the_reason(monkeypatch) -> None:
    from editsearch.cli.evaluate import MAX_PER_FAMILY

    _refuse_to_load(monkeypatch)
    for value in (MAX_PER_FAMILY + 1, 10**9):
        res = _eval("--per-family", value, "--no-baselines")
        assert res.exit_code == 2, res.output
        assert f"more than {MAX_PER_FAMILY}" in res.output and "memory" in res.output and "Traceback" not in res.output
    assert f"1 to {MAX_PER_FAMILY}" in " ".join(_eval("--help").output.split())  # the bound is documented


def test_a_library_held_out_set_needs_a_pair_per_family() -> None:
    from editsearch.core.errors import UsageError
    from editsearch.evaluation.retrieval import synthetic_eval_set

    with pytest.raises(UsageError, match="at least 1 pair per family"):
        synthetic_eval_set(per_family=0)
