"""EditCLIP pair-embedding throughput vs the same open_clip architecture on 3-channel images.

Prints, per config, measured side by side in one run (interleaved trials, median):
  pairs/s of EditCLIP (one 6-channel pass per pair)
  / images/s of the 3-channel tower            (goal >= 0.95: the wider conv1 costs ~nothing)
  / pairs/s of two separate 3-channel passes   (VISII-style delta embedding; goal >= 1.8)

    python benchmarks/encoder_throughput.py [--configs tiny,mini,ViT-B-32] [--batch 32] [--trials 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def build(config_name: str):
    """(EditCLIP with random weights, 3-channel open_clip vision tower of the same architecture)."""
    from open_clip.model import _build_vision_tower

    from editsearch.encoder.config import EditCLIPConfig, open_clip_config
    from editsearch.encoder.registry import MINI_CONFIG, random_model

    if config_name == "tiny":
        config = EditCLIPConfig(
            embed_dim=384,
            name="tiny",
            text={"kind": "minilm"},
            vision={"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16, "mlp_ratio": 2.0},
        )
    elif config_name == "mini":
        config = MINI_CONFIG
    else:
        config = open_clip_config(config_name, text_kind="minilm")
    model = random_model(config)
    tower3 = _build_vision_tower(config.embed_dim, dict(config.vision), config.quick_gelu).eval()
    return model, tower3, config.image_size


def rate(fn, n: int) -> float:
    """Items per second of one call processing n items."""
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def measure(name: str, b: int, trials: int) -> dict[str, float]:
    """Median pairs/s (6-ch), images/s (3-ch) and pairs/s (two 3-ch passes) for one config."""
    model, tower3, size = build(name)
    x6, x3 = torch.randn(b, 6, size, size), torch.randn(b, 3, size, size)
    fns = {
        "pair": lambda: model.encode_pair_tensors(x6),
        "single": lambda: tower3(x3),
        "two": lambda: tower3(x3) - tower3(x3),
    }
    rates: dict[str, list[float]] = {k: [] for k in fns}
    with torch.inference_mode():
        for f in fns.values():  # warm-up
            f()
        for _ in range(trials):  # interleaved, so machine noise hits all three alike
            for k, f in fns.items():
                rates[k].append(rate(f, b))
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="tiny,mini,ViT-B-32")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, batch={args.batch}, trials={args.trials}")
    head = ("config", "pairs/s", "3ch img/s", "2-pass pairs/s", "ratio 3ch", "ratio 2pass")
    print("{:10s} {:>9s} {:>10s} {:>15s} {:>10s} {:>12s}".format(*head))
    for name in args.configs.split(","):
        m = measure(name, args.batch, args.trials)
        print(
            f"{name:10s} {m['pair']:9.1f} {m['single']:10.1f} {m['two']:15.1f} "
            f"{m['pair'] / m['single']:10.3f} {m['pair'] / m['two']:12.3f}"
        )


if __name__ == "__main__":
    main()
