"""`editsearch apply`: apply an exemplar edit (an indexed edit, or --before/--after) to new images."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from PIL import Image

from editsearch.cli.common import EDIT_ID, echo_json, json_option, warn
from editsearch.errors import EXIT_PARTIAL, items_exit_code, untrained_note

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
@click.option("--seed", type=int, default=0, show_default=True)
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
    from editsearch.transfer.exemplar import exemplar_from_files, exemplar_from_index

    started = time.perf_counter()
    if (before is None) != (after is None):
        raise click.UsageError("--before and --after go together")
    if before is not None and edit_id is not None:
        raise click.UsageError("give either --edit-id (with --index) or --before/--after, not both")
    if before is None and edit_id is None:
        raise click.UsageError("give --edit-id N (an indexed edit) or --before A --after B")
    all_targets = output_paths(out, images)
    exemplar = exemplar_from_files(before, after) if before else exemplar_from_index(index_dir, edit_id)
    queries, kept, failed = load_queries(images)
    for image, reason in failed:
        warn(f"skipped {image}: {reason}")
    if not queries:
        raise click.ClickException(f"no image could be read ({len(failed)} failed; see above)")
    images = tuple(images[i] for i in kept)
    targets = [all_targets[i] for i in kept]

    from editsearch.transfer import DEFAULT_PIPELINE, EditTransfer

    transfer = EditTransfer.from_pretrained(model, editclip=editclip)
    if not transfer.editclip.trained:
        warn(untrained_note(transfer.editclip.name, "edits and EC2EC are noise"))
    transfer.pipe.set_progress_bar_config(disable=None, leave=False)
    loaded = time.perf_counter()
    outputs = transfer.apply(
        exemplar.before,
        exemplar.after,
        queries,
        steps=steps,
        seed=seed,
        edit_guidance=edit_guidance,
        image_guidance=image_guidance,
        size=size,
    )
    applied = time.perf_counter()
    for img, path in zip(outputs, targets, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
    scores = transfer.ec2ec(exemplar.before, exemplar.after, queries, outputs)
    scored = time.perf_counter()

    if as_json:
        echo_json(
            {
                "edit": exemplar.describe(),
                "model": str(model or DEFAULT_PIPELINE),
                "editclip": transfer.editclip.name,
                "settings": {
                    "steps": steps,
                    "seed": seed,
                    "edit_guidance": edit_guidance,
                    "image_guidance": image_guidance,
                    "size": size or transfer.resolution,
                    "device": str(transfer.device),
                    "dtype": str(transfer.dtype).removeprefix("torch."),
                },
                "outputs": [
                    {"image": q, "output": str(p), "size": list(img.size), "ec2ec": s}
                    for q, p, img, s in zip(images, targets, outputs, scores, strict=True)
                ],
                "failed": [{"image": image, "reason": reason} for image, reason in failed],
                "timings": {
                    "load_s": round(loaded - started, 3),
                    "apply_s": round(applied - loaded, 3),
                    "per_image_s": round((applied - loaded) / len(images), 3),
                    "score_s": round(scored - applied, 3),
                    "total_s": round(scored - started, 3),
                },
            }
        )
        sys.exit(items_exit_code(len(failed)))
    for path in targets:
        click.echo(str(path))
    for q, s in zip(images, scores, strict=True):
        warn(f"EC2EC {s:.4f}  {q}")
    warn(
        f"{len(images)} image(s) in {applied - loaded:.2f}s ({(applied - loaded) / len(images):.2f}s each), "
        f"{steps} steps on {transfer.device}"
    )
    if failed:
        warn(f"{len(failed)} of {len(all_targets)} image(s) could not be read and were skipped")
        sys.exit(EXIT_PARTIAL)


def load_queries(images: tuple[str, ...]) -> tuple[list[Image.Image], list[int], list[tuple[str, str]]]:
    """(decoded images, their positions in `images`, [(image, reason)] for those that could not be read)."""
    from editsearch.images import ImageLoadError, load_image

    loaded, kept, failed = [], [], []
    for i, image in enumerate(images):
        try:
            loaded.append(load_image(image))
            kept.append(i)
        except ImageLoadError as e:
            failed.append((image, str(e)))
    return loaded, kept, failed
