"""`editsearch train`: a group of training commands (ip2p, vae here; others plug in through SUBCOMMANDS)."""

from __future__ import annotations

import importlib

import click

from editsearch.cli.common import echo_json, warn
from editsearch.cli.train_options import data_option, sources_of
from editsearch.training.configs import IP2PTrainConfig, VAETrainConfig

# Subcommands living in other modules, imported on first use: name -> "module:attribute".
SUBCOMMANDS: dict[str, str] = {"editclip": "editsearch.cli.train_editclip:editclip"}


class TrainGroup(click.Group):
    """A click group that also lists and lazily imports the commands named in SUBCOMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, attr = SUBCOMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=TrainGroup)
def train() -> None:
    """Train EditCLIP or the EditCLIP-conditioned IP2P."""


@train.command("ip2p")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (pipeline + checkpoints).")
@click.option(
    "--export",
    default=IP2PTrainConfig.export,
    type=click.Path(file_okay=False),
    help="Also write the final pipeline alone (no checkpoints, logs) to this folder.",
)
@click.option(
    "--init",
    default=IP2PTrainConfig.init,
    show_default=True,
    metavar="tiny|test|PATH|HUB_ID",
    help="A fresh small model ('tiny' ships, 'test' is for tests), or an IP2P diffusers folder / hub id.",
)
@click.option(
    "--editclip",
    default=IP2PTrainConfig.editclip,
    metavar="NAME|PATH",
    help="Conditioning EditCLIP (default: the shipped one).",
)
@data_option
@click.option("--size", type=int, default=None, help="Training resolution [default: 64 for tiny/test, else 256].")
@click.option("--steps", type=int, default=IP2PTrainConfig.steps, show_default=True)
@click.option("--batch-size", type=int, default=IP2PTrainConfig.batch_size, show_default=True)
@click.option(
    "--lr", type=float, default=IP2PTrainConfig.lr, show_default=True, help="Learning rate (peak, for cosine)."
)
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default=IP2PTrainConfig.lr_schedule,
    show_default=True,
    help="constant (the official recipe) or cosine decay to 0 (better for short runs from scratch).",
)
@click.option(
    "--lr-warmup",
    type=click.IntRange(min=0),
    default=IP2PTrainConfig.lr_warmup,
    show_default=True,
    help="Linear warm-up steps.",
)
@click.option(
    "--zero-snr",
    is_flag=True,
    default=IP2PTrainConfig.zero_snr,
    help="Zero terminal SNR noise schedule with v-prediction (for models trained from scratch: their "
    "colours drift when sampled from pure noise otherwise). Saved in the pipeline's scheduler.",
)
@click.option(
    "--lpips-weight",
    type=float,
    default=IP2PTrainConfig.lpips_weight,
    show_default=True,
    help="Weight of LPIPS(x0 decode, input image); 0 turns it off (no VGG weights needed).",
)
@click.option(
    "--lpips-net", type=click.Choice(["vgg", "alex", "squeeze"]), default=IP2PTrainConfig.lpips_net, show_default=True
)
@click.option("--lpips-random", is_flag=True, hidden=True, help="Random LPIPS backbone (tests only).")
@click.option(
    "--dropout",
    type=float,
    default=IP2PTrainConfig.dropout,
    show_default=True,
    help="Conditioning dropout (edit and image).",
)
@click.option("--grad-clip", type=float, default=IP2PTrainConfig.grad_clip, show_default=True)
@click.option("--checkpoint-every", type=int, default=IP2PTrainConfig.checkpoint_every, show_default=True)
@click.option(
    "--keep-checkpoints",
    type=int,
    default=IP2PTrainConfig.keep_checkpoints,
    show_default=True,
    help="Newest checkpoints kept (0: all).",
)
@click.option(
    "--resume/--no-resume",
    default=IP2PTrainConfig.resume,
    show_default=True,
    help="Continue from OUT's last checkpoint.",
)
@click.option("--seed", type=int, default=IP2PTrainConfig.seed, show_default=True)
@click.option(
    "--mixed-precision",
    type=click.Choice(["no", "fp16", "bf16"]),
    default=IP2PTrainConfig.mixed_precision,
    show_default=True,
)
@click.option(
    "--workers", type=int, default=IP2PTrainConfig.workers, show_default=True, help="Data-loading worker processes."
)
@click.option(
    "--cache",
    type=click.IntRange(min=0),
    default=IP2PTrainConfig.cache,
    show_default=True,
    help="Compute the frozen VAE/EditCLIP features of this many pairs once and reuse them every epoch "
    "(about 3x faster steps for small models; memory ~ pairs x tokens x width x 2 bytes). 0: fresh "
    "pairs every step.",
)
@click.option(
    "--vae",
    default=IP2PTrainConfig.vae,
    type=click.Path(exists=True, file_okay=False),
    help="Trained VAE folder for --init tiny/test (default: train one first, --vae-steps).",
)
@click.option("--vae-steps", type=int, default=IP2PTrainConfig.vae_steps, show_default=True)
def ip2p(
    out: str,
    export: str | None,
    init: str,
    editclip: str | None,
    data: tuple[str, ...],
    synthetic: bool,
    size: int | None,
    steps: int,
    batch_size: int,
    lr: float,
    lr_schedule: str,
    lr_warmup: int,
    zero_snr: bool,
    lpips_weight: float,
    lpips_net: str,
    lpips_random: bool,
    dropout: float,
    grad_clip: float,
    checkpoint_every: int,
    keep_checkpoints: int,
    resume: bool,
    seed: int,
    mixed_precision: str,
    workers: int,
    cache: int,
    vae: str | None,
    vae_steps: int,
) -> None:
    """Fine-tune an EditCLIP-conditioned InstructPix2Pix (UNet + projector; EditCLIP and VAE frozen).

    \b
    The shipped default was trained by (MODEL_CARD.md in editsearch/weights/editclip-ip2p-mini):
      editsearch train vae --out RUN/vae --init tiny --data synthetic --steps 5000
      editsearch train ip2p --init tiny --editclip editclip-mini --data synthetic --vae RUN/vae \\
        --lpips-weight 0 --lr 4e-4 --lr-schedule cosine --lr-warmup 300 --zero-snr \\
        --batch-size 32 --steps 10000 --cache 24000 --out RUN/ip2p
    The result in OUT loads with `editsearch apply --model OUT`.
    """
    from editsearch.training.train_ip2p import train_ip2p
    from editsearch.transfer.configs import UNET_CONFIGS

    config = IP2PTrainConfig(
        out=out,
        export=export,
        init=init,
        editclip=editclip,
        sources=sources_of(data, synthetic),
        size=size or (64 if init in UNET_CONFIGS else 256),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        lr_warmup=lr_warmup,
        zero_snr=zero_snr,
        lpips_weight=lpips_weight,
        lpips_net=lpips_net,
        lpips_pretrained=not lpips_random,
        dropout=dropout,
        grad_clip=grad_clip,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        resume=resume,
        seed=seed,
        mixed_precision=mixed_precision,
        workers=workers,
        cache=cache,
        vae=vae,
        vae_steps=vae_steps,
    )
    echo_json(train_ip2p(config, log=warn))


@train.command("vae")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output VAE folder.")
@click.option("--init", default="tiny", show_default=True, type=click.Choice(["tiny", "test"]))
@data_option
@click.option("--size", type=int, default=64, show_default=True)
@click.option("--steps", type=int, default=VAETrainConfig.steps, show_default=True)
@click.option(
    "--batch-size",
    type=int,
    default=VAETrainConfig.batch_size,
    show_default=True,
    help="Pairs per step (both halves are used).",
)
@click.option("--lr", type=float, default=VAETrainConfig.lr, show_default=True)
@click.option("--seed", type=int, default=VAETrainConfig.seed, show_default=True)
def vae(
    out: str,
    init: str,
    data: tuple[str, ...],
    synthetic: bool,
    size: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> None:
    """Train the small VAE of a tiny IP2P; prints held-out reconstruction PSNR. Use it with `train ip2p --vae`."""
    from editsearch.training.edit_batches import PairSampler
    from editsearch.training.train_vae import train_vae
    from editsearch.transfer.configs import build_vae

    sources = sources_of(data, synthetic)
    sampler = PairSampler(sources, size, seed)
    config = VAETrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    summary = train_vae(build_vae(init, seed=seed), sampler, config, out=out)
    echo_json({k: v for k, v in summary.items() if k != "history"} | {"out": out})
