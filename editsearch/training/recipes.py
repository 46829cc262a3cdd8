"""The recipe of each trainer: its settings as torch-free dataclasses, each setting written once.

A field made by `setting` is also a command-line option of `editsearch train`: its help and click details
(type, choices, ...) live in the field's metadata, and `cli/train_options.py` turns them into options.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field
from typing import Any

from editsearch.core.errors import UsageError

OPTION = "option"  # the field metadata key that makes a setting a command-line option

SYNTHETIC = "synthetic"  # the --data value for synthetic edits generated on the fly (also the default)


def data_sources(data: Iterable[str]) -> tuple[str, ...]:
    """The sources named by --data values; () means synthetic edits. 'synthetic' mixed with sources is an error."""
    values = tuple(data)
    sources = tuple(v for v in values if v != SYNTHETIC)
    if sources and len(sources) != len(values):
        raise UsageError(f"--data {SYNTHETIC} cannot be mixed with edit-pair sources")
    return sources


PHRASINGS = ("varied", "templates")  # "varied": styles, synonyms, typos; "templates": as written
VARIETIES = ("canonical", "wide")  # synthetic pairs: data.synthetic.generator's, or data.synthetic.variety's
PAIR_FUSIONS = ("channels", "frames")  # encoder.config.PAIR_FUSIONS, written here too: this module is torch-free


def setting(default: Any = MISSING, help: str = "", **option: Any) -> Any:
    """A config field that is also an option: its default, help and click details (see cli/train_options.py)."""
    return field(default=default, metadata={OPTION: {"help": help, **option}})


SOURCES_HELP = "Edit-pair sources (manifest, folder, parquet or arrow table, webdataset tar); empty: synthetic edits."
COLUMNS_HELP = "The columns of a --data table no preset layout fits: before=C,after=C[,instruction=C][,id=C]."


@dataclass
class EditCLIPTrainConfig:
    """Every knob of an EditCLIP training run; saved beside its checkpoints and in the model card."""

    out: str = setting(help="Run folder (checkpoints, model/).", path="dir", required=True)
    sources: tuple[str, ...] = setting((), SOURCES_HELP, data=True)
    columns: str | None = setting(None, COLUMNS_HELP, metavar="ROLE=COLUMN,...")
    init: str = setting(
        "mini", "'mini' (fresh EditCLIP-mini), a model name/folder, or open_clip:ARCH:TAG (e.g. ViT-L-14:openai)."
    )
    pair_fusion: str | None = setting(
        None,
        "How the tower reads a pair: channels (before+after in a 6-channel conv1: EditCLIP) or frames (each image "
        "a frame through a 3-channel tower, the two embeddings averaged: the two-frame evaluator) "
        "[default: the init's own; channels for 'mini' and open_clip inits].",
        choices=PAIR_FUSIONS,
    )
    steps: int = setting(3000)
    batch_size: int = setting(128)
    grad_accum: int = setting(1)
    lr: float = setting(5e-4, "Base lr (the EditCLIP paper: 2e-6 on pretrained CLIP).")
    conv1_lr: float | None = setting(None, "conv1 lr [default: --lr when fresh, else 2e-4].", type=float)
    weight_decay: float = 0.02
    warmup: int = setting(200)
    pool: int = setting(20000, "Synthetic pairs generated into memory.")  # each re-cropped every time it is drawn
    pool_size: int = setting(128, "Pixel size of pooled pairs.")  # then cropped to the model's input size
    phrasings: str = setting(
        "varied",
        "Synthetic texts: re-worded in training styles with typos, or the templates as written.",
        choices=PHRASINGS,
    )
    pair_loss: float = setting(0.5, "Weight of the edit<->edit term (0: the EditCLIP paper's loss).")
    variety: str = setting(
        "canonical",
        "Synthetic pairs: the canonical generator, or a wider world (other implementations of each family, weaker "
        "and regional edits, two edits at once).",
        choices=VARIETIES,
    )
    hard_reversed: float = setting(
        0.0,
        "Share of each batch also shown reversed (after, before) as a negative for its text; a self-inverse "
        "family's reversal stays a positive.",
    )
    eval_every: int = setting(500)
    checkpoint_every: int = setting(500, aliases=("--save-every",))
    keep_checkpoints: int = setting(2, "Newest kept (0: all).")
    seed: int = setting(0)
    workers: int = setting(2)
    name: str = setting("editclip-mini", "Name stored in the model's config.")


@dataclass
class IP2PTrainConfig:
    """Everything `train_ip2p` needs; defaults follow the official recipe (lr 5e-5, LPIPS 0.05, dropout 0.05)."""

    out: str = setting(help="Output folder (pipeline + checkpoints).", path="dir", required=True)
    export: str | None = setting(
        None, "Also write the final pipeline alone (no checkpoints, logs) to this folder.", path="dir"
    )
    init: str = setting(
        "tiny",
        "A fresh small model ('tiny' ships, 'test' is for tests), or an IP2P diffusers folder / hub id.",
        metavar="tiny|test|PATH|HUB_ID",
    )
    editclip: str | None = setting(None, "Conditioning EditCLIP (default: the shipped one).", metavar="NAME|PATH")
    sources: tuple[str, ...] = setting((), SOURCES_HELP, data=True)
    columns: str | None = setting(None, COLUMNS_HELP, metavar="ROLE=COLUMN,...")
    size: int = setting(64, "Training resolution [default: 64 for tiny/test, else 256].", option_default=None)
    steps: int = setting(1000)
    batch_size: int = setting(8)
    lr: float = setting(5e-5, "Learning rate (peak, for cosine).")
    lr_schedule: str = setting(
        "constant",
        "constant (the official recipe) or cosine decay to 0 (better for short runs from scratch).",
        choices=("constant", "cosine"),
    )
    lr_warmup: int = setting(0, "Linear warm-up steps.", min=0)
    zero_snr: bool = setting(
        False,
        "Zero terminal SNR noise schedule with v-prediction (for models trained from scratch: their colours drift "
        "when sampled from pure noise otherwise). Saved in the pipeline's scheduler.",
    )  # zero terminal SNR + v-prediction, "trailing" steps (Lin et al. 2023)
    lpips_weight: float = setting(
        0.05, "Weight of LPIPS(x0 decode, input image); 0 turns it off (no VGG weights needed)."
    )
    lpips_net: str = setting("vgg", choices=("vgg", "alex", "squeeze"))
    lpips_pretrained: bool = setting(True, "Random LPIPS backbone (tests only).", flag="--lpips-random", hidden=True)
    dropout: float = setting(0.05, "Conditioning dropout (edit and image).")
    grad_clip: float = setting(1.0)
    checkpoint_every: int = setting(500)
    keep_checkpoints: int = setting(2, "Newest checkpoints kept (0: all).")
    resume: bool = setting(True, "Continue from OUT's last checkpoint.")
    seed: int = setting(0)
    mixed_precision: str = setting("no", choices=("no", "fp16", "bf16"))
    workers: int = setting(0, "Data-loading worker processes.")
    cache: int = setting(
        0,
        "Compute the frozen VAE/EditCLIP features of this many pairs once and reuse them every epoch (about 3x "
        "faster steps for small models; memory ~ pairs x tokens x width x 2 bytes). 0: fresh pairs every step.",
        min=0,
    )
    vae: str | None = setting(
        None, "Trained VAE folder for --init tiny/test (default: train one first, --vae-steps).", path="existing-dir"
    )
    vae_steps: int = setting(2000)
    log_every: int = 10


@dataclass
class VAETrainConfig:
    """Settings of `train_vae`; images are both halves of the sampled edit pairs."""

    steps: int = setting(2000)
    batch_size: int = setting(8, "Pairs per step (both halves are used).")
    lr: float = setting(1e-3)  # decayed along a cosine to lr * min_lr_ratio over the run
    min_lr_ratio: float = 0.02
    kl_weight: float = 1e-6
    seed: int = setting(0)
    eval_pairs: int = 16
    log_every: int = 50
