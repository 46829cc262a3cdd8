"""`editsearch apply`: apply an exemplar edit (an indexed edit, or --before/--after) to new images."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from editsearch.cli.common import EDIT_ID, echo_json, json_option, warn
from editsearch.errors import untrained_note

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


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
    help="EditCLIP-IP2P pipeline [default: the shipped editclip-ip2p-mini].",
)
@click.option(
    "--editclip",
    default=None,
    metavar="NAME|PATH",
    help="Conditioning EditCLIP [default: the one the pipeline records].",
)
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
    as_json: bool,
) -> None:
    """Apply an exemplar edit to new images with an EditCLIP-conditioned InstructPix2Pix.

    \b
    editsearch apply --index DIR --edit-id N --image Q [--image Q2 ...] --out OUT
    editsearch apply --before A --after B --image Q --out OUT
    Output paths go to stdout (or JSON with --json: outputs, timings and the EC2EC of each
    (query, output) against the exemplar); progress goes to stderr. An image that cannot be read is
    reported and skipped; the exit code is then 3 (the others were applied).
    """
    from editsearch.transfer import DEFAULT_PIPELINE, EditTransfer
    from editsearch.transfer.apply import apply_edit
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

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
    if as_json:
        echo_json(
            {
                "edit": report.edit,
                "model": str(model or DEFAULT_PIPELINE),
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
