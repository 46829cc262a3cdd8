"""Pretrained image features for the pair tower: frozen EfficientNet-Lite0 + a small trained head, measured against
editclip-mini, an untrained mini and the Δ-statistics baseline on the same splits.

    python benchmarks/pretrained_pair.py --real PATH/TO/real-edits [--quick] [--cache FILE.pt]

Heads learn on the generator's train split only (views cropped alike on before and after, features cached once).
Options are compared on the validation split (synthetic_eval_set with a seed of its own: test-split photos,
held-out phrasings); the held-out set (benchmarks/heldout) and the real pairs are asked once each, evaluation only.
Per set: edit->edit top-1 (other photos), pair-only text->edit hit@5, reversed-pair accuracy. Costs: forward
pairs/s from uint8 pixels (batch 32, median of 3, side by side) and the float32 size of what would ship.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pretrained_head import (  # noqa: E402
    PairFeatures,
    PairHead,
    TrainData,
    extract,
    train_head,
)
from editsearch.encoder.preprocess import square_pixels  # noqa: E402
from editsearch.evaluation.retrieval import EvalSet, evaluate_embeddings  # noqa: E402
from editsearch.evaluation.reversal import directional, reversal_metrics  # noqa: E402
from editsearch.media.images import load_image  # noqa: E402
from editsearch.training.train_editclip import self_inverse_mask  # noqa: E402

REAL_QUERIES = Path(__file__).with_name("real_queries.json")  # the real pairs' queries re-phrased
# option -> (head mode, editclip-mini's embedding as an input)
HEADS = {
    "lite0 pooled MLP": ("pooled", False),
    "lite0 pooled Δ-only": ("delta", False),
    "lite0 spatial": ("spatial", False),
    "lite0 spatial + mini": ("spatial", True),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's options (--quick: a small run to check the plumbing)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, help="the real-edits folder (evaluation only)")
    ap.add_argument("--pairs", type=int, default=10000, help="training pairs of the generator (train split)")
    ap.add_argument("--texts", type=int, default=4, help="training phrasings drawn per pair")
    ap.add_argument("--size", type=int, default=128, help="backbone input side in px")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-per-family", type=int, default=5)
    ap.add_argument("--val-seed", type=int, default=4321, help="validation seed (editclip-mini's curve used 1234)")
    ap.add_argument("--heldout-pairs", type=int, default=235)
    ap.add_argument("--heldout-seed", type=int, default=11)
    ap.add_argument("--heads", default=",".join(HEADS), help="comma-separated head options to train")
    ap.add_argument("--cache", type=Path, help="save/load the training features here")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.pairs, args.steps, args.val_per_family, args.heldout_pairs, args.batch = 300, 30, 2, 94, 64
    return args


def train_data(args: argparse.Namespace, backbone: Any, mini: Any) -> TrainData:
    """Training views of the generator (train split), their features and embedded phrasings (cached with --cache)."""
    if args.cache and args.cache.exists():
        print(f"features from {args.cache}", flush=True)
        return TrainData(**{k: _features(v) for k, v in torch.load(args.cache).items()})
    from editsearch.core.rng import stream
    from editsearch.training.pairs import augment, pair_pool, sample_texts

    t0 = time.perf_counter()
    pool = pair_pool((), args.pairs, args.seed, 128, workers=2)
    t1 = time.perf_counter()
    gen = torch.Generator().manual_seed(args.seed)
    feats = []
    for start in range(0, len(pool), 256):
        x = augment(pool.pixels[start : start + 256], args.size, (0, 0, 0), (1, 1, 1), gen).clamp(0, 1)
        feats.append(extract(backbone, mini, x))
    t2 = time.perf_counter()
    rng = stream(args.seed, "pretrained-pair-texts")
    every = torch.arange(len(pool))
    drawn = [sample_texts(pool, every, rng, varied=True) for _ in range(args.texts)]
    uniq = sorted({t for texts in drawn for t in texts})
    row = {t: i for i, t in enumerate(uniq)}
    text_emb = torch.cat([mini.embed_texts(uniq[i : i + 512]) for i in range(0, len(uniq), 512)])
    t3 = time.perf_counter()
    print(f"generated {len(pool)} pairs in {t1 - t0:.0f}s, features {t2 - t1:.0f}s, {len(uniq)} texts {t3 - t2:.0f}s")
    names = sorted(set(pool.labels))
    data = TrainData(
        PairFeatures(*(torch.cat([getattr(f, k) for f in feats]) for k in ("maps", "pix", "mini"))),
        torch.tensor([names.index(lab) for lab in pool.labels]),
        self_inverse_mask(pool.labels),
        torch.tensor([[row[texts[i]] for texts in drawn] for i in range(len(pool))]),
        text_emb,
    )
    if args.cache:
        torch.save({k: _plain(getattr(data, k)) for k in data.__dataclass_fields__}, args.cache)
    return data


def _plain(v: Any) -> Any:
    return vars(v) if isinstance(v, PairFeatures) else v


def _features(v: Any) -> Any:
    return PairFeatures(**v) if isinstance(v, dict) else v


class HeadEmbedder:
    """A trained head as an embedder: pairs through the frozen backbone and the head, texts through MiniLM."""

    def __init__(self, name: str, head: PairHead, backbone: Any, mini: Any, size: int) -> None:
        self.name, self.head, self.backbone, self.mini, self.size = name, head, backbone, mini, size

    def forward_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pairs [N, 6, S, S] -> L2-normalised [N, 384]."""
        feats = extract(self.backbone, self.mini if self.head.use_mini else None, x.float() / 255)
        with torch.inference_mode():
            return F.normalize(self.head(*feats.rows(torch.arange(len(x)))), dim=-1)

    def embed_pairs(self, befores: Sequence[Any], afters: Sequence[Any], batch_size: int = 64) -> torch.Tensor:
        """Embed (before, after) pairs."""
        x = torch.stack([_pixels(b, a, self.size) for b, a in zip(befores, afters, strict=True)])
        return torch.cat([self.forward_pixels(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """MiniLM's embeddings (the frozen text tower, unchanged)."""
        return self.mini.embed_texts(texts)


def _pixels(before: Any, after: Any, size: int) -> torch.Tensor:
    return torch.cat([square_pixels(load_image(before), size), square_pixels(load_image(after), size)])


def heldout_set(out: Path, pairs: int, seed: int) -> tuple[EvalSet, list[int]]:
    """The held-out set written afresh (benchmarks/heldout), as an EvalSet, and its directional rows."""
    import json

    from benchmarks.heldout import write_heldout

    manifest = write_heldout(out, pairs, seed)
    rows = [json.loads(line) for line in manifest.read_text("utf-8").splitlines() if line.strip()]
    rgb = [(load_image(out / r["before"]).convert("RGB"), load_image(out / r["after"]).convert("RGB")) for r in rows]
    texts: dict[str, list[str]] = {}
    for r in rows:
        texts.setdefault(r["family"], [])
        if r["instruction"] not in texts[r["family"]]:
            texts[r["family"]].append(r["instruction"])
    es = EvalSet(
        [b for b, _ in rgb],
        [a for _, a in rgb],
        [r["family"] for r in rows],
        [str(r["source"]) for r in rows],
        texts,
        [r["instruction"] for r in rows],
    )
    return es, [i for i, r in enumerate(rows) if r["directional"]]


def eval_sets(args: argparse.Namespace) -> dict[str, tuple[EvalSet, list[int]]]:
    """The sets every option is asked, each with its directional rows: validation, held-out, real, re-phrased."""
    from editsearch.evaluation.retrieval import read_label_queries, real_eval_set, synthetic_eval_set

    val = synthetic_eval_set(per_family=args.val_per_family, seed=args.val_seed)
    sets = {"validation": (val, directional(val))}
    with tempfile.TemporaryDirectory() as tmp:
        sets["heldout"] = heldout_set(Path(tmp) / "heldout", args.heldout_pairs, args.heldout_seed)
    if args.real:
        real = real_eval_set(str(args.real))
        sets["real"] = (real, directional(real))
        rephrased = real_eval_set(str(args.real), read_label_queries(REAL_QUERIES))
        sets["real re-phrased"] = (rephrased, [])  # the same pairs: only text->edit differs
    return sets


def scores(cand: Any, es: EvalSet, rows: list[int]) -> dict[str, float]:
    """edit->edit top-1, pair-only text->edit hit@5 and reversed accuracy (the last two need a text side)."""
    emb = cand.embed_pairs(es.befores, es.afters, batch_size=64).float()
    reads_text = hasattr(cand, "embed_texts")
    texts = [t for ts in es.label_texts.values() for t in ts]
    m = evaluate_embeddings(emb, cand.embed_texts(texts).float() if reads_text else None, es)
    out = {"edit top-1": m.get("edit->edit", {}).get("top1"), "text hit@5": m.get("text->edit", {}).get("hit@5")}
    if reads_text and rows:
        t = cand.embed_texts([es.instructions[i] for i in rows]).float()
        back = cand.embed_pairs([es.afters[i] for i in rows], [es.befores[i] for i in rows]).float()
        out["reversed"] = reversal_metrics((emb[rows] * t).sum(-1), (back * t).sum(-1))["accuracy"]
    return out


def pairs_per_second(forward: Callable[[torch.Tensor], Any], size: int, trials: int = 3, n: int = 32) -> float:
    """Forward pairs/s from uint8 pixels [n, 6, size, size], median of `trials` (after one warm-up)."""
    x = torch.randint(0, 256, (n, 6, size, size), dtype=torch.uint8)
    forward(x)
    times = []
    for _ in range(trials):
        t0 = time.perf_counter()
        forward(x)
        times.append(time.perf_counter() - t0)
    return n / float(np.median(times))


def megabytes(*modules: Any) -> float:
    """float32 size of the modules' parameters and buffers."""
    return sum(t.numel() * 4 for m in modules for t in [*m.parameters(), *m.buffers()]) / 1e6


def fmt(v: Any) -> str:
    """A table cell."""
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """One row per option: validation, held-out and real metrics, then costs."""
    asked = [(s, k) for s in ("validation", "heldout", "real") for k in ("edit top-1", "text hit@5", "reversed")]
    asked.append(("real re-phrased", "text hit@5"))
    head = [f"{s} {k}" for s, k in asked] + ["pairs/s", "MB"]
    print("| option | " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * len(head))
    for name, r in results.items():
        cells = [fmt(r.get(s, {}).get(k)) for s, k in asked] + [fmt(r.get("pairs/s")), fmt(r.get("MB"))]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    """Train the heads, then ask every option the same sets; prints the table."""
    from benchmarks.lite0 import build_lite0
    from editsearch.encoder.registry import MINI_CONFIG, load_model, random_model
    from editsearch.evaluation.baselines import DeltaStatsEmbedder

    args = parse_args(argv)
    torch.manual_seed(args.seed)
    backbone, mini = build_lite0(), load_model("editclip-mini", device="cpu")
    untrained = random_model(MINI_CONFIG, seed=0)
    untrained.name = "untrained mini"
    data = train_data(args, backbone, mini)
    cells = data.feats.maps.shape[-1]
    cands: dict[str, Any] = {"editclip-mini": mini, "untrained mini": untrained, "delta-stats": DeltaStatsEmbedder()}
    results: dict[str, dict[str, Any]] = {name: {} for name in cands}
    for name in [h.strip() for h in args.heads.split(",") if h.strip()]:
        mode, use_mini = HEADS[name]
        head = PairHead(mode, cells, use_mini)
        t0 = time.perf_counter()
        losses = train_head(head, data, args.steps, args.batch, args.lr, args.seed)
        took = time.perf_counter() - t0
        print(f"{name}: {args.steps} steps in {took:.0f}s, loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}")
        cands[name] = HeadEmbedder(name, head, backbone, mini, args.size)
        parts = (backbone, head, mini.visual) if use_mini else (backbone, head)
        results[name] = {"MB": megabytes(*parts), "train s": took}
    sets = eval_sets(args)
    for name, cand in cands.items():
        for set_name, (es, rows) in sets.items():
            results[name][set_name] = scores(cand, es, rows)
        print(name, {k: v for k, v in results[name].items() if k in sets}, flush=True)
    results["editclip-mini"] |= {
        "pairs/s": pairs_per_second(mini.embed_pair_tensors, 112),
        "MB": megabytes(mini.visual),
    }
    for name, cand in cands.items():
        if isinstance(cand, HeadEmbedder):
            results[name]["pairs/s"] = pairs_per_second(cand.forward_pixels, args.size)
    results["editclip-mini"]["pairs/s (again)"] = pairs_per_second(mini.embed_pair_tensors, 112)
    print(f"editclip-mini pairs/s, measured again after the heads: {results['editclip-mini']['pairs/s (again)']:.1f}")
    print_table(results)


if __name__ == "__main__":
    main()
