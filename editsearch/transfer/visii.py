"""Visual instruction inversion (VISII, Nguyen et al. 2023): learn an instruction from exemplar pairs, then apply it.

The instruction is the conditioning of a frozen InstructPix2Pix; nothing else is trained. With a stock
text-conditioned IP2P (`Visii`) it is `<ins>`: the token embeddings between SOT and EOT of a prompt fed through
the pipeline's own CLIP text encoder. (With an EditCLIP-conditioned IP2P, `visii_editclip.EditVisii`, it is the
projected EditCLIP token sequence itself.) Each step draws a timestep t and noise, noises the "after" latents,
and asks the UNet (conditioned on the "before" latents and on the instruction) for its prediction (the noise,
or v for a v-prediction model). The loss is the paper's:

    lambda_mse * ||eps - eps_hat||^2 + lambda_clip * (1 - cos(c_T, Delta))

with Delta the CLIP image-embedding difference after - before (its mean over pairs for n pairs, one pair
sampled per step), and c_T the CLIP text embedding of the learned instruction: CLIP's text projection of the
prompt embeddings' mean over tokens, as the authors' implementation computes it. A loss or an instruction
that is not finite stops the run (`InversionDivergedError`): nothing non-finite is returned or kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from editsearch.core.errors import GenerationError, IncompatibleModelError, UsageError
from editsearch.media.images import ImageLike, load_image
from editsearch.transfer.geometry import PipelineGeometry
from editsearch.transfer.text_pipelines import (
    DEFAULT_CLIP,
    DEFAULT_IP2P,
    IP2P_KIND,
    clip_image_embeds,
    image_latents,
    load_clip,
    load_text_pipeline,
    resolve_clip,
    resolve_text_pipeline,
)
from editsearch.transfer.visii_prompts import PromptEncoder

DEFAULT_TOKENS = 10  # <ins> length without an initial text: the paper's caption length
VISII_GUIDANCE = 7.5  # the paper's text guidance (image guidance 1.5, as IP2P's default)
VISII_IMAGE_GUIDANCE = 1.5
Pair = tuple[Image.Image, Image.Image]


class InversionDivergedError(GenerationError):
    """An inversion whose loss or learned instruction stopped being finite; the message says what to lower."""


@dataclass(frozen=True)
class InversionSettings:
    """How an instruction is learned (the paper's defaults); its `key` names a learned instruction for reuse."""

    steps: int = 1000
    lr: float = 1e-3
    lambda_mse: float = 4.0
    lambda_clip: float = 0.1
    init_text: str | None = None
    tokens: int = DEFAULT_TOKENS
    size: int | None = None
    seed: int = 0
    clip: str = DEFAULT_CLIP

    def check(self) -> None:
        """UsageError for settings no inversion can use."""
        for name in ("steps", "tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"VISII {name} must be an integer >= 1, got {value!r}")
        for name in ("lr", "lambda_mse", "lambda_clip"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise UsageError(f"VISII {name} must be a finite number >= 0, got {value!r}")
        if self.size is not None and self.size < 8:
            raise UsageError(f"size must be an integer >= 8, got {self.size!r}")

    def key(self, extra: dict[str, Any] | None = None) -> str:
        """A canonical JSON text of the settings (and `extra`, e.g. which exemplar pairs were used)."""
        return json.dumps({**asdict(self), **(extra or {})}, sort_keys=True)


@dataclass
class LearnedInstruction:
    """A learned `<ins>`: its token embeddings [n, width] (float32, CPU) and how it was made."""

    embeddings: torch.Tensor
    settings: InversionSettings
    pairs: int = 1
    loss: float | None = None
    seconds: float = 0.0
    reused: bool = False
    history: list[float] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """How many instruction tokens were learned."""
        return int(self.embeddings.shape[0])


def tensor_digest(h: Any, label: str, module: torch.nn.Module) -> None:
    """Feed a module's weights (names, dtypes and bytes, in name order) into a hashlib object."""
    for key, tensor in sorted(module.state_dict().items()):
        h.update(f"{label}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        h.update(tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())


def pairs_digest(pairs: Sequence[Pair]) -> str:
    """sha256 of the decoded exemplar images (mode, size and pixels, in order): what an instruction was learned from."""
    h = hashlib.sha256()
    for image in (img for pair in pairs for img in pair):
        h.update(f"{image.mode}:{image.size}".encode())
        h.update(image.tobytes())
    return h.hexdigest()


class VisiiBase(PipelineGeometry):
    """A frozen InstructPix2Pix whose conditioning is learned from exemplar pairs, then applied to new images.

    Subclasses say what the conditioning is: where it starts (`initial`), how a learned one conditions the UNet
    (`condition`, `unconditional`), which weights shape it (`frozen_parts`), and what the CLIP term is, if any.
    """

    name: str = ""
    clip_name: str = ""
    takes_text = False  # whether a text (the hybrid instruction, an initial text) can join the learned tokens

    def settings(self, **given: Any) -> InversionSettings:
        """The inversion settings for this pipeline: the options given, the rest at their defaults."""
        raise NotImplementedError

    def initial(self, pairs: Sequence[Pair], settings: InversionSettings) -> torch.Tensor:
        """Where the learned tokens [n, width] start."""
        raise NotImplementedError

    def condition(self, learned: torch.Tensor, text: str | None = None) -> torch.Tensor:
        """The UNet's conditioning [1, L, D] from learned tokens (gradients flow to them)."""
        raise NotImplementedError

    def unconditional(self, cond: torch.Tensor) -> torch.Tensor:
        """The unconditional branch's conditioning for classifier-free guidance."""
        raise NotImplementedError

    def frozen_parts(self) -> list[tuple[str, torch.nn.Module | str]]:
        """The modules (or their fingerprints) whose weights shape what is learned."""
        raise NotImplementedError

    def clip_term(self, pairs: Sequence[Pair]) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """1 - cos(c_T, Delta) as a function of the conditioning, or None where the pipeline has no CLIP term."""
        return None

    def refuse_text(self, text: str | None) -> None:
        """UsageError for a hybrid text given to a pipeline without a text encoder."""
        if text and not self.takes_text:
            raise UsageError(
                f"--text (the hybrid instruction) needs a text-conditioned InstructPix2Pix (--model, e.g. "
                f"{DEFAULT_IP2P}); {self.name} is EditCLIP-conditioned"
            )

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the pipeline's frozen weights and noise schedule: a learned instruction is reused only with it."""
        config = {k: v for k, v in dict(self.pipe.scheduler.config).items() if not k.startswith("_")}
        h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
        for label, part in self.frozen_parts():
            if isinstance(part, str):
                h.update(f"{label}:{part}".encode())
            else:
                tensor_digest(h, label, part)
        return h.hexdigest()

    def invert(
        self,
        pairs: Sequence[Pair],
        settings: InversionSettings | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> LearnedInstruction:
        """Learn the instruction from one or more (before, after) pairs (AdamW on its token embeddings only).

        InversionDivergedError when the loss or the learned tokens stop being finite.
        """
        settings = settings or self.settings()
        settings.check()
        if not pairs:
            raise UsageError("VISII needs at least one exemplar pair")
        started = time.perf_counter()
        side = settings.size or self.resolution
        vae, unet, scheduler = self.pipe.vae, self.pipe.unet, self.pipe.scheduler
        befores = [image_latents(vae, [b], (side, side)) for b, _ in pairs]
        afters = [image_latents(vae, [a], (side, side)) * vae.config.scaling_factor for _, a in pairs]
        clip_term = self.clip_term(pairs) if settings.lambda_clip else None
        learned = torch.nn.Parameter(self.initial(pairs, settings).to(self.device))
        optimizer = torch.optim.AdamW([learned], lr=settings.lr)
        generator = torch.Generator().manual_seed(settings.seed)
        history: list[float] = []
        for step in range(settings.steps):
            noise = torch.randn(afters[0].shape, generator=generator).to(self.device, afters[0].dtype)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=generator).to(self.device)
            which = int(torch.randint(0, len(pairs), (1,), generator=generator)) if len(pairs) > 1 else 0
            with torch.enable_grad():
                embeds = self.condition(learned)
                model_in = torch.cat([self._noised(afters[which], noise, t), befores[which]], dim=1)
                pred = unet(model_in, t, encoder_hidden_states=embeds).sample
                loss = settings.lambda_mse * F.mse_loss(pred.float(), self._target(afters[which], noise, t).float())
                if clip_term is not None:
                    loss = loss + settings.lambda_clip * clip_term(embeds)
                history.append(self._finite(float(loss.detach()), step + 1, settings))
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
            if progress is not None:
                progress(step + 1, history[-1])
        if not bool(torch.isfinite(learned).all()):
            self._finite(math.nan, settings.steps, settings, "the learned instruction")
        seconds = round(time.perf_counter() - started, 3)
        return LearnedInstruction(
            learned.detach().float().cpu(), settings, len(pairs), history[-1], seconds, history=history
        )

    @staticmethod
    def _finite(value: float, step: int, settings: InversionSettings, what: str = "the loss") -> float:
        """`value` when finite; else InversionDivergedError saying which settings to lower."""
        if math.isfinite(value):
            return value
        raise InversionDivergedError(
            f"VISII diverged: {what} is {value} at step {step} of {settings.steps} (lr {settings.lr}, lambda_mse "
            f"{settings.lambda_mse}, lambda_clip {settings.lambda_clip}); nothing was kept. Lower --lr, "
            "--lambda-mse or --lambda-clip"
        )

    def _noised(self, latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """z_t: the latents noised to timestep t with the training schedule (DDPM's forward process)."""
        alphas = self.pipe.scheduler.alphas_cumprod.to(latents.device, torch.float32)[t].view(-1, 1, 1, 1)
        return (alphas.sqrt() * latents + (1 - alphas).sqrt() * noise).to(latents.dtype)

    def _target(self, latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the UNet predicts at t: the noise, v (a v-prediction model) or the clean latents."""
        kind = self.pipe.scheduler.config.prediction_type
        if kind == "epsilon":
            return noise
        if kind == "v_prediction":
            alphas = self.pipe.scheduler.alphas_cumprod.to(latents.device, torch.float32)[t].view(-1, 1, 1, 1)
            return alphas.sqrt() * noise - (1 - alphas).sqrt() * latents
        return latents

    def apply(
        self,
        instruction: LearnedInstruction,
        images: Sequence[ImageLike],
        *,
        text: str | None = None,
        steps: int = 50,
        seed: int = 0,
        guidance: float = VISII_GUIDANCE,
        image_guidance: float = VISII_IMAGE_GUIDANCE,
        size: int | None = None,
        reuse_noise: bool = False,
    ) -> list[Image.Image]:
        """Edit each image with the learned instruction (+ `text`: the paper's hybrid instruction).

        `reuse_noise` samples with the inversion's own noise stream (its seed) instead of `seed`: the paper
        found reusing the training noise at test time balances the edit against faithfulness to the input.
        """
        from editsearch.transfer.pipeline import check_settings

        check_settings(steps, guidance, image_guidance, size, 1, seed)
        with torch.no_grad():
            cond = self.condition(instruction.embeddings, text)
            uncond = self.unconditional(cond)
        side = size or instruction.settings.size or self.resolution
        noise_seed = instruction.settings.seed if reuse_noise else seed
        out = []
        for image in images:
            pil = load_image(image)
            result = self.pipe(
                image=pil.resize(self.working_size(*pil.size, size=side), Image.BICUBIC),
                prompt_embeds=cond,
                negative_prompt_embeds=uncond,
                num_inference_steps=steps,
                guidance_scale=guidance,
                image_guidance_scale=image_guidance,
                generator=torch.Generator().manual_seed(noise_seed),
                output_type="pil",
            )
            out.append(result.images[0])
        return out


class Visii(VisiiBase):
    """A frozen text-conditioned InstructPix2Pix and a CLIP: invert exemplar pairs into `<ins>`, apply them."""

    takes_text = True

    def __init__(self, pipe: Any, clip: Any, name: str = "", clip_name: str = "") -> None:
        width = int(pipe.text_encoder.config.hidden_size)
        if int(clip.config.text_config.hidden_size) != width:
            raise IncompatibleModelError(
                f"the CLIP's text width is {clip.config.text_config.hidden_size}, the pipeline's text encoder "
                f"gives {width}: pass the CLIP whose text tower the pipeline uses (--clip-model)"
            )
        self.pipe = pipe
        self.clip = clip
        self.name = name
        self.clip_name = clip_name
        self.prompts = PromptEncoder(pipe.tokenizer, pipe.text_encoder)

    @classmethod
    def locate(cls, model: str | Path | None = None, clip: str | Path | None = None) -> list[Callable[[], Path]]:
        """How to find the pipeline's and the CLIP's folders (each raises its own how-to when absent)."""
        name, clip_name = str(model or DEFAULT_IP2P), str(clip or DEFAULT_CLIP)
        return [lambda: resolve_text_pipeline(name, IP2P_KIND), lambda: resolve_clip(clip_name)]

    @classmethod
    def from_pretrained(
        cls, model: str | Path | None = None, clip: str | Path | None = None, device: str | None = None
    ) -> Visii:
        """Load an InstructPix2Pix folder or hub id (tokenizer + text_encoder needed) and a CLIP (float32)."""
        from editsearch.transfer.methods.common import locate_all

        folder, clip_folder = locate_all(cls.locate(model, clip), "--method visii")
        return cls.from_folders(folder, clip_folder, model, clip, device)

    @classmethod
    def from_folders(
        cls, folder: Path, clip_folder: Path, model: str | Path | None, clip: str | Path | None, device: str | None
    ) -> Visii:
        """Load located folders; the pipeline is named by its absolute path when a folder (the catalog's key)."""
        from diffusers import StableDiffusionInstructPix2PixPipeline

        from editsearch.encoder.model import default_device

        dev = torch.device(device) if device is not None else default_device()
        name, clip_name = str(model or DEFAULT_IP2P), str(clip or DEFAULT_CLIP)
        if Path(name).expanduser().exists():
            name = str(Path(name).expanduser().resolve())
        pipe = load_text_pipeline(StableDiffusionInstructPix2PixPipeline, folder, dev, torch.float32)
        return cls(pipe, load_clip(clip_folder, dev), name, clip_name)

    def settings(self, **given: Any) -> InversionSettings:
        """The paper's settings, with the options given and this CLIP's name."""
        return InversionSettings(**given, clip=self.clip_name)

    def initial(self, pairs: Sequence[Pair], settings: InversionSettings) -> torch.Tensor:
        """The initial text's token embeddings, else `tokens` copies of the mean token embedding."""
        return self.prompts.initial(settings.init_text, settings.tokens)

    def condition(self, learned: torch.Tensor, text: str | None = None) -> torch.Tensor:
        """The prompt embeddings with `<ins>` in slots 1..n, and `text` after them."""
        return self.prompts.encode(learned, text)

    def unconditional(self, cond: torch.Tensor) -> torch.Tensor:
        """The empty prompt's embeddings."""
        return self.prompts.plain("")

    def frozen_parts(self) -> list[tuple[str, torch.nn.Module | str]]:
        """The UNet, the VAE, the text encoder and the CLIP of the direction term."""
        return [("unet", self.pipe.unet), ("vae", self.pipe.vae), ("text", self.pipe.text_encoder), ("clip", self.clip)]

    def clip_term(self, pairs: Sequence[Pair]) -> Callable[[torch.Tensor], torch.Tensor]:
        """1 - cos(c_T, Delta): the learned instruction's CLIP text embedding against the pairs' edit direction."""
        delta = self.direction(pairs)
        return lambda embeds: 1 - torch.dot(self.instruction_embedding(embeds), delta)

    def direction(self, pairs: Sequence[Pair]) -> torch.Tensor:
        """Delta: the unit mean CLIP image-embedding difference after - before over the pairs, [D]."""
        before = clip_image_embeds(self.clip, [b for b, _ in pairs])
        after = clip_image_embeds(self.clip, [a for _, a in pairs])
        delta = after.mean(0) - before.mean(0)
        return delta / delta.norm().clamp_min(1e-8)

    def instruction_embedding(self, prompt_embeds: torch.Tensor) -> torch.Tensor:
        """c_T: CLIP's text projection of the prompt embeddings' mean over tokens, unit length, [D]."""
        projected = self.clip.text_projection(prompt_embeds[0].float().mean(0).to(self.clip.device))
        return projected / projected.norm().clamp_min(1e-8)
