"""The LLM step of caption-direction editing: an instruction-tuned causal LM writes the target caption.

In the hands-off paper an instruction-tuned LLM composes the after-edit caption from a prompt template that
gives the before-edit caption and the edit instruction (its best was Mistral-7B-Instruct-v0.2; a 70B did worse,
its longer captions enlarging the difference). The default here is a far smaller instruction-tuned model; any
transformers causal LM folder or hub id can stand in. The prompt states the task and shows one worked example
(as chat turns when the tokenizer has a chat template), then asks for the new caption alone; decoding is
greedy and short, and only the first line of the answer is kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from editsearch.core.errors import GenerationError, UsageError, WeightsNotFoundError
from editsearch.core.limits import check_text
from editsearch.transfer.model_folders import check_transformers_folder

DEFAULT_CAPTION_LLM = "Qwen/Qwen2.5-0.5B-Instruct"  # small and instruction-tuned; the paper's best was 7B
PAPER_CAPTION_LLM = "mistralai/Mistral-7B-Instruct-v0.2"
LLM_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]  # config, weights, tokenizer (BPE or sentencepiece)
MAX_CAPTION_TOKENS = 40  # a caption is one short line; CLIP reads 77 tokens of it at most
PROMPT = (
    "Rewrite an image caption so that it describes the image after an edit. Change only what the edit asks "
    "for, keep the caption's other words, and reply with the new caption alone, on one line."
)
EXAMPLE = ("a photo of a cat sitting on a sofa", "turn the cat into a dog", "a photo of a dog sitting on a sofa")
AVOID = "or give --target-caption yourself instead of --instruction"
LLM_NEEDED = (
    "--caption-llm needs a transformers causal LM folder or hub id of an architecture transformers knows "
    f"(e.g. {DEFAULT_CAPTION_LLM})"
)
_LABEL = re.compile(r"^(?:(?:new|edited|target|after-edit)\s+)?caption\s*:\s*", re.IGNORECASE)


def chat(source: str, instruction: str) -> list[dict[str, str]]:
    """The chat messages asking for the edited caption: the task and one worked example, then this caption."""
    example = f"{PROMPT}\n\nCaption: {EXAMPLE[0]}\nEdit: {EXAMPLE[1]}"
    return [
        {"role": "user", "content": example},
        {"role": "assistant", "content": EXAMPLE[2]},
        {"role": "user", "content": f"Caption: {source}\nEdit: {instruction}"},
    ]


def plain_prompt(source: str, instruction: str) -> str:
    """The same request as one completion prompt, for a tokenizer without a chat template."""
    example = f"Caption: {EXAMPLE[0]}\nEdit: {EXAMPLE[1]}\nNew caption: {EXAMPLE[2]}"
    return f"{PROMPT}\n\n{example}\n\nCaption: {source}\nEdit: {instruction}\nNew caption:"


def first_caption(text: str) -> str:
    """The caption in an LLM's answer: its first non-empty line, without a 'Caption:' label or quotes."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return " ".join(_LABEL.sub("", line).strip("\"'` ").split())


class CaptionWriter:
    """An instruction-tuned causal LM (transformers) that writes the target caption of an edit."""

    def __init__(self, model: Any, tokenizer: Any, name: str = "") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name

    @staticmethod
    def locate(name: str | None = None) -> Path:
        """A causal LM folder for a folder or hub id (offline: the cache), its JSON checked; a how-to if absent."""
        from editsearch.core.hub import local_folder

        try:
            folder = local_folder(str(name or DEFAULT_CAPTION_LLM), "caption LLM", "--caption-llm", LLM_FILES)
        except WeightsNotFoundError as e:
            raise WeightsNotFoundError(f"{str(e).rstrip('.')}; {AVOID}.") from None
        check_transformers_folder(folder, None, LLM_NEEDED, f", {AVOID}")
        return folder

    @classmethod
    def from_pretrained(cls, name: str | None = None, device: str | None = None) -> CaptionWriter:
        """Load a causal LM folder or hub id (offline: the cache); WeightsNotFoundError naming what to pass."""
        return cls.from_folder(cls.locate(name), str(name or DEFAULT_CAPTION_LLM), device)

    @classmethod
    def from_folder(cls, folder: Path, name: str, device: str | None = None) -> CaptionWriter:
        """Load a folder `locate` gave (bfloat16 on a CUDA that has it, else float32; no custom code)."""
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from editsearch.encoder.model import default_device
        from editsearch.transfer.text_pipelines import loading

        dev = torch.device(device) if device is not None else default_device()
        dtype = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        hf_logging.disable_progress_bar()
        key = "torch_dtype" if transformers.__version__.startswith("4.") else "dtype"  # renamed in transformers 5
        with loading(folder, "causal LM"):
            model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False, **{key: dtype})
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        return cls(model.to(dev).eval().requires_grad_(False), tokenizer, name)

    def prompt_ids(self, source: str, instruction: str) -> torch.Tensor:
        """The prompt's token ids [1, L]: the chat template when the tokenizer has one, else a plain prompt."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(chat(source, instruction), tokenize=False, add_generation_prompt=True)
            return tok(text, return_tensors="pt", add_special_tokens=False).input_ids
        return tok(plain_prompt(source, instruction), return_tensors="pt").input_ids

    def __call__(self, source: str, instruction: str, max_tokens: int = MAX_CAPTION_TOKENS) -> str:
        """The target caption for `source` edited by `instruction` (greedy); GenerationError if the LLM wrote none."""
        from transformers import GenerationConfig

        check_text(source, "the source caption")
        check_text(instruction, "the instruction")
        if not source.strip() or not instruction.strip():
            raise UsageError("the caption LLM needs a non-empty source caption and --instruction")
        ids = self.prompt_ids(source.strip(), instruction.strip()).to(self.model.device)
        eos = self.model.generation_config.eos_token_id
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = eos[0] if isinstance(eos, list) else eos
        config = GenerationConfig(max_new_tokens=max_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad)
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)
        caption = first_caption(self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
        if not caption:
            raise GenerationError(
                f"the caption LLM {self.name!r} wrote no target caption for {source!r} and the instruction "
                f"{instruction!r}; give --target-caption yourself, or pass another --caption-llm"
            )
        return caption
