"""EditCLIPConfig: everything that defines an EditCLIP architecture, stored as config.json."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editsearch.core.errors import UsageError
from editsearch.core.files import write_atomic
from editsearch.encoder.torch_stack import import_open_clip

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
FORMAT = "editsearch-editclip"
# How a pair enters the vision tower: "channels" (before ⊕ after into a 6-channel conv1: EditCLIP) or "frames"
# (a 2-frame video: each image through the 3-channel tower, the two embeddings averaged: the ViFi-CLIP evaluator).
PAIR_FUSIONS = ("channels", "frames")
CONV1_CHANNELS = {"channels": 6, "frames": 3}  # conv1 input channels of each fusion


@dataclass
class EditCLIPConfig:
    """Architecture and preprocessing of an EditCLIP model; `vision`/`text` use open_clip's cfg keys.

    `in_channels` defaults to what `pair_fusion` needs (6 for channels, 3 for frames); a file without
    `pair_fusion` is a channels model, as every model was before the two-frame variant.
    """

    embed_dim: int
    vision: dict[str, Any]
    text: dict[str, Any] = field(default_factory=lambda: {"kind": "minilm"})
    quick_gelu: bool = False
    in_channels: int | None = None
    image_mean: tuple[float, ...] = OPENAI_MEAN
    image_std: tuple[float, ...] = OPENAI_STD
    init_logit_scale: float = math.log(1 / 0.07)
    name: str = "editclip"
    trained: bool = False
    pair_fusion: str = "channels"

    def __post_init__(self) -> None:
        if self.pair_fusion not in PAIR_FUSIONS:
            raise UsageError(f"pair_fusion must be one of {', '.join(PAIR_FUSIONS)}, got {self.pair_fusion!r}")
        if self.in_channels is None:
            self.in_channels = CONV1_CHANNELS[self.pair_fusion]
        elif self.pair_fusion == "frames" and self.in_channels != 3:
            raise UsageError(
                f"a frames model embeds each image on its own: in_channels must be 3, not {self.in_channels}"
            )

    def with_fusion(self, pair_fusion: str) -> EditCLIPConfig:
        """A copy of this config with another pair fusion and the conv1 width it needs."""
        return EditCLIPConfig.from_dict(self.to_dict() | {"pair_fusion": pair_fusion, "in_channels": None})

    @property
    def image_size(self) -> int:
        """Square input size of each image."""
        size = self.vision.get("image_size", 224)
        return int(size[0] if isinstance(size, (list, tuple)) else size)

    @property
    def text_kind(self) -> str:
        """'open_clip' (the CLIP's own text tower) or 'minilm' (frozen sentence-transformers MiniLM)."""
        return str(self.text.get("kind", "minilm"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict, tagged with the format name."""
        d = dataclasses.asdict(self)
        d["image_mean"], d["image_std"] = list(self.image_mean), list(self.image_std)
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EditCLIPConfig:
        """Inverse of `to_dict`; unknown keys are ignored so newer files still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("image_mean", "image_std"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        """Write config.json (atomically: an exclusive temp file renamed over it)."""
        write_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> EditCLIPConfig:
        """Read config.json."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def open_clip_config(arch: str, text_kind: str = "open_clip", quick_gelu: bool = False) -> EditCLIPConfig:
    """An EditCLIPConfig from an open_clip built-in architecture name such as 'ViT-B-32' or 'ViT-L-14'."""
    open_clip = import_open_clip()
    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise UsageError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    text = {"kind": "open_clip", **cfg["text_cfg"]} if text_kind == "open_clip" else {"kind": text_kind}
    embed_dim = cfg["embed_dim"] if text_kind == "open_clip" else 384
    return EditCLIPConfig(
        embed_dim=embed_dim,
        vision=dict(cfg["vision_cfg"]),
        text=text,
        quick_gelu=quick_gelu or bool(cfg.get("quick_gelu", False)),
        name=arch,
    )
