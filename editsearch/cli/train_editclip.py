"""`editsearch train editclip`: train (or fine-tune) EditCLIP; multi-GPU through `accelerate launch`."""

from __future__ import annotations

import click

from editsearch.cli.train_options import data_option, sources_of
from editsearch.training.configs import PHRASINGS
from editsearch.training.configs import EditCLIPTrainConfig as C


@click.command("editclip")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, model/).")
@data_option
@click.option(
    "--init",
    default=C.init,
    show_default=True,
    help="'mini' (fresh EditCLIP-mini), a model name/folder, or open_clip:ARCH:TAG (e.g. ViT-L-14:openai).",
)
@click.option("--steps", default=C.steps, show_default=True)
@click.option("--batch-size", default=C.batch_size, show_default=True)
@click.option("--grad-accum", default=C.grad_accum, show_default=True)
@click.option("--lr", default=C.lr, show_default=True, help="Base lr (the EditCLIP paper: 2e-6 on pretrained CLIP).")
@click.option("--conv1-lr", type=float, default=C.conv1_lr, help="conv1 lr [default: --lr when fresh, else 2e-4].")
@click.option("--warmup", default=C.warmup, show_default=True)
@click.option("--pool", default=C.pool, show_default=True, help="Synthetic pairs generated into memory.")
@click.option("--pool-size", default=C.pool_size, show_default=True, help="Pixel size of pooled pairs.")
@click.option(
    "--phrasings",
    type=click.Choice(PHRASINGS),
    default=C.phrasings,
    show_default=True,
    help="Synthetic texts: re-worded in training styles with typos, or the templates as written.",
)
@click.option(
    "--pair-loss",
    default=C.pair_loss,
    show_default=True,
    help="Weight of the edit<->edit term (0: the EditCLIP paper's loss).",
)
@click.option("--eval-every", default=C.eval_every, show_default=True)
@click.option("--checkpoint-every", "--save-every", "checkpoint_every", default=C.checkpoint_every, show_default=True)
@click.option("--keep-checkpoints", default=C.keep_checkpoints, show_default=True, help="Newest kept (0: all).")
@click.option("--seed", default=C.seed, show_default=True)
@click.option("--workers", default=C.workers, show_default=True)
@click.option("--name", default=C.name, show_default=True, help="Name stored in the model's config.")
def editclip(data: tuple[str, ...], synthetic: bool, **kwargs: object) -> None:
    """Train EditCLIP: symmetric CLIP loss, frozen text tower, per-group lrs, resumable from OUT.

    Rerunning with the same --out resumes from its last checkpoint. The trained model lands in
    OUT/model, loadable everywhere with --model OUT/model.
    """
    from editsearch.training.train_editclip import train

    metrics = train(C(sources=sources_of(data, synthetic), **kwargs))  # type: ignore[arg-type]
    for key, value in metrics.items():
        click.echo(f"{key:24s} {value}")
