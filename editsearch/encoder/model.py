"""EditCLIP: an open_clip vision transformer for (before, after) pairs.

A pair always arrives as one [6, S, S] tensor (before ⊕ after). `pair_fusion` says how the tower reads it:
"channels" (EditCLIP) puts all 6 channels through a widened conv1; "frames" (the two-frame, ViFi-CLIP style
evaluator) reads it as a 2-frame video: both images go through the 3-channel tower as one batch of 2N and
each pair's two projected embeddings are averaged (the same as averaging before the projection, which is
linear without bias). Average pooling is symmetric: a frames model cannot tell a pair from its reverse.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from editsearch.core.errors import UsageError
from editsearch.core.files import atomic_path
from editsearch.core.limits import TEXT_CACHE_SIZE, lru_lookup
from editsearch.encoder.config import EditCLIPConfig
from editsearch.encoder.preprocess import PairTransform
from editsearch.encoder.text import build_text_tower
from editsearch.encoder.torch_stack import import_open_clip
from editsearch.media.images import ImageLike

PairInput = ImageLike | torch.Tensor


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def widen_conv1(visual: nn.Module, in_channels: int = 6) -> None:
    """Swap conv1 for an `in_channels` conv: weight[:, :3] = old weight, the rest zero (official init)."""
    old = visual.conv1
    if old.in_channels == in_channels:
        return
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, bias=False)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
    visual.conv1 = new.to(old.weight.device, old.weight.dtype)


def encode_pairs(visual: nn.Module, x: torch.Tensor, pair_fusion: str) -> torch.Tensor:
    """Pairs [N, 6, S, S] -> projected features [N, D]: one 6-channel image, or two frames averaged."""
    if pair_fusion != "frames":
        return visual(x)
    frames = visual(x.reshape(-1, 3, *x.shape[-2:]))  # [before_0, after_0, before_1, ...]: one forward of 2N
    return frames.reshape(-1, 2, frames.shape[-1]).mean(1)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class EditCLIP(nn.Module):
    """A CLIP vision tower for edit pairs (6 channels or 2 frames), scored against a frozen text tower (EC2T, EC2EC)."""

    def __init__(self, config: EditCLIPConfig, widen: bool = True) -> None:
        super().__init__()
        import_open_clip()  # a torchvision built for another torch: one clear error, here
        from open_clip.model import _build_vision_tower

        self.config = config
        self.visual = _build_vision_tower(config.embed_dim, dict(config.vision), config.quick_gelu)
        if widen:
            widen_conv1(self.visual, config.in_channels)
        self.text = build_text_tower(config.embed_dim, config.text, config.quick_gelu)
        self.text.requires_grad_(False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        self.pair_transform = PairTransform(config.image_size, config.image_mean, config.image_std)
        self.name = config.name
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()  # least recently used first

    # ----- properties -------------------------------------------------------------------------
    @property
    def embed_dim(self) -> int:
        """Dimension of the joint embedding space."""
        return self.config.embed_dim

    @property
    def trained(self) -> bool:
        """False for random-init models (clearly labelled as such everywhere)."""
        return self.config.trained

    @property
    def vision_width(self) -> int:
        """Width of the vision tokens returned by `edit_tokens`."""
        return self.visual.conv1.out_channels

    @property
    def device(self) -> torch.device:
        """Device of the vision tower."""
        return self.visual.conv1.weight.device

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over every weight (and the frozen text tower's identity); indexes record it."""
        config = self.config.to_dict() | {"name": "", "trained": None}
        if config.get("pair_fusion") == "channels":  # the key came later: channels models keep their fingerprint
            del config["pair_fusion"]
        h = hashlib.sha256(json.dumps(config).encode())
        for key, tensor in sorted(self.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        identity = getattr(self.text, "identity", None)
        if identity:
            h.update(identity.encode())
        return h.hexdigest()

    def config_dict(self) -> dict[str, Any]:
        """JSON-able config (for catalogs and model cards)."""
        return self.config.to_dict()

    # ----- differentiable forwards (training) --------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training forward (what DDP wraps): [N, 6, S, S] -> unnormalised features [N, D]."""
        return self.encode_pair_tensors(x)

    def encode_pair_tensors(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 6, S, S] normalised pairs -> unnormalised projected features [N, D] (with grad)."""
        return encode_pairs(self.visual, x, self.config.pair_fusion)

    def tokens_from_tensors(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden state of the vision tower, all tokens (CLS first), before ln_post and proj (frames: averaged)."""
        if self.config.pair_fusion != "frames":
            return self.visual.transformer(self.visual._embeds(x))
        tokens = self.visual.transformer(self.visual._embeds(x.reshape(-1, 3, *x.shape[-2:])))
        return tokens.reshape(-1, 2, *tokens.shape[1:]).mean(1)

    # ----- inference ---------------------------------------------------------------------------
    def _autocast(self) -> Any:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    def _pair_batches(
        self, befores: Sequence[PairInput], afters: Sequence[PairInput], batch_size: int
    ) -> Iterator[torch.Tensor]:
        if len(befores) != len(afters):
            raise UsageError(f"{len(befores)} before images but {len(afters)} after images")
        for sl in _chunks(len(befores), batch_size):
            batch = [self.pair_transform(b, a) for b, a in zip(befores[sl], afters[sl], strict=True)]
            yield torch.stack(batch)

    def embed_pair_tensors(self, x: torch.Tensor) -> torch.Tensor:
        """Pairs [N, 6, S, S], normalised or uint8 `pair_transform.pixels` -> L2-normalised [N, D] float32 on CPU."""
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:  # raw pixels travel 4x lighter and are normalised on the device
            x = self.pair_transform.normalize(x)
        with torch.inference_mode(), self._autocast():
            feats = self.encode_pair_tensors(x)
        return F.normalize(feats.float(), dim=-1).cpu()

    def embed_pairs(
        self, befores: Sequence[PairInput], afters: Sequence[PairInput], batch_size: int = 32
    ) -> torch.Tensor:
        """Embed (before, after) pairs: L2-normalised [N, D], batched, fp16 on GPU."""
        out = [self.embed_pair_tensors(x) for x in self._pair_batches(befores, afters, batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.embed_dim)

    def edit_tokens(
        self, befores: Sequence[PairInput], afters: Sequence[PairInput], batch_size: int = 32
    ) -> torch.Tensor:
        """Vision last hidden state [N, T, width] (CLS included, before ln_post/proj): conditions IP2P."""
        out = []
        for x in self._pair_batches(befores, afters, batch_size):
            with torch.inference_mode(), self._autocast():
                out.append(self.tokens_from_tensors(x.to(self.device)).float().cpu())
        return torch.cat(out)

    def embed_texts(self, texts: Iterable[str]) -> torch.Tensor:
        """L2-normalised text embeddings [N, D] from the frozen text tower (the last TEXT_CACHE_SIZE cached)."""
        out = lru_lookup(self._text_cache, list(texts), self._encode_texts, TEXT_CACHE_SIZE)
        return torch.stack(out) if out else torch.empty(0, self.embed_dim)

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        """L2-normalised text embeddings [N, D] by the frozen text tower, on the CPU."""
        with torch.inference_mode(), self._autocast():
            return self.text.encode(texts, self.device).float().cpu()

    def ec2t(self, befores: Sequence[PairInput], afters: Sequence[PairInput], texts: Sequence[str]) -> torch.Tensor:
        """EC2T: cos(EditCLIP(before ⊕ after), text) for each row, [N]."""
        if len(texts) != len(befores):
            raise UsageError(f"{len(befores)} pairs but {len(texts)} texts")
        return (self.embed_pairs(befores, afters) * self.embed_texts(texts)).sum(-1)

    def ec2ec(
        self,
        pairs_a: tuple[Sequence[PairInput], Sequence[PairInput]],
        pairs_b: tuple[Sequence[PairInput], Sequence[PairInput]],
    ) -> torch.Tensor:
        """EC2EC: cos(EditCLIP(pair A), EditCLIP(pair B)) for each row, [N]."""
        return (self.embed_pairs(*pairs_a) * self.embed_pairs(*pairs_b)).sum(-1)

    # ----- persistence -------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors (the frozen MiniLM is not copied: it ships as a package)."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.config.save(out / "config.json")
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(out / "model.safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": "editsearch-editclip"})
        return out
