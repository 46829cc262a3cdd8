"""Where caption-direction's two captions come from: the user, a BLIP captioner, an LLM rewriting by an instruction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from editsearch.core.errors import UsageError
from editsearch.transfer.caption_llm import DEFAULT_CAPTION_LLM, CaptionWriter
from editsearch.transfer.model_folders import check_transformers_folder

DEFAULT_CAPTIONER = "Salesforce/blip-image-captioning-base"  # a BLIP captioner, as the paper's source captions
CAPTIONS_NEEDED = (
    "caption-direction edits need two captions: --source-caption (what the image shows) and --target-caption "
    "(what it should show after the edit), e.g. --source-caption 'a photo of a cat on a sofa' "
    "--target-caption 'a photo of a dog on a sofa'. As in the paper, --caption-model BLIP (a BLIP captioning "
    f"folder or hub id, e.g. {DEFAULT_CAPTIONER}) can caption each image instead of --source-caption, and "
    "--instruction 'turn the cat into a dog' has an instruction-tuned LLM (--caption-llm, default "
    f"{DEFAULT_CAPTION_LLM}) write the target caption from the source caption instead of --target-caption"
)
BLIP_NEEDED = (
    f"--caption-model needs a transformers BLIP captioning folder or hub id (e.g. {DEFAULT_CAPTIONER}), "
    "or give --source-caption yourself"
)
BOTH_TARGETS = "give either --target-caption or --instruction (an LLM then writes the target caption), not both"


def check_captions(
    source: str | None, target: str | None, instruction: str | None, can_caption: bool, can_write: bool
) -> None:
    """UsageError naming the options unless each caption is given or can be made (a target never both ways)."""
    if target is not None and instruction is not None:
        raise UsageError(BOTH_TARGETS)
    if instruction is not None and not instruction.strip():
        raise UsageError("--instruction is empty: say what the edit should do, e.g. 'make it snowy'")
    blank = any(text is not None and not text.strip() for text in (source, target))
    if blank or (source is None and not can_caption) or (target is None and (instruction is None or not can_write)):
        raise UsageError(CAPTIONS_NEEDED)


class Captioner:
    """A BLIP image captioner (transformers) that writes each image's source caption."""

    def __init__(self, model: Any, processor: Any, name: str = "") -> None:
        self.model = model
        self.processor = processor
        self.name = name

    @staticmethod
    def locate(name: str) -> Path:
        """A BLIP captioning folder for a folder or hub id (offline: the cache), its JSON checked; a how-to if not."""
        from editsearch.core.hub import local_folder

        folder = local_folder(name, "captioning model", "--caption-model", ["*.json", "*.txt", "*.safetensors"])
        check_transformers_folder(folder, {"blip"}, BLIP_NEEDED)
        return folder

    @classmethod
    def from_pretrained(cls, name: str, device: str | None = None) -> Captioner:
        """Load a BLIP captioning folder or hub id (offline: the cache); WeightsNotFoundError with a how-to."""
        return cls.from_folder(cls.locate(name), name, device)

    @classmethod
    def from_folder(cls, folder: Path, name: str, device: str | None = None) -> Captioner:
        """Load a folder `locate` gave (no custom code)."""
        from transformers import BlipForConditionalGeneration, BlipProcessor

        from editsearch.encoder.model import default_device
        from editsearch.transfer.text_pipelines import loading

        dev = torch.device(device) if device is not None else default_device()
        with loading(folder, "BLIP captioner"):
            model = BlipForConditionalGeneration.from_pretrained(folder, trust_remote_code=False)
            processor = BlipProcessor.from_pretrained(folder, trust_remote_code=False)
        return cls(model.to(dev).eval(), processor, name)

    def __call__(self, image: Image.Image, max_tokens: int = 30) -> str:
        """The image's caption (greedy decoding)."""
        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt").to(self.model.device)
        with torch.no_grad():
            ids = self.model.generate(**inputs, max_new_tokens=max_tokens)
        return self.processor.decode(ids[0], skip_special_tokens=True).strip()


@dataclass
class CaptionPlan:
    """Each image's (source, target) captions: given ones, else BLIP's source and the LLM's rewrite of it."""

    source: str | None = None
    target: str | None = None
    captioner: Captioner | None = None
    writer: CaptionWriter | None = None
    instruction: str | None = None
    written: dict[str, str] = field(default_factory=dict)  # the LLM's target caption of each source caption

    def check(self) -> None:
        """Refuse (UsageError naming the options) a plan that cannot give both captions, or gives a target twice."""
        check_captions(self.source, self.target, self.instruction, self.captioner is not None, self.writer is not None)

    def target_for(self, source: str) -> str:
        """The given target caption, else the LLM's rewrite of `source` (once per distinct source caption)."""
        if self.target is not None:
            return self.target
        if source not in self.written:
            self.written[source] = self.writer(source, self.instruction)  # type: ignore[misc,arg-type]
        return self.written[source]

    def captions(self, image: Image.Image) -> tuple[str, str]:
        """(source, target) captions of one image; GenerationError when the LLM writes no target caption."""
        source = self.source if self.source is not None else self.captioner(image)  # type: ignore[misc]
        return source, self.target_for(source)

    def describe(self) -> dict[str, Any]:
        """What the report says of the captions: the given or written ones, and the models that wrote them."""
        written = self.target is None and self.source is not None and self.source in self.written
        return {
            "source_caption": self.source,
            "target_caption": self.written[self.source] if written else self.target,  # type: ignore[index]
            "instruction": self.instruction,
            "captioner": self.captioner.name if self.captioner else None,
            "caption_llm": self.writer.name if self.writer and self.instruction is not None else None,
        }
