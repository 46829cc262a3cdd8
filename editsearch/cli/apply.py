"""`editsearch apply`: apply an exemplar edit (an indexed edit, or --before/--after) to new images."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from editsearch.cli.common import EDIT_ID, echo_json, json_option, warn
from editsearch.core.errors import untrained_note

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
METHODS = ("editclip", "visii", "caption-direction")  # editsearch.transfer.methods.METHODS, without its imports
# Where a method's own defaults differ from the shared options' (used only when the option was not given):
# VISII samples with the paper's guidance 7.5; caption direction takes the paper's 100 DDIM steps each way.
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "visii": {"edit_guidance": 7.5},
    "caption-direction": {"steps": 100, "edit_guidance": 7.5},
}


def method_options(command: Any) -> Any:
    """The options of `--method visii` and `--method caption-direction`."""
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
@click.option("--steps", type=click.IntRange(1), default=50, show_default=True, help="Denoising steps.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Random seed.")
@click.option("--edit-guidance", type=float, default=7.0, show_default=True, help="Guidance towards the edit.")
@click.option("--image-guidance", type=float, default=1.5, show_default=True, help="Guidance towards the input.")
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
    type=click.Choice(METHODS),
    default="editclip",
    show_default=True,
    help="editclip: EditCLIP-conditioned IP2P (fast); visii: learn an instruction from the exemplar, then apply "
    "it (slow; the pipeline's conditioning is learned); caption-direction: DDIM inversion + Stable Diffusion "
    "along a caption difference (no exemplar).",
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
    steps: int,
    seed: int,
    edit_guidance: float,
    image_guidance: float,
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
    exemplar_args = {"index_dir": index_dir, "edit_id": edit_id, "before": before, "after": after}
    common = {"steps": steps, "seed": seed, "edit_guidance": edit_guidance, "image_guidance": image_guidance}
    common.update(size=size, model=model, editclip=editclip)
    if method != "editclip":
        run_method(method, exemplar_args, images, out, method_defaults(method, common), options, as_json)
        return
    given = sorted(f"--{k.replace('_', '-')}" for k, v in options.items() if v not in (None, False, 0))
    if given:
        raise click.UsageError(f"{', '.join(given)} belong to --method visii or caption-direction")
    apply_editclip(**exemplar_args, images=images, out=out, **common, as_json=as_json)


def apply_editclip(
    index_dir: str | None,
    edit_id: int | None,
    before: str | None,
    after: str | None,
    images: tuple[str, ...],
    out: str,
    steps: int,
    seed: int,
    edit_guidance: float,
    image_guidance: float,
    size: int | None,
    model: str | None,
    editclip: str | None,
    as_json: bool,
) -> None:
    """The default method: the exemplar's EditCLIP tokens condition an EditCLIP-IP2P pipeline."""
    from editsearch.transfer import DEFAULT_PIPELINE, EditTransfer
    from editsearch.transfer.apply import apply_edit
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index
    from editsearch.transfer.pipeline_names import DEMONSTRATION_NOTE, is_demonstration

    started = time.perf_counter()
    if (before is None) != (after is None):
        raise click.UsageError("--before and --after go together")
    if before is not None and edit_id is not None:
        raise click.UsageError("give either --edit-id (with --index) or --before/--after, not both")
    if before is None and edit_id is None:
        raise click.UsageError("give --edit-id N (an indexed edit) or --before A --after B")
    targets = output_paths(out, images)
    exemplar = exemplar_from_files(before, after) if before else exemplar_from_index(index_dir, edit_id)
    transfer = EditTransfer.from_pretrained(model, editclip=editclip)
    if not transfer.editclip.trained:
        warn(untrained_note(transfer.editclip.name, "edits and EC2EC are noise"))
    transfer.pipe.set_progress_bar_config(disable=None, leave=False)
    loaded = time.perf_counter()
    settings = {"edit_guidance": edit_guidance, "image_guidance": image_guidance, "size": size}
    report = apply_edit(transfer, exemplar, images, steps=steps, seed=seed, **settings)
    for image, reason in report.failed:
        warn(f"skipped {image}: {reason}")
    for applied in report.outputs:
        targets[applied.position].parent.mkdir(parents=True, exist_ok=True)
        applied.output.save(targets[applied.position])
    report.timings.update(load_s=round(loaded - started, 3), total_s=round(time.perf_counter() - started, 3))
    demonstration = is_demonstration(model)
    if demonstration:
        warn(DEMONSTRATION_NOTE)
    if as_json:
        echo_json(
            {
                "edit": report.edit,
                "model": str(model or DEFAULT_PIPELINE),
                "demonstration": demonstration,
                "editclip": report.editclip,
                "settings": report.settings,
                "outputs": [
                    {
                        "image": a.image,
                        "output": str(targets[a.position]),
                        "size": list(a.output.size),
                        "ec2ec": a.ec2ec,
                    }
                    for a in report.outputs
                ],
                "failed": [{"image": image, "reason": reason} for image, reason in report.failed],
                "timings": report.timings,
            }
        )
        sys.exit(report.exit_code)
    for applied in report.outputs:
        click.echo(str(targets[applied.position]))
        warn(f"EC2EC {applied.ec2ec:.4f}  {applied.image}")
    seconds, each = report.timings["apply_s"], report.timings["per_image_s"]
    warn(f"{len(report.outputs)} image(s) in {seconds:.2f}s ({each:.2f}s each), {steps} steps on {transfer.device}")
    if report.failed:
        warn(f"{len(report.failed)} of {len(images)} image(s) could not be read and were skipped")
    sys.exit(report.exit_code)


def method_defaults(method: str, common: dict[str, Any]) -> dict[str, Any]:
    """The shared settings, each left at its default replaced by the method's own default."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    own = METHOD_DEFAULTS.get(method, {})
    return {
        k: own[k] if k in own and ctx.get_parameter_source(k) == ParameterSource.DEFAULT else v
        for k, v in common.items()
    }


def run_method(
    method: str,
    exemplar_args: dict[str, Any],
    images: tuple[str, ...],
    out: str,
    common: dict[str, Any],
    options: dict[str, Any],
    as_json: bool,
) -> None:
    """`apply --method visii|caption-direction`: refuse the other method's options, run, write, report, exit."""
    prefix = "visii" if method == "visii" else "caption-direction"
    foreign = [name for name, param in _OPTION_METHODS.items() if param != prefix and options.get(name)]
    if foreign:
        raise click.UsageError(f"{', '.join('--' + f.replace('_', '-') for f in foreign)} do not apply to {method}")
    targets = output_paths(out, images)
    started = time.perf_counter()
    report = (
        run_visii(exemplar_args, images, common, options)
        if method == "visii"
        else run_captions(exemplar_args, images, common, options)
    )
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
        outputs = [
            {"image": a.image, "output": str(targets[a.position]), "size": list(a.output.size), "ec2ec": a.ec2ec}
            for a in report.outputs
        ]
        failed = [{"image": image, "reason": reason} for image, reason in report.failed]
        echo_json(
            {"method": report.method, "model": report.model, "demonstration": report.demonstration}
            | {"settings": report.settings, **report.details}
            | {"outputs": outputs, "failed": failed, "timings": report.timings}
        )
        sys.exit(report.exit_code)
    sources, written = report.details.get("source_captions", []), report.details.get("target_captions", [])
    captions = list(zip(sources, written, strict=True))
    for k, applied in enumerate(report.outputs):
        click.echo(str(targets[applied.position]))
        if applied.ec2ec is not None:
            warn(f"EC2EC {applied.ec2ec:.4f}  {applied.image}")
        if captions:
            warn(f"captions {captions[k][0]!r} -> {captions[k][1]!r}  {applied.image}")
    warn(f"{len(report.outputs)} image(s) with {method}: " + ", ".join(f"{k} {v}s" for k, v in report.timings.items()))
    sys.exit(report.exit_code)


_OPTION_METHODS = {
    **dict.fromkeys(
        ["clip_model", "init_text", "text", "neighbours", "visii_steps", "lr", "lambda_mse", "lambda_clip"], "visii"
    ),
    **dict.fromkeys(["tokens", "reuse_noise"], "visii"),
    **dict.fromkeys(["source_caption", "target_caption", "direction_weight", "sd_model"], "caption-direction"),
    **dict.fromkeys(["caption_model", "instruction", "caption_llm"], "caption-direction"),
}


def run_visii(exemplar_args: dict[str, Any], images: tuple[str, ...], common: dict[str, Any], options: dict) -> Any:
    """Load the exemplar, the IP2P and CLIP (and an EditCLIP to score with, if given); learn or reuse; apply."""
    from editsearch.transfer.visii_apply import VisiiRun, apply_visii, load_visii

    exemplar = load_exemplar(**exemplar_args)
    visii = load_visii(common["model"], options["clip_model"])
    scorer = _editclip(common["editclip"])
    given = {k: options[o] for k, o in _INVERSION.items() if options.get(o) is not None}
    inversion = visii.settings(**given, size=common["size"], seed=common["seed"])
    run = VisiiRun(
        inversion, options["text"], common["steps"], common["seed"], common["edit_guidance"],
        common["image_guidance"], common["size"], options["reuse_noise"],
    )  # fmt: skip
    every = max(1, inversion.steps // 10)

    def progress(step: int, loss: float) -> None:
        if step % every == 0 or step == inversion.steps:
            warn(f"VISII step {step}/{inversion.steps}  loss {loss:.4f}")

    return apply_visii(
        visii, exemplar, images, run, index_dir=exemplar_args["index_dir"], neighbours=options["neighbours"],
        editclip=scorer, progress=progress,
    )  # fmt: skip


_INVERSION = {"steps": "visii_steps", "lr": "lr", "lambda_mse": "lambda_mse", "lambda_clip": "lambda_clip"}
_INVERSION |= {"init_text": "init_text", "tokens": "tokens"}


def run_captions(exemplar_args: dict[str, Any], images: tuple[str, ...], common: dict[str, Any], options: dict) -> Any:
    """Check the captions (a usage error naming the options to pass), load the models they need, edit each image."""
    from editsearch.transfer.caption_direction import apply_captions, caption_models
    from editsearch.transfer.captions import check_captions

    if any(exemplar_args[k] is not None for k in ("edit_id", "before", "after")):
        raise click.UsageError(
            "caption-direction takes no exemplar (--edit-id, --before/--after): it edits by captions"
        )
    if common["model"] or common["editclip"]:
        raise click.UsageError("caption-direction loads Stable Diffusion with --sd-model, not --model/--editclip")
    source, target, instruction = options["source_caption"], options["target_caption"], options["instruction"]
    if options["caption_llm"] and instruction is None:
        raise click.UsageError("--caption-llm writes the target caption from --instruction: pass --instruction too")
    check_captions(source, target, instruction, bool(options["caption_model"]), True)
    editor, captioner, writer = caption_models(
        options["sd_model"], options["caption_model"], options["caption_llm"],
        captions=source is None, writes=instruction is not None,
    )  # fmt: skip
    weight = 1.0 if options["direction_weight"] is None else options["direction_weight"]
    return apply_captions(
        editor, list(images), source, target, captioner=captioner, writer=writer, instruction=instruction,
        weight=weight, steps=common["steps"], guidance=common["edit_guidance"], size=common["size"],
    )  # fmt: skip


def load_exemplar(index_dir: str | None, edit_id: int | None, before: str | None, after: str | None) -> Any:
    """The exemplar of --edit-id or --before/--after (usage errors as the default path gives them)."""
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

    if (before is None) != (after is None):
        raise click.UsageError("--before and --after go together")
    if before is not None and edit_id is not None:
        raise click.UsageError("give either --edit-id (with --index) or --before/--after, not both")
    if before is None and edit_id is None:
        raise click.UsageError("give --edit-id N (an indexed edit) or --before A --after B")
    return exemplar_from_files(before, after) if before else exemplar_from_index(index_dir, edit_id)


def _editclip(name: str | None) -> Any:
    """The EditCLIP that scores outputs by EC2EC, or None."""
    if name is None:
        return None
    from editsearch.encoder import load_model

    model = load_model(name)
    if not model.trained:
        warn(untrained_note(model.name, "EC2EC is noise"))
    return model
