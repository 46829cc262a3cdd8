"""Short VAE training for the tiny IP2P (a random VAE cannot reconstruct): MSE + tiny KL, PSNR reported."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from editsearch.core.files import write_atomic
from editsearch.evaluation.transfer import psnr_from_mse
from editsearch.training.pairs import PairSampler, StepBatches, step_loader
from editsearch.training.recipes import VAETrainConfig
from editsearch.training.run_log import append_record


def vae_loss(vae: Any, images: torch.Tensor, kl_weight: float) -> dict[str, torch.Tensor]:
    """Reconstruction MSE (images in [-1, 1]) + kl_weight * KL; returns loss, mse, kl."""
    posterior = vae.encode(images).latent_dist
    recon = vae.decode(posterior.sample()).sample
    mse = F.mse_loss(recon.float(), images.float())
    kl = posterior.kl().mean()
    return {"loss": mse + kl_weight * kl, "mse": mse.detach(), "kl": kl.detach()}


@torch.no_grad()
def evaluate_vae(vae: Any, images: torch.Tensor) -> dict[str, float]:
    """Held-out reconstruction PSNR (posterior mode) and the latent std used for the scaling factor."""
    was_training = vae.training
    vae.eval()
    latents = vae.encode(images).latent_dist.mode()
    recon = vae.decode(latents).sample.clamp(-1, 1)
    vae.train(was_training)
    return {"psnr": psnr_from_mse(F.mse_loss(recon, images).item(), peak=2.0), "latent_std": latents.std().item()}


def heldout_images(size: int, count: int, seed: int) -> torch.Tensor:
    """Before and after images of `count` held-out (test split) synthetic pairs, [2*count, 3, size, size]."""
    batch = StepBatches(PairSampler(size=size, seed=seed + 1, split="test"), count, 1)[0]
    return torch.cat([batch["before"], batch["after"]])


def train_vae(vae: Any, sampler: PairSampler, config: VAETrainConfig, out: Path | None = None) -> dict[str, Any]:
    """Train `vae` in place; set its scaling_factor to 1/std of held-out latents; optionally save it to `out`."""
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    device = next(vae.parameters()).device
    heldout = heldout_images(sampler.size, config.eval_pairs, config.seed).to(device)
    before = evaluate_vae(vae, heldout)
    optimizer = torch.optim.Adam(vae.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps, config.lr * config.min_lr_ratio)
    vae.train()
    bar = tqdm(total=config.steps, desc="vae", unit="step", file=sys.stderr, disable=None)
    history = []
    for step, batch in enumerate(step_loader(StepBatches(sampler, config.batch_size, config.steps), 0)):
        images = torch.cat([batch["before"], batch["after"]]).to(device)
        losses = vae_loss(vae, images, config.kl_weight)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        bar.update(1)
        bar.set_postfix(mse=f"{losses['mse'].item():.4f}", psnr=f"{psnr_from_mse(losses['mse'].item(), peak=2.0):.1f}")
        if step % config.log_every == 0 or step == config.steps - 1:
            history.append({"step": step + 1, "mse": losses["mse"].item(), "kl": losses["kl"].item()})
            if out is not None:
                Path(out).mkdir(parents=True, exist_ok=True)
                append_record(Path(out) / "train_log.jsonl", history[-1])
    bar.close()
    vae.eval()
    after = evaluate_vae(vae, heldout)
    vae.register_to_config(scaling_factor=1.0 / max(after["latent_std"], 1e-6))
    summary = {
        "config": asdict(config),
        "heldout_psnr_before": before["psnr"],
        "heldout_psnr": after["psnr"],
        "scaling_factor": vae.config.scaling_factor,
        "history": history,
    }
    if out is not None:
        out = Path(out)
        vae.save_pretrained(out)
        write_atomic(out / "training.json", json.dumps(summary, indent=2) + "\n")
    return summary
