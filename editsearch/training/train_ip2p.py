"""Fine-tune an EditCLIP-conditioned InstructPix2Pix with accelerate: UNet + projector trained, EditCLIP and VAE frozen.

Loss = noise MSE + lpips_weight * LPIPS(VAE-decode of the one-step x0 estimate, the *input* image), as in the
official EditCLIP-IP2P recipe, with the diffusers IP2P conditioning dropout (edit -> zeros, image -> zero latents).
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from editsearch.core.errors import IncompatibleModelError, MissingDependencyError, UsageError
from editsearch.core.files import write_atomic
from editsearch.core.hub import hub_offline
from editsearch.training.ip2p_features import FeatureCache, frozen_features
from editsearch.training.pairs import PairSampler, StepBatches, step_loader
from editsearch.training.recipes import IP2PTrainConfig, VAETrainConfig
from editsearch.training.run_log import append_record
from editsearch.training.run_state import latest_checkpoint, save_checkpoint

LOG_NAME = "train_log.jsonl"
CONFIG_NAME = "train_config.json"
VAE_PRETRAIN = "vae-pretrain"
LPIPS_BACKBONES = {"vgg": "VGG16_Weights", "alex": "AlexNet_Weights", "squeeze": "SqueezeNet1_1_Weights"}


class LPIPSWeightsMissing(MissingDependencyError):
    """The LPIPS backbone's torchvision weights are neither cached nor downloadable."""


@dataclass
class IP2PParts:
    """The models of one training run."""

    unet: Any
    vae: Any
    projector: Any
    editclip: Any
    noise_scheduler: Any  # DDPM, for add_noise / alphas
    scheduler: Any  # the inference scheduler written with the pipeline


# ----- loss ----------------------------------------------------------------------------------------
def _draw(
    kind: str, shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None, high: int = 0
) -> torch.Tensor:
    """randn / rand / randint from `generator` (global RNG if None), on `device`."""
    gen_device = generator.device if generator is not None else device
    if kind == "randint":
        return torch.randint(0, high, shape, generator=generator, device=gen_device).to(device)
    fn = torch.randn if kind == "randn" else torch.rand
    return fn(shape, generator=generator, device=gen_device).to(device)


def predicted_x0(noise_scheduler: Any, noisy: torch.Tensor, pred: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The one-step estimate of the clean latents from the UNet's prediction at timestep t."""
    ab = noise_scheduler.alphas_cumprod.to(noisy.device)[t].view(-1, 1, 1, 1).to(pred.dtype)
    kind = noise_scheduler.config.prediction_type
    if kind == "epsilon":
        return (noisy - (1 - ab).sqrt() * pred) / ab.sqrt()
    if kind == "v_prediction":
        return ab.sqrt() * noisy - (1 - ab).sqrt() * pred
    return pred


def ip2p_loss(
    parts: IP2PParts,
    features: dict[str, torch.Tensor],
    lpips_model: Any = None,
    lpips_weight: float = 0.05,
    dropout: float = 0.05,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One batch's loss: {'loss', 'mse', 'lpips'}, from the batch's `frozen_features` (computed now or cached)."""
    vae, sched = parts.vae, parts.noise_scheduler
    mean, tokens = features["after_mean"], features["tokens"]
    bsz, device = mean.shape[0], mean.device
    eps = _draw("randn", tuple(mean.shape), device, generator).to(mean.dtype)
    latents = (mean + features["after_std"] * eps) * vae.config.scaling_factor
    image_latents = features["image_latents"]
    cond = parts.projector(tokens.float())
    noise = _draw("randn", tuple(latents.shape), device, generator).to(latents.dtype)
    t = _draw("randint", (bsz,), device, generator, high=sched.config.num_train_timesteps).long()
    noisy = sched.add_noise(latents, noise, t)
    if dropout > 0:  # diffusers' IP2P recipe: p < 2d drops the edit, d <= p < 3d drops the image
        p = _draw("rand", (bsz,), device, generator)
        cond = torch.where((p < 2 * dropout).view(-1, 1, 1), torch.zeros_like(cond), cond)
        keep_image = 1 - ((p >= dropout) & (p < 3 * dropout)).to(image_latents.dtype)
        image_latents = image_latents * keep_image.view(-1, 1, 1, 1)
    unet_dtype = next(parts.unet.parameters()).dtype
    pred = parts.unet(torch.cat([noisy, image_latents], dim=1).to(unet_dtype), t, cond.to(unet_dtype)).sample
    if sched.config.prediction_type == "epsilon":
        target = noise
    elif sched.config.prediction_type == "v_prediction":
        target = sched.get_velocity(latents, noise, t)
    else:
        target = latents
    mse = F.mse_loss(pred.float(), target.float())
    loss, lp = mse, torch.zeros((), device=device)
    if lpips_model is not None and lpips_weight > 0:
        x0 = predicted_x0(sched, noisy, pred, t) / vae.config.scaling_factor
        decoded = vae.decode(x0.to(vae.dtype)).sample
        lp = lpips_model(decoded.float(), features["before"].float()).mean()
        if torch.isfinite(lp):  # far-off x0 estimates at large t can overflow; the official code skips those too
            loss = mse + lpips_weight * lp
    return {"loss": loss, "mse": mse.detach(), "lpips": lp.detach()}


# ----- LPIPS ---------------------------------------------------------------------------------------
def load_lpips(net: str = "vgg", pretrained: bool = True, device: torch.device | str = "cpu") -> Any:
    """A frozen LPIPS; LPIPSWeightsMissing (with the fix) when its torchvision backbone cannot be had."""
    import lpips
    import torchvision

    if net not in LPIPS_BACKBONES:
        raise UsageError(f"LPIPS net must be one of {', '.join(LPIPS_BACKBONES)}, got {net!r}")
    file = Path(getattr(torchvision.models, LPIPS_BACKBONES[net]).IMAGENET1K_V1.url).name
    cached = Path(torch.hub.get_dir()) / "checkpoints" / file
    missing = LPIPSWeightsMissing(
        f"LPIPS weights are missing: the LPIPS loss needs torchvision's {net} ImageNet backbone ({file}) in "
        f"{cached.parent}, and it cannot be downloaded here. Copy that file there, or train without the LPIPS "
        "term: --lpips-weight 0."
    )
    if pretrained and hub_offline() and not cached.is_file():
        raise missing
    try:
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)  # a random backbone (tests) is the same in every run
            model = lpips.LPIPS(net=net, pnet_rand=not pretrained, verbose=False)
    except (OSError, RuntimeError):  # URLError is an OSError
        raise missing from None
    return model.eval().requires_grad_(False).to(device)


# ----- models --------------------------------------------------------------------------------------
def init_parts(config: IP2PTrainConfig, editclip: Any, log: Any = print) -> IP2PParts:
    """Fresh tiny/test models (training the VAE first if none is given) or an IP2P folder's, plus a projector."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    from editsearch.transfer.architectures import UNET_CONFIGS, build_unet
    from editsearch.transfer.pipeline import euler_ancestral, load_scheduler
    from editsearch.transfer.pipeline_names import resolve_pipeline
    from editsearch.transfer.projector import OFFICIAL_WEIGHTS, EditProjector

    projector = None
    if config.init in UNET_CONFIGS:
        unet = build_unet(config.init, seed=config.seed)
        vae = _new_model_vae(config, editclip.device, log)
        unet.register_to_config(sample_size=config.size // 2 ** (len(vae.config.block_out_channels) - 1))
        scheduler = euler_ancestral()
    else:
        folder = resolve_pipeline(config.init)
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
        vae = AutoencoderKL.from_pretrained(config.vae or folder, subfolder=None if config.vae else "vae")
        scheduler = euler_ancestral(load_scheduler(folder))
        if (folder / OFFICIAL_WEIGHTS).is_file():
            projector = EditProjector.from_pretrained(folder / OFFICIAL_WEIGHTS)
            if projector.vision_width != editclip.vision_width:
                log(
                    f"the folder's projector takes width {projector.vision_width}, EditCLIP gives "
                    f"{editclip.vision_width}: starting a fresh projector"
                )
                projector = None
    if unet.config.in_channels != 8:
        raise IncompatibleModelError(
            f"{config.init} is not an InstructPix2Pix UNet (in_channels {unet.config.in_channels}, not 8)"
        )
    if projector is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            projector = EditProjector(editclip.vision_width, unet.config.cross_attention_dim)
    if config.zero_snr:  # else a model trained with SD's schedule leans on the signal left at t=T and, sampled
        # from pure noise, gets its colours wrong; written into the pipeline's scheduler, so inference matches
        scheduler = type(scheduler).from_config(
            scheduler.config, rescale_betas_zero_snr=True, prediction_type="v_prediction", timestep_spacing="trailing"
        )
    noise_scheduler = DDPMScheduler.from_config(scheduler.config)
    return IP2PParts(unet, vae, projector, editclip, noise_scheduler, scheduler)


def _new_model_vae(config: IP2PTrainConfig, device: torch.device, log: Any) -> Any:
    """The VAE of a fresh tiny/test model: --vae, else one trained first on the same data (a random VAE cannot
    reconstruct), saved to OUT/vae-pretrain and reused from there when the run resumes."""
    from diffusers import AutoencoderKL

    from editsearch.training.train_vae import train_vae
    from editsearch.transfer.architectures import build_vae

    if config.vae:
        return AutoencoderKL.from_pretrained(config.vae)
    saved = Path(config.out) / VAE_PRETRAIN
    if (saved / "config.json").is_file():
        log(f"using the VAE trained earlier in {saved}")
        return AutoencoderKL.from_pretrained(saved)
    vae = build_vae(config.init, seed=config.seed)
    if config.vae_steps > 0:
        sampler = PairSampler(config.sources, config.size, config.seed + 1, columns=config.columns)
        vae_config = VAETrainConfig(steps=config.vae_steps, seed=config.seed)
        summary = train_vae(vae.to(device), sampler, vae_config, out=saved)
        log(f"VAE trained {config.vae_steps} steps: held-out PSNR {summary['heldout_psnr']:.2f} dB")
    return vae


# ----- training ------------------------------------------------------------------------------------
def _optimise(parts: IP2PParts, config: IP2PTrainConfig, accelerator: Any) -> tuple[IP2PParts, list, Any, Any]:
    """Freeze the VAE and EditCLIP; (parts with the prepared UNet and projector, trained params, optimizer, lr)."""
    from diffusers.optimization import get_scheduler

    device = accelerator.device
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    _move(parts.vae.requires_grad_(False).eval(), device, weight_dtype)
    parts.editclip.to(device, weight_dtype)
    parts.unet.train()
    parts.projector.train().requires_grad_(True)
    params = [*parts.unet.parameters(), *parts.projector.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = get_scheduler(
        config.lr_schedule, optimizer, num_warmup_steps=config.lr_warmup, num_training_steps=config.steps
    )
    unet, projector, optimizer, lr_scheduler = accelerator.prepare(parts.unet, parts.projector, optimizer, lr_scheduler)
    return replace(parts, unet=unet, projector=projector), params, optimizer, lr_scheduler


def _batches(config: IP2PTrainConfig, parts: IP2PParts, accelerator: Any, start: int) -> tuple[PairSampler, Any]:
    """(sampler, loader of steps start..): fresh pairs each step, or the frozen features of a cached pair set."""
    sampler = PairSampler(config.sources, config.size, config.seed, columns=config.columns)
    batches = StepBatches(
        sampler,
        config.batch_size,
        config.steps,
        parts.editclip.pair_transform,
        accelerator.process_index,
        accelerator.num_processes,
    )
    if config.cache > 0:  # EditCLIP and the VAE are frozen: their outputs for a fixed pair set can be reused
        cache = FeatureCache.build(
            batches, config.cache, parts.vae, parts.editclip, accelerator.device, config.workers, seed=config.seed
        )
        return sampler, step_loader(cache, start)
    return sampler, step_loader(batches, start, config.workers)


def _save_pipeline(accelerator: Any, trained: IP2PParts, parts: IP2PParts, config: IP2PTrainConfig) -> None:
    """Write the trained pipeline (float32, on the CPU) to OUT, and to --export when given."""
    from editsearch.transfer.pipeline import EditTransfer

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unet = _move(accelerator.unwrap_model(trained.unet), "cpu", torch.float32).eval()
        projector = accelerator.unwrap_model(trained.projector).to("cpu", torch.float32)
        vae = _move(parts.vae, "cpu", torch.float32)
        parts.editclip.to("cpu", torch.float32)
        final = EditTransfer.from_components(unet, vae, projector, parts.editclip, parts.scheduler)
        for folder in (Path(config.out), config.export):
            if folder:
                final.save_pretrained(folder)


def train_ip2p(config: IP2PTrainConfig, log: Any = None) -> dict[str, Any]:
    """Train, checkpoint (resumable: models, optimizer, step, RNG), and write the pipeline to config.out."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm import tqdm

    from editsearch.encoder import load_model

    log = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    device = accelerator.device
    lpips_model = load_lpips(config.lpips_net, config.lpips_pretrained, device) if config.lpips_weight > 0 else None
    set_seed(config.seed)
    _check_config(out, config, log)
    editclip = load_model(config.editclip, device=device).requires_grad_(False).eval()
    parts = init_parts(config, editclip, log)
    train_parts, params, optimizer, lr_scheduler = _optimise(parts, config, accelerator)

    set_seed(config.seed)  # the run's randomness starts here, however the VAE was obtained
    start = 0
    latest = latest_checkpoint(out) if config.resume else None
    if latest is not None:
        start, checkpoint = latest
        accelerator.load_state(str(checkpoint))
        log(f"resumed from {checkpoint} (step {start})")
    sampler, loader = _batches(config, parts, accelerator, start)
    bar = tqdm(
        total=config.steps,
        initial=start,
        desc="ip2p",
        unit="step",
        file=sys.stderr,
        disable=None if accelerator.is_local_main_process else True,
    )
    losses: dict[str, torch.Tensor] = {}
    first_loss = None
    for step, batch in zip(range(start, config.steps), loader, strict=True):
        batch = {k: v.to(device) for k, v in batch.items()}
        with accelerator.autocast():
            features = batch if config.cache > 0 else frozen_features(parts.vae, editclip, batch)
            losses = ip2p_loss(train_parts, features, lpips_model, config.lpips_weight, config.dropout)
        accelerator.backward(losses["loss"])
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        row = {k: round(v.item(), 6) for k, v in losses.items()}
        first_loss = first_loss if first_loss is not None else row["loss"]
        bar.update(1)
        bar.set_postfix(loss=f"{row['loss']:.4f}", mse=f"{row['mse']:.4f}", lpips=f"{row['lpips']:.3f}")
        if accelerator.is_main_process and (step % config.log_every == 0 or step == config.steps - 1):
            append_record(out / LOG_NAME, {"step": step + 1, **row, "lr": lr_scheduler.get_last_lr()[0]})
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            save_checkpoint(accelerator, out, step + 1, config.keep_checkpoints)
    bar.close()
    _save_pipeline(accelerator, train_parts, parts, config)
    return {
        "out": str(out),
        "steps": config.steps,
        "resumed_from": start,
        "first_loss": first_loss,
        "last": {k: v.item() for k, v in losses.items()},
        "editclip": editclip.name,
        "synthetic": sampler.synthetic,
    }


def _move(model: Any, device: torch.device | str, dtype: torch.dtype) -> Any:
    """model.to(device, dtype), casting only when the dtype differs (diffusers warns on every cast)."""
    model.to(device)
    return model.to(dtype) if model.dtype != dtype else model


def _check_config(out: Path, config: IP2PTrainConfig, log: Any) -> None:
    """Record the run's config; on resume, say which settings changed (steps may grow)."""
    path = out / CONFIG_NAME
    current = json.loads(json.dumps(asdict(config)))
    if path.is_file() and config.resume:
        before = json.loads(path.read_text())
        changed = [k for k in current if k not in ("steps", "resume", "export") and before.get(k) != current[k]]
        if changed and latest_checkpoint(out) is not None:
            log(f"warning: resuming with changed settings: {', '.join(changed)}")
    write_atomic(path, json.dumps(current, indent=2) + "\n")
