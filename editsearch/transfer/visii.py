"""Visual instruction inversion (VISII, Nguyen et al. 2023): learn an instruction from exemplar pairs, then apply it.

The instruction is `<ins>`: the token embeddings between SOT and EOT of a prompt fed through a frozen
InstructPix2Pix's own CLIP text encoder; nothing else is trained. Each step draws a timestep t and noise,
noises the "after" latents, and asks the UNet (conditioned on the "before" latents and on the prompt) for the
noise. The loss is the paper's:

    lambda_mse * ||eps - eps_hat||^2 + lambda_clip * (1 - cos(c_T, Delta))

with Delta the CLIP image-embedding difference after - before (its mean over pairs for n pairs, one pair
sampled per step), and c_T the CLIP text embedding of the learned instruction: CLIP's text projection of the
prompt embeddings' mean over tokens, as the authors' implementation computes it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from editsearch.errors import IncompatibleModelError, UsageError
from editsearch.images import ImageLike, load_image
from editsearch.transfer.geometry import PipelineGeometry
from editsearch.transfer.text_pipelines import (
    DEFAULT_CLIP,
    DEFAULT_IP2P,
    clip_image_embeds,
    image_latents,
    load_clip,
    load_text_pipeline,
    resolve_text_pipeline,
)

DEFAULT_TOKENS = 10  # <ins> length without an initial text: the paper's caption length
VISII_GUIDANCE = 7.5  # the paper's text guidance (image guidance 1.5, as IP2P's default)
VISII_IMAGE_GUIDANCE = 1.5
Pair = tuple[Image.Image, Image.Image]


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


class PromptEncoder:
    """Prompt embeddings from learned `<ins>` token embeddings (+ a user's text) through a CLIP text encoder."""

    def __init__(self, tokenizer: Any, text_encoder: Any) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.length = int(tokenizer.model_max_length)

    @property
    def width(self) -> int:
        """The token-embedding width."""
        return int(self.text_encoder.get_input_embeddings().embedding_dim)

    def text_ids(self, text: str) -> list[int]:
        """Token ids of a text without SOT/EOT."""
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def ids(self, tokens: int, text: str | None = None) -> torch.Tensor:
        """[1, L]: SOT, `tokens` placeholder slots, the text's ids, EOT, padding; UsageError when too long."""
        extra = self.text_ids(text) if text else []
        used = 2 + tokens + len(extra)
        if used > self.length:
            raise UsageError(f"the instruction ({tokens} learned + {len(extra)} text tokens) exceeds {self.length}")
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        row = [bos] + [eos] * tokens + extra + [eos] + [pad] * (self.length - used)
        return torch.tensor([row], device=self.text_encoder.device)

    def initial(self, text: str | None, tokens: int) -> torch.Tensor:
        """Initial `<ins>` [n, width]: the text's token embeddings, else `tokens` copies of the mean embedding."""
        table = self.text_encoder.get_input_embeddings().weight.detach().float().cpu()
        ids = self.text_ids(text)[: self.length - 2] if text else []
        if ids:
            return table[ids].clone()
        return table.mean(0, keepdim=True).repeat(tokens, 1)

    def encode(self, embeddings: torch.Tensor, text: str | None = None) -> torch.Tensor:
        """Prompt embeddings [1, L, D]: the encoder's output with `<ins>` in slots 1..n (gradients flow)."""
        n = embeddings.shape[0]
        table = self.text_encoder.get_input_embeddings()

        def put(_module: Any, _args: Any, output: torch.Tensor) -> torch.Tensor:
            output = output.clone()
            output[:, 1 : 1 + n] = embeddings.to(output.device, output.dtype)
            return output

        handle = table.register_forward_hook(put)
        try:
            return self.text_encoder(self.ids(n, text))[0]
        finally:
            handle.remove()

    def plain(self, text: str) -> torch.Tensor:
        """Prompt embeddings [1, L, D] of an ordinary text (e.g. "" for the unconditional branch)."""
        ids = self.tokenizer(text, padding="max_length", max_length=self.length, truncation=True, return_tensors="pt")
        with torch.no_grad():
            return self.text_encoder(ids.input_ids.to(self.text_encoder.device))[0]


class Visii(PipelineGeometry):
    """A frozen text-conditioned InstructPix2Pix and a CLIP: invert exemplar pairs, apply learned instructions."""

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
    def from_pretrained(
        cls, model: str | Path | None = None, clip: str | Path | None = None, device: str | None = None
    ) -> Visii:
        """Load an InstructPix2Pix folder or hub id (tokenizer + text_encoder needed) and a CLIP (float32)."""
        from diffusers import StableDiffusionInstructPix2PixPipeline

        from editsearch.encoder.model import default_device

        dev = torch.device(device) if device is not None else default_device()
        name, clip_name = str(model or DEFAULT_IP2P), str(clip or DEFAULT_CLIP)
        if Path(name).expanduser().exists():  # a folder is named by its absolute path (the catalog's reuse key)
            name = str(Path(name).expanduser().resolve())
        folder = resolve_text_pipeline(name, "InstructPix2Pix pipeline", "--model")
        pipe = load_text_pipeline(StableDiffusionInstructPix2PixPipeline, folder, dev, torch.float32)
        return cls(pipe, load_clip(clip_name, dev), name, clip_name)

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

    def invert(
        self,
        pairs: Sequence[Pair],
        settings: InversionSettings = InversionSettings(),
        progress: Callable[[int, float], None] | None = None,
    ) -> LearnedInstruction:
        """Learn `<ins>` from one or more (before, after) pairs (AdamW on the token embeddings only)."""
        settings.check()
        if not pairs:
            raise UsageError("VISII needs at least one exemplar pair")
        started = time.perf_counter()
        side = settings.size or self.resolution
        size = (side, side)
        vae, unet, scheduler = self.pipe.vae, self.pipe.unet, self.pipe.scheduler
        befores = [image_latents(vae, [b], size) for b, _ in pairs]
        afters = [image_latents(vae, [a], size) * vae.config.scaling_factor for _, a in pairs]
        delta = self.direction(pairs)
        learned = torch.nn.Parameter(self.prompts.initial(settings.init_text, settings.tokens).to(self.device))
        optimizer = torch.optim.AdamW([learned], lr=settings.lr)
        generator = torch.Generator().manual_seed(settings.seed)
        history: list[float] = []
        for step in range(settings.steps):
            noise = torch.randn(afters[0].shape, generator=generator).to(self.device, afters[0].dtype)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=generator)
            which = int(torch.randint(0, len(pairs), (1,), generator=generator)) if len(pairs) > 1 else 0
            noisy = self._noised(afters[which], noise, t.to(self.device))
            with torch.enable_grad():
                embeds = self.prompts.encode(learned)
                model_in = torch.cat([noisy, befores[which]], dim=1)
                eps = unet(model_in, t.to(self.device), encoder_hidden_states=embeds).sample
                mse = F.mse_loss(eps.float(), noise.float())
                clip_term = 1 - torch.dot(self.instruction_embedding(embeds), delta)
                loss = settings.lambda_mse * mse + settings.lambda_clip * clip_term
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, history[-1])
        return LearnedInstruction(
            learned.detach().float().cpu(),
            settings,
            len(pairs),
            history[-1],
            round(time.perf_counter() - started, 3),
            history=history,
        )

    def _noised(self, latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """z_t: the latents noised to timestep t with the training schedule (DDPM's forward process)."""
        alphas = self.pipe.scheduler.alphas_cumprod.to(latents.device, torch.float32)[t].view(-1, 1, 1, 1)
        return (alphas.sqrt() * latents + (1 - alphas).sqrt() * noise).to(latents.dtype)

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
            cond = self.prompts.encode(instruction.embeddings, text)
            uncond = self.prompts.plain("")
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
