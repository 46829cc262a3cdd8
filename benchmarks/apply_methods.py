"""Three ways to apply an edit, side by side on the held-out synthetic apply tasks: time and quality.

    nice -n 10 python benchmarks/apply_methods.py                    # 4 tasks, K = 2, 50 VISII steps
    nice -n 10 python benchmarks/apply_methods.py --tasks 8 --visii-steps 1000

Methods, each on the same tasks (editsearch.evaluation.transfer.make_tasks, 64 px):
- editclip: the shipped EditCLIP-conditioned IP2P (editclip-ip2p-mini, trained here), `apply`'s default;
- visii-1: VISII from the task's exemplar pair, on a tiny RANDOM stock-layout IP2P + tiny random CLIP;
- visii-K: the same from the exemplar and K more pairs of the same family (the paper's n-pair variant);
- caption-direction: DDIM inversion + regeneration on a tiny RANDOM Stable Diffusion, captions made from the
  family name ("a photo" -> "a photo, <family>"), as a user would type them.
Metrics: PSNR(output, truth) in dB; EC2EC(query -> output vs the exemplar) with the shipped EditCLIP-mini;
seconds per edit (VISII: inversion + apply; its per-step cost is extrapolated to the paper's 1000 steps).

On a CPU only the tiny pipelines run, and the VISII and caption-direction ones are random: their numbers are
a mechanics check (it runs, how long each stage takes), NOT a quality comparison with EditCLIP.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from editsearch.evaluation.transfer import image_psnr, make_tasks  # noqa: E402

SIZE = 64


def at_query_size(image: Image.Image, query: Image.Image) -> Image.Image:
    return image if image.size == query.size else image.resize(query.size, Image.BICUBIC)


def run_editclip(tasks: list[dict], steps: int) -> tuple[list[Image.Image], list[float]]:
    from editsearch.transfer import EditTransfer

    transfer = EditTransfer.from_pretrained(None, device="cpu")
    outputs, seconds = [], []
    for t in tasks:
        start = time.perf_counter()
        out = transfer.apply(t["ex_before"], t["ex_after"], [t["query"]], steps=steps, size=SIZE)[0]
        seconds.append(time.perf_counter() - start)
        outputs.append(at_query_size(out, t["query"]))
    return outputs, seconds


def run_visii(tasks: list[dict], steps: int, visii_steps: int, k: int) -> tuple[list, list, list]:
    """Outputs, seconds per edit, and inversion seconds per optimisation step."""
    from editsearch.transfer.tiny_pipelines import tiny_clip, tiny_ip2p
    from editsearch.transfer.visii import InversionSettings, Visii

    pipe = tiny_ip2p(seed=0)
    pipe.set_progress_bar_config(disable=True)
    visii = Visii(pipe, tiny_clip(pipe.tokenizer), "tiny random IP2P", "tiny random CLIP")
    outputs, seconds, per_step = [], [], []
    for i, t in enumerate(tasks):
        same = make_tasks(k, SIZE, 1000 + i, (t["family"],)) if k else []  # other exemplars of the same family
        pairs = [(t["ex_before"], t["ex_after"])] + [(u["ex_before"], u["ex_after"]) for u in same]
        settings = InversionSettings(steps=visii_steps, init_text=t["family"].replace("_", " "), size=SIZE)
        start = time.perf_counter()
        learned = visii.invert(pairs, settings)
        out = visii.apply(learned, [t["query"]], steps=steps, size=SIZE)[0]
        seconds.append(time.perf_counter() - start)
        per_step.append(learned.seconds / visii_steps)
        outputs.append(at_query_size(out, t["query"]))
    return outputs, seconds, per_step


def run_captions(tasks: list[dict], steps: int, weight: float) -> tuple[list[Image.Image], list[float]]:
    from editsearch.transfer.caption_direction import CaptionDirection
    from editsearch.transfer.tiny_pipelines import tiny_sd

    editor = CaptionDirection(tiny_sd(seed=0), "tiny random SD")
    outputs, seconds = [], []
    for t in tasks:
        start = time.perf_counter()
        target = f"a photo, {t['family'].replace('_', ' ')}"
        out = editor.edit(t["query"], "a photo", target, weight=weight, steps=steps, size=SIZE)
        seconds.append(time.perf_counter() - start)
        outputs.append(at_query_size(out, t["query"]))
    return outputs, seconds


def scores(tasks: list[dict], outputs: list[Image.Image], editclip) -> dict:
    """Mean PSNR vs the truth and mean EC2EC of (query -> output) against the exemplar."""
    n = len(tasks)
    ec2ec = editclip.ec2ec(
        ([t["query"] for t in tasks], outputs), ([t["ex_before"] for t in tasks], [t["ex_after"] for t in tasks])
    )
    return {
        "psnr_db": round(statistics.mean(image_psnr(t["truth"], o) for t, o in zip(tasks, outputs, strict=True)), 2),
        "ec2ec": round(float(ec2ec.mean()), 4),
        "tasks": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20, help="sampling steps (each method; DDIM each way)")
    parser.add_argument("--visii-steps", type=int, default=50, help="VISII optimisation steps (paper: 1000)")
    parser.add_argument("--neighbours", type=int, default=2, help="K extra pairs for visii-K")
    parser.add_argument("--direction-weight", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = parser.parse_args()

    import torch

    from editsearch.encoder import load_model

    torch.set_num_threads(args.threads)
    scored = make_tasks(args.tasks, SIZE, args.seed)
    editclip = load_model("editclip-mini", device="cpu")
    rows = {}
    out, sec = run_editclip(scored, args.steps)
    rows["editclip (shipped mini, trained)"] = {**scores(scored, out, editclip), "s_per_edit": statistics.mean(sec)}
    for label, k in (("visii-1 (tiny random)", 0), (f"visii-{args.neighbours + 1} (tiny random)", args.neighbours)):
        out, sec, step = run_visii(scored, args.steps, args.visii_steps, k)
        row = {**scores(scored, out, editclip), "s_per_edit": statistics.mean(sec)}
        rows[label] = {
            **row,
            "s_per_step": statistics.mean(step),
            "s_at_1000_steps": round(1000 * statistics.mean(step), 1),
        }
    out, sec = run_captions(scored, args.steps, args.direction_weight)
    rows["caption-direction (tiny random)"] = {**scores(scored, out, editclip), "s_per_edit": statistics.mean(sec)}
    identity = [t["query"] for t in scored]
    rows["query unchanged (baseline)"] = {**scores(scored, identity, editclip), "s_per_edit": 0.0}
    rounded = {
        label: {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()} for label, row in rows.items()
    }
    print(json.dumps({"settings": vars(args), "size": SIZE, "rows": rounded}, indent=2))


if __name__ == "__main__":
    main()
