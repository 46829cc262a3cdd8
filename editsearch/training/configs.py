"""The settings of each trainer, as dataclasses free of torch (the CLI reads its option defaults from them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from editsearch.errors import UsageError

SYNTHETIC = "synthetic"  # the --data value for synthetic edits generated on the fly (also the default)


def data_sources(data: Iterable[str]) -> tuple[str, ...]:
    """The sources named by --data values; () means synthetic edits. 'synthetic' mixed with sources is an error."""
    values = tuple(data)
    sources = tuple(v for v in values if v != SYNTHETIC)
    if sources and len(sources) != len(values):
        raise UsageError(f"--data {SYNTHETIC} cannot be mixed with edit-pair sources")
    return sources


PHRASINGS = ("varied", "templates")  # "varied": styles, synonyms, typos; "templates": as written


@dataclass
class EditCLIPTrainConfig:
    """Every knob of an EditCLIP training run; saved beside its checkpoints and in the model card."""

    out: str
    sources: tuple[str, ...] = ()  # edit-pair sources (manifest, folder, IP2P parquet); empty: synthetic pairs
    init: str = "mini"  # "mini" (fresh EditCLIP-mini), a registry name/folder, or open_clip:ARCH:TAG
    steps: int = 3000
    batch_size: int = 128
    grad_accum: int = 1
    lr: float = 5e-4  # everything but conv1; the EditCLIP paper uses 2e-6 on pretrained CLIP
    conv1_lr: float | None = None  # default: lr (fresh model) or 2e-4 (pretrained init, as the EditCLIP paper)
    weight_decay: float = 0.02
    warmup: int = 200
    pool: int = 20000  # synthetic pairs held in memory, each re-cropped every time it is drawn
    pool_size: int = 128  # pixels of pooled pairs (then cropped to the model's input size)
    phrasings: str = "varied"  # synthetic texts, one of PHRASINGS: re-worded in training styles, or as written
    pair_loss: float = 0.5  # weight of the edit<->edit supervised contrastive term (0 = the EditCLIP paper's loss only)
    eval_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # newest complete checkpoints kept (0: all)
    seed: int = 0
    workers: int = 2
    name: str = "editclip-mini"


@dataclass
class IP2PTrainConfig:
    """Everything `train_ip2p` needs; defaults follow the official recipe (lr 5e-5, LPIPS 0.05, dropout 0.05)."""

    out: str
    export: str | None = None  # also write the final pipeline (no checkpoints or logs) here, e.g. for shipping
    init: str = "tiny"  # a size from transfer.configs ('tiny', 'test'), or an IP2P folder / hub id
    editclip: str | None = None  # EditCLIP name or folder; None: the package default
    sources: tuple[str, ...] = ()  # edit-pair sources (iter_source); empty: synthetic edits on the fly
    size: int = 64
    steps: int = 1000
    batch_size: int = 8
    lr: float = 5e-5
    lr_schedule: str = "constant"  # or "cosine" (to 0), after lr_warmup linear warm-up steps (diffusers' schedules)
    lr_warmup: int = 0
    zero_snr: bool = False  # fresh models: zero terminal SNR + v-prediction, "trailing" steps (Lin et al. 2023)
    lpips_weight: float = 0.05
    lpips_net: str = "vgg"
    lpips_pretrained: bool = True  # False: a random backbone (tests only)
    dropout: float = 0.05
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # newest complete checkpoints kept (0: all)
    resume: bool = True
    seed: int = 0
    mixed_precision: str = "no"
    workers: int = 0
    cache: int = 0  # > 0: compute the frozen features of this many pairs once and train on them for every step
    vae: str | None = None  # fresh inits: a trained VAE folder; None: train one first for vae_steps
    vae_steps: int = 2000
    log_every: int = 10


@dataclass
class VAETrainConfig:
    """Settings of `train_vae`; images are both halves of the sampled edit pairs."""

    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3  # decayed along a cosine to lr * min_lr_ratio over the run
    min_lr_ratio: float = 0.02
    kl_weight: float = 1e-6
    seed: int = 0
    eval_pairs: int = 16
    log_every: int = 50
