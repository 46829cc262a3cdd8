"""`editsearch apply`: apply an exemplar edit (an indexed edit, or --before/--after) to new images."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import EDIT_ID, echo_json, json_option, warn
from editsearch.core.errors import UsageError
from editsearch.transfer.methods.base import ApplyRequest, ExemplarChoice
from editsearch.transfer.methods.registry import DEFAULT_METHOD, METHODS, get_method, names, refuse_foreign
from editsearch.transfer.methods.report import ApplyReport

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def method_default(setting: str) -> str:
    """`[default: ...]` of a shared setting: the default method's value, then each other method's that differs."""
    value = METHODS[DEFAULT_METHOD].defaults[setting]
    others: dict[Any, list[str]] = {}
    for m in METHODS.values():
        if m.defaults[setting] not in (None, value):
            others.setdefault(m.defaults[setting], []).append(m.name)
    return "; ".join([f"[default: {value}", *(f"{', '.join(n)}: {v}" for v, n in others.items())]) + "]"


def method_options(command: Any) -> Any:
    """The methods' own options (each method's `options` in the registry names those it takes)."""
    options = [
        click.option(
            "--clip-model",
            default=None,
            metavar="PATH|HUB_ID",
            help="[visii] CLIP for the edit direction, with a text-conditioned --model "
            "[default: openai/clip-vit-large-patch14].",
        ),
        click.option("--init-text", default=None, help="[visii] Initial instruction [default: the edit's]."),
        click.option("--text", default=None, help="[visii] Text appended to the learned instruction (hybrid)."),
        click.option(
            "--neighbours",
            type=click.IntRange(0),
            default=0,
            help="[visii] Also learn from the edit's K nearest indexed edits (EC2EC).",
        ),
        click.option(
            "--visii-steps", type=click.IntRange(1), default=None, help="[visii] Optimisation steps [default: 1000]."
        ),
        click.option("--lr", type=float, default=None, help="[visii] AdamW learning rate [default: 1e-3]."),
        click.option("--lambda-mse", type=float, default=None, help="[visii] Reconstruction weight [default: 4]."),
        click.option("--lambda-clip", type=float, default=None, help="[visii] CLIP-direction weight [default: 0.1]."),
        click.option(
            "--tokens",
            type=click.IntRange(1),
            default=None,
            help="[visii] Learned tokens without an initial text [default: 10].",
        ),
        click.option("--reuse-noise", is_flag=True, help="[visii] Sample with the optimisation's noise stream."),
        click.option("--source-caption", default=None, help="[caption-direction] What the image shows."),
        click.option("--target-caption", default=None, help="[caption-direction] What it should show."),
        click.option(
            "--direction-weight",
            type=float,
            default=None,
            help="[caption-direction] Weight of the caption difference [default: 1.0; the paper found 0.75-1.25 best].",
        ),
        click.option(
            "--sd-model",
            default=None,
            metavar="PATH|HUB_ID",
            help="[caption-direction] Stable Diffusion [default: CompVis/stable-diffusion-v1-4].",
        ),
        click.option(
            "--caption-model",
            default=None,
            metavar="PATH|HUB_ID",
            help="[caption-direction] BLIP that captions each image when --source-caption is not given.",
        ),
        click.option(
            "--instruction",
            default=None,
            help="[caption-direction] The edit in words (e.g. 'make it snowy'): an LLM writes the target caption "
            "from the source caption and it, instead of --target-caption.",
        ),
        click.option(
            "--caption-llm",
            default=None,
            metavar="PATH|HUB_ID",
            help="[caption-direction] Instruction-tuned LLM that writes the target caption from --instruction "
            "[default: Qwen/Qwen2.5-0.5B-Instruct; the paper's best: mistralai/Mistral-7B-Instruct-v0.2].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def output_paths(out: str, images: tuple[str, ...]) -> list[Path]:
    """Where each result goes: OUT itself for one image and an image-file OUT, else OUT/<stem>-edited.png."""
    target = Path(out)
    if target.suffix.lower() in IMAGE_SUFFIXES:
        if len(images) > 1:
            raise click.UsageError(f"--out {out} is a file name, but {len(images)} images were given: pass a folder")
        return [target]
    stems = [Path(img).stem for img in images]
    unique = len(set(stems)) == len(stems)
    return [target / (f"{s}-edited.png" if unique else f"{i:03d}-{s}-edited.png") for i, s in enumerate(stems)]


@click.command()
@click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Index folder [default: $EDITSEARCH_INDEX, then ./.editsearch].",
)
@click.option("--edit-id", type=EDIT_ID, default=None, help="Id of the indexed edit to apply (see `query`).")
@click.option("--before", type=click.Path(dir_okay=False), default=None, help="Exemplar before image (no index).")
@click.option("--after", type=click.Path(dir_okay=False), default=None, help="Exemplar after image (no index).")
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Image to edit; repeatable.",
)
@click.option("--out", required=True, type=click.Path(), help="Output file (one image) or folder.")
@click.option("--steps", type=click.IntRange(1), default=None, help=f"Denoising steps {method_default('steps')}.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Random seed.")
@click.option(
    "--edit-guidance", type=float, default=None, help=f"Guidance towards the edit {method_default('edit_guidance')}."
)
@click.option(
    "--image-guidance",
    type=float,
    default=None,
    help=f"Guidance towards the input {method_default('image_guidance')}.",
)
@click.option(
    "--size", type=click.IntRange(8), default=None, help="Work at about SIZE x SIZE pixels [default: the model's]."
)
@click.option(
    "--model",
    "model",
    default=None,
    metavar="NAME|PATH|HUB_ID",
    help="EditCLIP-IP2P pipeline [default: the shipped editclip-ip2p-mini, a 64-px demonstration]; with "
    "--method visii, that or a stock text-conditioned InstructPix2Pix (e.g. timbrooks/instruct-pix2pix).",
)
@click.option(
    "--editclip",
    default=None,
    metavar="NAME|PATH",
    help="Conditioning EditCLIP [default: the one the pipeline records]; with other methods, the EditCLIP "
    "that scores outputs by EC2EC (no score without it).",
)
@click.option(
    "--method",
    type=click.Choice(names()),
    default=DEFAULT_METHOD,
    show_default=True,
    help="; ".join(f"{m.name}: {m.summary}" for m in METHODS.values()) + ".",
)
@method_options
@json_option
def apply(
    index_dir: str | None,
    edit_id: int | None,
    before: str | None,
    after: str | None,
    images: tuple[str, ...],
    out: str,
    steps: int | None,
    seed: int,
    edit_guidance: float | None,
    image_guidance: float | None,
    size: int | None,
    model: str | None,
    editclip: str | None,
    method: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Apply an exemplar edit to new images with an EditCLIP-conditioned InstructPix2Pix.

    \b
    editsearch apply --index DIR --edit-id N --image Q [--image Q2 ...] --out OUT
    editsearch apply --before A --after B --image Q --out OUT
    Output paths go to stdout (or JSON with --json: outputs, timings and the EC2EC of each
    (query, output) against the exemplar); progress goes to stderr. An image that cannot be read is
    reported and skipped; the exit code is then 3 (the others were applied).

    \b
    editsearch apply --method visii --edit-id N [--neighbours K] [--text T] --image Q --out OUT
    editsearch apply --method caption-direction --image Q --source-caption S --target-caption T --out OUT
    editsearch apply --method caption-direction --image Q --caption-model BLIP --instruction I --out OUT
    See "Other ways to apply an edit" in the README for when to pick which.
    """
    chosen = get_method(method)
    shared = {"steps": steps, "seed": seed, "edit_guidance": edit_guidance, "image_guidance": image_guidance}
    own = {k: v for k, v in options.items() if k in chosen.options}
    exemplar = ExemplarChoice(index_dir, edit_id, before, after)
    request = ApplyRequest(
        images, exemplar, **shared, size=size, model=model, editclip=editclip, options=own, notify=warn,
        progress_bars=True,
    )  # fmt: skip
    try:
        refuse_foreign(chosen, options)
        chosen.check(request)
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    targets = output_paths(out, images)
    started = time.perf_counter()
    report = chosen.apply(request)
    for image, reason in report.failed:
        warn(f"skipped {image}: {reason}")
    for applied in report.outputs:
        targets[applied.position].parent.mkdir(parents=True, exist_ok=True)
        applied.output.save(targets[applied.position])
    report.timings["total_s"] = round(time.perf_counter() - started, 3)
    if report.demonstration:
        from editsearch.transfer.pipeline_names import DEMONSTRATION_NOTE

        warn(DEMONSTRATION_NOTE)
    if as_json:
        echo_json(report.to_json(targets))
    else:
        tell(report, targets, len(images))
    sys.exit(report.exit_code)


def tell(report: ApplyReport, targets: list[Path], given: int) -> None:
    """The written paths on stdout; each EC2EC and caption pair, the timings and the skipped count on stderr."""
    sources, written = report.details.get("source_captions", []), report.details.get("target_captions", [])
    captions = list(zip(sources, written, strict=True))
    for k, applied in enumerate(report.outputs):
        click.echo(str(targets[applied.position]))
        if applied.ec2ec is not None:
            warn(f"EC2EC {applied.ec2ec:.4f}  {applied.image}")
        if captions:
            warn(f"captions {captions[k][0]!r} -> {captions[k][1]!r}  {applied.image}")
    timings = ", ".join(f"{k} {v}s" for k, v in report.timings.items())
    steps, device = report.settings.get("steps"), report.settings.get("device")
    warn(f"{len(report.outputs)} image(s) with {report.method}, {steps} steps on {device}: {timings}")
    if report.failed:
        warn(f"{len(report.failed)} of {given} image(s) could not be read and were skipped")
