"""`editsearch train editclip`: train (or fine-tune) EditCLIP; multi-GPU through `accelerate launch`."""

from __future__ import annotations

import click

from editsearch.cli.train_options import config_options, sources_of
from editsearch.training.recipes import EditCLIPTrainConfig as C


@click.command("editclip")
@config_options(C)
def editclip(data: tuple[str, ...], synthetic: bool, **kwargs: object) -> None:
    """Train EditCLIP: symmetric CLIP loss, frozen text tower, per-group lrs, resumable from OUT.

    Rerunning with the same --out resumes from its last checkpoint. The trained model lands in
    OUT/model, loadable everywhere with --model OUT/model.
    """
    from editsearch.training.train_editclip import train

    metrics = train(C(sources=sources_of(data, synthetic), **kwargs))  # type: ignore[arg-type]
    for key, value in metrics.items():
        click.echo(f"{key:24s} {value}")
