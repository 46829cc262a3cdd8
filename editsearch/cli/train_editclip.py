"""`editsearch train editclip`: train (or fine-tune) EditCLIP; multi-GPU through `accelerate launch`."""

from __future__ import annotations

import click


@click.command("editclip")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, model/).")
@click.option(
    "--data",
    default="synthetic",
    show_default=True,
    help="'synthetic' (generated here) or a source: manifest, folder of pairs, IP2P parquet.",
)
@click.option(
    "--init",
    default="mini",
    show_default=True,
    help="'mini' (fresh EditCLIP-mini), a model name/folder, or open_clip:ARCH:TAG (e.g. ViT-L-14:openai).",
)
@click.option("--steps", default=3000, show_default=True)
@click.option("--batch-size", default=128, show_default=True)
@click.option("--grad-accum", default=1, show_default=True)
@click.option("--lr", default=5e-4, show_default=True, help="Base lr (the paper: 2e-6 on pretrained CLIP).")
@click.option("--conv1-lr", type=float, default=None, help="conv1 lr [default: --lr when fresh, else 2e-4].")
@click.option("--warmup", default=200, show_default=True)
@click.option("--pool", default=20000, show_default=True, help="Synthetic pairs generated into memory.")
@click.option("--pool-size", default=128, show_default=True, help="Pixel size of pooled pairs.")
@click.option("--pair-loss", default=0.5, show_default=True, help="Weight of the edit<->edit term (0: paper's loss).")
@click.option("--eval-every", default=500, show_default=True)
@click.option("--save-every", default=500, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--name", default="editclip-mini", show_default=True, help="Name stored in the model's config.")
def editclip(**kwargs: object) -> None:
    """Train EditCLIP: symmetric CLIP loss, frozen text tower, per-group lrs, resumable from OUT.

    Rerunning with the same --out resumes from its last checkpoint. The trained model lands in
    OUT/model, loadable everywhere with --model OUT/model.
    """
    from editsearch.training.train_editclip import TrainConfig, train

    metrics = train(TrainConfig(**kwargs))  # type: ignore[arg-type]
    for key, value in metrics.items():
        click.echo(f"{key:24s} {value}")
