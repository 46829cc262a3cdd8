"""`editsearch train`: a group of training commands (ip2p, vae here; others plug in through SUBCOMMANDS)."""

from __future__ import annotations

import importlib
from typing import Any

import click

from editsearch.cli.common import echo_json, warn
from editsearch.cli.train_options import config_options, data_option, sources_of
from editsearch.training.recipes import IP2PTrainConfig, VAETrainConfig

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
@config_options(IP2PTrainConfig)
def ip2p(data: tuple[str, ...], synthetic: bool, size: int | None, **settings: Any) -> None:
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
    from editsearch.transfer.architectures import UNET_CONFIGS

    size = size or (64 if settings["init"] in UNET_CONFIGS else 256)
    config = IP2PTrainConfig(sources=sources_of(data, synthetic), size=size, **settings)
    echo_json(train_ip2p(config, log=warn))


@train.command("vae")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output VAE folder.")
@click.option("--init", default="tiny", show_default=True, type=click.Choice(["tiny", "test"]))
@data_option
@click.option("--size", type=int, default=64, show_default=True)
@config_options(VAETrainConfig)
def vae(out: str, init: str, data: tuple[str, ...], synthetic: bool, size: int, **settings: Any) -> None:
    """Train the small VAE of a tiny IP2P; prints held-out reconstruction PSNR. Use it with `train ip2p --vae`."""
    from editsearch.training.pairs import PairSampler
    from editsearch.training.train_vae import train_vae
    from editsearch.transfer.architectures import build_vae

    config = VAETrainConfig(**settings)
    sampler = PairSampler(sources_of(data, synthetic), size, config.seed)
    summary = train_vae(build_vae(init, seed=config.seed), sampler, config, out=out)
    echo_json({k: v for k, v in summary.items() if k != "history"} | {"out": out})
