"""`editsearch eval`: retrieval metrics of a model on held-out synthetic edits (and real pairs)."""

from __future__ import annotations

from pathlib import Path

import click

from editsearch.cli.common import echo_json, format_table, json_option, load_model_noted, model_option

METRICS = ("top1", "hit@5", "hit@10", "mAP")
# Held-out pairs per family `eval` draws at most: 100 x 47 families = 4,700 pairs took 2.5 GB at peak. Every
# pair's images stay in memory and edit->edit scores all pairs against all, so memory grows with the square
# (1,000 per family grew past 19 GB).
MAX_PER_FAMILY = 100


REVERSED = ("pairs", "accuracy", "ties", "margin")


def metrics_table(results: dict[str, dict]) -> str:
    """One row per (set, model, retrieval task) with its metrics and chance level, then the reversed-pair task."""
    rows, reversed_rows = [], []
    for set_name, by_model in results.items():
        for model_name, tasks in by_model.items():
            for task, m in tasks.items():
                if task == "reversed":
                    reversed_rows.append([set_name, model_name, *(m[k] for k in REVERSED)])
                    continue
                rows.append([set_name, model_name, task, *(m[k] for k in METRICS)])
                if "chance" in m:
                    rows.append(["", "(chance)", task, *(m["chance"][k] for k in METRICS)])
    table = format_table(["set", "model", "task", *METRICS], rows, digits=3)
    if not reversed_rows:
        return table
    heading = "\nreversed pairs: forward EC2T above backward (ties count 1/2; chance 0.5)"
    return "\n".join([table, heading, format_table(["set", "model", *REVERSED], reversed_rows, digits=3)])


def per_family_bound(value: int) -> int:
    """--per-family if within 1..MAX_PER_FAMILY, else a usage error that says why."""
    if value < 1:
        raise click.BadParameter(f"{value} pairs per family would evaluate nothing: give at least 1")
    if value > MAX_PER_FAMILY:
        raise click.BadParameter(
            f"{value:,} is more than {MAX_PER_FAMILY}: every held-out pair stays in memory and edit->edit scores "
            f"all pairs against all, so memory grows with the square of the pairs ({MAX_PER_FAMILY} per family "
            "takes about 2.5 GB)"
        )
    return value


@click.command("eval")
@model_option
@click.option(
    "--per-family",
    type=int,
    default=3,
    show_default=True,
    callback=lambda ctx, param, value: per_family_bound(value),
    help=f"Held-out synthetic pairs per edit family (1 to {MAX_PER_FAMILY}: all are held in memory).",
)
@click.option(
    "--real",
    "real_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also evaluate on a real-edits folder (manifest.jsonl with an `edit` label per pair).",
)
@click.option(
    "--real-queries",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="JSON {edit label: [queries]}: query the real pairs with these texts instead of their instructions.",
)
@click.option(
    "--baselines/--no-baselines",
    default=True,
    show_default=True,
    help="Also run the Δ-statistics, untrained-network and after-only baselines.",
)
@click.option(
    "--compare",
    "compare_names",
    multiple=True,
    metavar="NAME|PATH",
    help="Another model asked the same, side by side (repeatable), e.g. --compare twoframe-mini.",
)
@json_option
def eval_cmd(
    model_name: str | None,
    per_family: int,
    real_dir: str | None,
    real_queries: str | None,
    baselines: bool,
    compare_names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Text->edit, edit->text and edit->edit retrieval on unseen photos, held-out and phrasing-shift queries.

    Text->edit is ranked by the pair alone, by the stored instruction alone and by the hybrid fusion that
    `query` uses; each task is followed by its chance level. Each set of pairs is also read backwards:
    how often a model fits a directional pair's instruction better forwards than reversed.
    """
    from editsearch.evaluation.compare import run_evaluation
    from editsearch.evaluation.retrieval import read_label_queries

    model = load_model_noted(model_name)
    others = [load_model_noted(name) for name in compare_names]
    queries = read_label_queries(real_queries) if real_queries else None
    results = run_evaluation(
        model,
        per_family=per_family,
        real_dir=Path(real_dir) if real_dir else None,
        baselines=baselines,
        real_queries=queries,
        others=others,
    )
    if as_json:
        echo_json(results)
    else:
        click.echo(metrics_table(results))
