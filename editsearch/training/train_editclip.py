"""Train EditCLIP: symmetric CLIP loss against a frozen text tower, only the vision tower learns.

Runs the same on CPU, one GPU or many (`accelerate launch -m editsearch.training.train_editclip ...`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from editsearch.core.errors import UsageError
from editsearch.core.files import write_atomic
from editsearch.core.rng import stream, stream_seed
from editsearch.evaluation.reversal import SELF_INVERSE
from editsearch.training.recipes import OPTION, EditCLIPTrainConfig, data_sources
from editsearch.training.run_log import append_record
from editsearch.training.run_state import latest_checkpoint, save_checkpoint


def build_model(init: str, pair_fusion: str | None = None) -> tuple[Any, bool]:
    """(model, fresh): a fresh mini model, or a pretrained/registry one to fine-tune, reading pairs as `pair_fusion`.

    A fresh mini or an open_clip init takes any fusion (channels when None); a trained model keeps its own.
    """
    from editsearch.encoder.checkpoints import from_open_clip
    from editsearch.encoder.registry import MINI_CONFIG, load_model, random_model

    fusion = pair_fusion or "channels"
    if init == "mini":
        return random_model(MINI_CONFIG.with_fusion(fusion), seed=0), True
    if init.startswith("open_clip:"):
        _, arch, tag = init.split(":", 2)
        return from_open_clip(arch, tag or None, device=torch.device("cpu"), pair_fusion=fusion), False
    model = load_model(init, device="cpu")
    if pair_fusion is not None and pair_fusion != model.config.pair_fusion:
        raise UsageError(
            f"{init!r} reads pairs as {model.config.pair_fusion}, not {pair_fusion}: a trained tower keeps its "
            "fusion; start a frames model from --init mini or --init open_clip:ARCH:TAG"
        )
    return model, False


def param_groups(model: Any, lr: float, conv1_lr: float, weight_decay: float) -> list[dict]:
    """AdamW groups: conv1 at its own lr; decay on weights only, none on gains, biases and logit scale."""
    conv1, decay, no_decay = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.endswith("visual.conv1.weight") or name == "visual.conv1.weight":
            conv1.append(p)
        elif p.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": conv1, "lr": conv1_lr, "weight_decay": weight_decay, "name": "conv1"},
        {"params": decay, "lr": lr, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "lr": lr, "weight_decay": 0.0, "name": "no_decay"},
    ]


def lr_multiplier(step: int, warmup: int, total: int) -> float:
    """Linear warmup then cosine to 0; a multiplier, so each group keeps its own base lr."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def clip_loss(img: torch.Tensor, txt: torch.Tensor, pos: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP loss; `pos[i, j]` marks pair i and text j as a match (several may match). A pair that
    matches no text (a reversed pair) is only a negative, in the texts' direction."""
    logits = scale * img @ txt.T
    has = pos.any(1)
    t_i = pos[has].float() / pos[has].sum(1, keepdim=True)
    t_t = pos.T.float() / pos.T.sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits[has], t_i) + F.cross_entropy(logits.T, t_t))


def self_inverse_mask(labels: list[str]) -> torch.Tensor:
    """True where a family's reverse is an edit of the same family."""
    return torch.tensor([lab in SELF_INVERSE for lab in labels])


def reversed_rows(x: torch.Tensor, labels: torch.Tensor, self_inverse: torch.Tensor, share: float):
    """The first `share` of a batch's pairs as (after, before), and their labels: their own where the family is
    its own inverse, else -1 (no text matches them)."""
    k = int(round(share * len(x)))
    rev = torch.cat([x[:k, 3:], x[:k, :3]], dim=1)
    return rev, torch.where(self_inverse[:k], labels[:k], -1)


def pair_contrastive(img: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Supervised contrastive loss among pairs: same-label pairs attract, others repel (self excluded)."""
    n = img.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=img.device)
    logits = (scale * img @ img.T).masked_fill(eye, float("-inf"))
    pos = (labels[:, None] == labels[None, :]) & ~eye
    has = pos.any(1)
    if not has.any():
        return img.sum() * 0
    logp = F.log_softmax(logits, dim=1).masked_fill(~pos, 0.0)
    return -(logp.sum(1)[has] / pos.sum(1)[has]).mean()


@dataclass
class _Run:
    """The live parts of one EditCLIP run."""

    acc: Any
    model: Any
    core: Any
    optimizer: Any
    scheduler: Any
    pool: Any
    labels: torch.Tensor
    self_inverse: torch.Tensor  # [pool] bool: the pair reversed is an edit of its own family
    eval_set: Any


def _prepare(cfg: EditCLIPTrainConfig) -> _Run:
    """Model, optimizer, schedule and pair pool of a run, prepared by accelerate."""
    from accelerate import Accelerator

    from editsearch.evaluation.retrieval import synthetic_eval_set
    from editsearch.training.pairs import pair_pool

    acc = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum,
        mixed_precision="bf16" if torch.cuda.is_available() else "no",
    )
    torch.manual_seed(cfg.seed)
    model, fresh = build_model(cfg.init, cfg.pair_fusion)
    model.config.name = cfg.name
    model.logit_scale.requires_grad_(fresh)  # frozen at the pretrained value for CLIP towers
    conv1_lr = cfg.conv1_lr if cfg.conv1_lr is not None else (cfg.lr if fresh else 2e-4)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.lr, conv1_lr, cfg.weight_decay), betas=(0.9, 0.98), eps=1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_multiplier(s, cfg.warmup, cfg.steps))
    pool = pair_pool(cfg.sources, cfg.pool, cfg.seed, cfg.pool_size, cfg.workers, cfg.columns, cfg.variety)
    label_ids = {lab: i for i, lab in enumerate(sorted(set(pool.labels)))}
    labels = torch.tensor([label_ids[lab] for lab in pool.labels])
    model, optimizer, scheduler = acc.prepare(model, optimizer, scheduler)
    eval_set = synthetic_eval_set(per_family=3, size=cfg.pool_size) if not cfg.sources else None
    self_inverse = self_inverse_mask(pool.labels)
    return _Run(acc, model, acc.unwrap_model(model), optimizer, scheduler, pool, labels, self_inverse, eval_set)


def _train_step(run: _Run, cfg: EditCLIPTrainConfig, step: int) -> torch.Tensor:
    """One (micro-)batch: CLIP loss (+ the pair term) on augmented pool pairs and their sampled texts."""
    from editsearch.training.pairs import augment, sample_texts

    acc, model, core, pool, labels = run.acc, run.model, run.core, run.pool, run.labels
    size, mean, std = core.config.image_size, core.config.image_mean, core.config.image_std
    gen = torch.Generator().manual_seed(stream_seed(cfg.seed, "editclip-batch", step, acc.process_index))
    rng = stream(cfg.seed, "editclip-texts", step, acc.process_index)
    with acc.accumulate(model):
        idx = torch.randint(0, len(pool), (cfg.batch_size,), generator=gen)
        x = augment(pool.pixels[idx], size, mean, std, gen).to(acc.device)
        texts = sample_texts(pool, idx, rng, varied=cfg.phrasings == "varied")
        uniq = list(dict.fromkeys(texts))
        txt = core.embed_texts(uniq).to(acc.device)
        text_label = torch.tensor([labels[idx[texts.index(t)]] for t in uniq])
        rev, rev_labels = reversed_rows(x, labels[idx], run.self_inverse[idx], cfg.hard_reversed)
        pos = (torch.cat([labels[idx], rev_labels])[:, None] == text_label[None, :]).to(acc.device)
        img = F.normalize(model(torch.cat([x, rev])).float(), dim=-1)
        scale = core.logit_scale.exp().clamp(max=100)
        loss = clip_loss(img, txt, pos, scale)
        if cfg.pair_loss > 0:
            loss = loss + cfg.pair_loss * pair_contrastive(img[: len(x)], labels[idx].to(acc.device), scale)
        acc.backward(loss)
        if acc.sync_gradients:
            acc.clip_grad_norm_(model.parameters(), 1.0)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad()
    with torch.no_grad():
        core.logit_scale.clamp_(max=math.log(100))
    return loss


def _evaluate(run: _Run, out: Path, step: int, loss: float) -> dict[str, Any]:
    """Held-out retrieval metrics at `step`, printed and appended to OUT/history.jsonl as they happen."""
    from editsearch.evaluation.retrieval import evaluate_model

    run.model.eval()
    metrics = evaluate_model(run.core, run.eval_set)
    run.model.train()
    row = {"step": step, "loss": loss, **_flat(metrics)}
    run.acc.print(json.dumps(row), flush=True)
    append_record(out / "history.jsonl", row)  # as it happens: a killed run keeps its curve
    return row


def train(cfg: EditCLIPTrainConfig) -> dict[str, Any]:
    """Run (or resume) a training run; returns the final metrics. Writes OUT/model (our format)."""
    from tqdm import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    run = _prepare(cfg)
    acc = run.acc
    step = 0
    if (latest := latest_checkpoint(out)) is not None:
        step, ckpt = latest
        acc.load_state(str(ckpt))
        acc.print(f"resumed from {ckpt} at step {step}")
    write_atomic(out / "train_config.json", json.dumps(asdict(cfg), indent=2))
    history: list[dict[str, Any]] = []
    bar = tqdm(total=cfg.steps, initial=step, desc="train editclip", unit="step", disable=not acc.is_main_process)
    t0, seen = time.perf_counter(), 0
    run.model.train()
    while step < cfg.steps:
        loss = _train_step(run, cfg, step)
        if not acc.sync_gradients:
            continue
        step += 1
        seen += cfg.batch_size * cfg.grad_accum
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", pairs_s=f"{seen / (time.perf_counter() - t0):.0f}")
        if run.eval_set is not None and (step % cfg.eval_every == 0 or step == cfg.steps) and acc.is_main_process:
            history.append(_evaluate(run, out, step, loss.item()))
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save_checkpoint(acc, out, step, cfg.keep_checkpoints)
    bar.close()
    if acc.is_main_process:
        run.core.config.trained = True
        run.core.eval().save_pretrained(out / "model")
    return history[-1] if history else {}


def _flat(metrics: dict[str, Any]) -> dict[str, float]:
    return {f"{task}/{k}": round(v, 4) for task, m in metrics.items() for k, v in m.items() if isinstance(v, float)}


def main(argv: list[str] | None = None) -> None:
    """Entry point for `accelerate launch -m editsearch.training.train_editclip --out DIR ...`."""
    import argparse

    ap = argparse.ArgumentParser(description="Train EditCLIP.")
    ap.add_argument("--data", dest="sources", action="append", default=[], metavar="SOURCE", help="repeatable")
    for field in fields(EditCLIPTrainConfig):
        if field.name == "sources":
            continue
        default = None if field.default is MISSING else field.default
        spec = field.metadata.get(OPTION, {})
        kind = type(default) if default is not None else spec.get("type", str)
        name = f"--{field.name.replace('_', '-')}"
        ap.add_argument(name, type=kind, default=default, choices=spec.get("choices"), required=field.name == "out")
    args = vars(ap.parse_args(argv))
    train(EditCLIPTrainConfig(**{**args, "sources": data_sources(args["sources"])}))


if __name__ == "__main__":
    main()
