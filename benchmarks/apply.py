"""Edit transfer on held-out synthetic edits: does applying an exemplar's edit to a new photo match the truth?

    python benchmarks/apply.py                       # the shipped default pipeline (a random one if not shipped)
    python benchmarks/apply.py --model DIR --pairs 24
    python benchmarks/apply.py --quick               # 4 pairs

Each task: a held-out (test split) family and two different test-split sources. The exemplar is the family's
edit of source 1; the query is source 2; the ground truth is the *same* edit (same family, same params: the
same edit rng) of source 2. The output is the pipeline's edit of the query, conditioned on the exemplar.

Metrics, output vs ground truth, against two baselines (query unchanged; the exemplar's after image):
- PSNR(output, ground truth), dB;
- EC2EC(query -> output, exemplar), the EditCLIP paper's metric, with the pipeline's EditCLIP (ceiling: query -> truth);
- seconds per image (batch of one) at --size px and --steps steps; goal <= 3 s at 64 px, 20 steps on CPU.
A picture grid (exemplar before, after, query, output, ground truth) goes to benchmarks/apply_grid.png.

Then the acceptance check: for each global edit (grayscale, invert, tints, brightness), --per-global tasks; the
pipeline passes when its mean PSNR beats the unchanged query's on most of these families.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editsearch.evaluation.transfer import GLOBAL_EDITS, global_edit_check, image_psnr, make_tasks, transfer_all  # noqa: E402

GRID = Path(__file__).resolve().parent / "apply_grid.png"
COLUMNS = ("exemplar before", "exemplar after", "query", "output", "ground truth")


def load_transfer(model: str | None, editclip: str | None):
    """(EditTransfer, description): the given/shipped pipeline, else a random 'tiny' one, clearly labelled."""
    import torch

    from editsearch.encoder import WeightsNotFoundError, load_model
    from editsearch.transfer import EditProjector, EditTransfer
    from editsearch.transfer.architectures import build_unet, build_vae

    try:
        transfer = EditTransfer.from_pretrained(model, editclip=editclip)
        return transfer, str(model or "shipped default")
    except WeightsNotFoundError as e:
        if model is not None:
            raise
        print(
            f"note: {e}\n      -> benchmarking a RANDOM 'tiny' pipeline instead: quality numbers are noise.",
            file=sys.stderr,
        )
    encoder = load_model(editclip, device="cpu")
    unet = build_unet("tiny")
    torch.manual_seed(0)
    projector = EditProjector(encoder.vision_width, unet.config.cross_attention_dim)
    return EditTransfer.from_components(unet, build_vae("tiny"), projector, encoder), "RANDOM tiny (untrained)"


def grid(tasks: list[dict], outputs: list[Image.Image], path: Path, rows: int = 8, cell: int = 128) -> None:
    """Save rows of (exemplar before, after, query, output, ground truth), labelled."""
    rows = min(rows, len(tasks))
    header = 16
    canvas = Image.new("RGB", (cell * len(COLUMNS), header + cell * rows), "white")
    draw = ImageDraw.Draw(canvas)
    for c, label in enumerate(COLUMNS):
        draw.text((c * cell + 4, 2), label, fill="black")
    for r in range(rows):
        t = tasks[r]
        for c, img in enumerate((t["ex_before"], t["ex_after"], t["query"], outputs[r], t["truth"])):
            canvas.paste(img.resize((cell, cell), Image.NEAREST), (c * cell, header + r * cell))
        draw.text((4, header + r * cell + 2), t["family"], fill="yellow")
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="pipeline name/folder/hub id (default: the shipped one)")
    parser.add_argument("--editclip", default=None, help="conditioning EditCLIP (default: the pipeline's)")
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="4 pairs")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=Path, default=GRID)
    parser.add_argument("--per-global", type=int, default=3, help="tasks per global edit in the acceptance check")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's); 1 is much faster on a CPU shared with other jobs",
    )
    args = parser.parse_args()
    count = 4 if args.quick else args.pairs
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    transfer, described = load_transfer(args.model, args.editclip)
    tasks = make_tasks(count, args.size, args.seed)
    transfer.apply(tasks[0]["ex_before"], tasks[0]["ex_after"], [tasks[0]["query"]], steps=2, size=args.size)  # warm

    outputs, seconds = transfer_all(transfer, tasks, args.steps, args.seed, args.size)
    ex = ([t["ex_before"] for t in tasks], [t["ex_after"] for t in tasks])
    queries = [t["query"] for t in tasks]
    candidates = {
        "output": outputs,
        "baseline: query unchanged": queries,
        "baseline: exemplar after": [t["ex_after"] for t in tasks],
        "ceiling: ground truth": [t["truth"] for t in tasks],
    }
    rows = {}
    for name, images in candidates.items():
        ec2ec = transfer.editclip.ec2ec((queries, images), ex).tolist()
        db = statistics.mean(image_psnr(t["truth"], im) for t, im in zip(tasks, images, strict=True))
        rows[name] = {"psnr_db": None if name.startswith("ceiling") else db, "ec2ec": statistics.mean(ec2ec)}
    grid(tasks, outputs, args.grid)

    print(f"pipeline: {described}   EditCLIP: {transfer.editclip.name} (trained={transfer.editclip.trained})")
    print(
        f"{len(tasks)} held-out tasks, {len({t['family'] for t in tasks})} families, {args.size} px, "
        f"{args.steps} steps, device {transfer.device}, {torch.get_num_threads()} CPU threads"
    )
    print(f"{'':28s} {'PSNR vs truth':>14s} {'EC2EC':>8s}")
    for name, row in rows.items():
        db = "—" if row["psnr_db"] is None else f"{row['psnr_db']:.2f} dB"
        print(f"{name:28s} {db:>14s} {row['ec2ec']:8.4f}")
    per_image = statistics.median(seconds)
    print(
        f"time per image: median {per_image:.2f} s, mean {statistics.mean(seconds):.2f} s "
        f"(goal <= 3 s at 64 px, 20 steps): {'OK' if per_image <= 3 else 'SLOW'}"
    )
    print(f"grid: {args.grid}")
    check = global_edit_check(transfer, 1 if args.quick else args.per_global, args.steps, args.seed, args.size)
    print(f"\nglobal edits ({check['families']['grayscale']['tasks']} tasks each): PSNR vs truth")
    print(f"{'':14s} {'output':>9s} {'identity':>9s}")
    for family, row in check["families"].items():
        mark = "beats identity" if row["output_db"] > row["identity_db"] else ""
        print(f"{family:14s} {row['output_db']:6.2f} dB {row['identity_db']:6.2f} dB  {mark}")
    print(
        f"beats identity on {check['wins']}/{len(GLOBAL_EDITS)} global edits: "
        f"{'PASS' if check['passed'] else 'FAIL'} (goal: most)"
    )
    print(
        json.dumps(
            {
                "pipeline": described,
                "editclip": transfer.editclip.name,
                "tasks": len(tasks),
                "size": args.size,
                "steps": args.steps,
                "threads": torch.get_num_threads(),
                "seconds_per_image": per_image,
                "metrics": rows,
                "global_edits": check,
            }
        )
    )


if __name__ == "__main__":
    main()
