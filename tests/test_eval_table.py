"""`editsearch eval`'s text output: one row per (set, model, task), with the chance level below."""

from __future__ import annotations

from editsearch.cli.evaluate import metrics_table


def test_metrics_table_rows_and_chance():
    m = {"top1": 0.5, "hit@5": 0.75, "hit@10": 1.0, "mAP": 0.625}
    chance = {"top1": 0.1, "hit@5": 0.2, "hit@10": 0.3, "mAP": 0.15}
    lines = metrics_table({"synthetic": {"mini": {"text->edit": dict(m, chance=chance), "edit->edit": m}}}).splitlines()
    assert lines[0].split() == ["set", "model", "task", "top1", "hit@5", "hit@10", "mAP"]
    assert lines[2].split() == ["synthetic", "mini", "text->edit", "0.500", "0.750", "1.000", "0.625"]
    assert lines[3].split() == ["(chance)", "text->edit", "0.100", "0.200", "0.300", "0.150"]
    assert lines[4].split()[2] == "edit->edit" and len(lines) == 5
