"""`editsearch eval`: retrieval metrics of a model on held-out synthetic edits (and real pairs)."""

from __future__ import annotations

from pathlib import Path

import click

from editsearch.cli.common import echo_json, json_option, load_model_noted, model_option


def format_table(results: dict[str, dict]) -> str:
    """One aligned line per (set, model, task): top1, hit@5, hit@10, mAP, and the chance level."""
    lines = [f"{'set':10s} {'model':34s} {'task':11s} {'top1':>6s} {'hit@5':>6s} {'hit@10':>6s} {'mAP':>6s}"]
    for set_name, by_model in results.items():
        for model_name, tasks in by_model.items():
            for task, m in tasks.items():
                lines.append(
                    f"{set_name:10s} {model_name:34s} {task:11s} {m['top1']:6.3f} {m['hit@5']:6.3f} "
                    f"{m['hit@10']:6.3f} {m['mAP']:6.3f}"
                )
                if "chance" in m:
                    c = m["chance"]
                    lines.append(
                        f"{'':10s} {'(chance)':34s} {task:11s} {c['top1']:6.3f} {c['hit@5']:6.3f} "
                        f"{c['hit@10']:6.3f} {c['mAP']:6.3f}"
                    )
    return "\n".join(lines)


@click.command("eval")
@model_option
@click.option("--per-family", default=3, show_default=True, help="Held-out synthetic pairs per edit family.")
@click.option(
    "--real",
    "real_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also evaluate on a real-edits folder (manifest.jsonl with an `edit` label per pair).",
)
@click.option(
    "--baselines/--no-baselines",
    default=True,
    show_default=True,
    help="Also run the Δ-statistics, untrained-network and after-only baselines.",
)
@json_option
def eval_cmd(model_name: str | None, per_family: int, real_dir: str | None, baselines: bool, as_json: bool) -> None:
    """Text->edit, edit->text and edit->edit retrieval on unseen photos and held-out phrasings."""
    from editsearch.training.evaluate_all import run_evaluation

    model = load_model_noted(model_name)
    results = run_evaluation(
        model, per_family=per_family, real_dir=Path(real_dir) if real_dir else None, baselines=baselines
    )
    if as_json:
        echo_json(results)
    else:
        click.echo(format_table(results))
