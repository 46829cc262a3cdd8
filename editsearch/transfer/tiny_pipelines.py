"""Tiny random text-conditioned pipelines of the real diffusers layout, a BLIP captioner and a chat causal LM.

They load and run exactly like a stock Stable Diffusion or InstructPix2Pix folder, offline, in seconds on a
CPU: the tests and the mechanics benchmark of `apply --method visii|caption-direction` use them. Their
weights are random, so what they produce says nothing about quality. The tokenizer is a byte-level CLIP BPE
built here (256 byte symbols, their end-of-word forms, a few merges, SOT/EOT), so no vocabulary file is needed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from editsearch.transfer.architectures import UNET_CONFIGS, build_vae
from editsearch.transfer.pipeline import SD_BETAS

CONTEXT_LENGTH = 77  # CLIP's text context, as every SD / IP2P tokenizer pads to
TEXT_WIDTH = 32  # the tiny text encoder's width: the 'test' UNet's cross_attention_dim
SD_LATENT_SCALE = 4.0  # the random 'test' VAE's latents have a std of about 0.25 on images
MERGES = ["t h", "th e</w>", "e d</w>", "i n", "a n", "r e"]


def _byte_symbols() -> list[str]:
    """CLIP's byte -> printable-unicode table, in byte order of its construction."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    return [chr(c) for c in printable] + [chr(256 + i) for i in range(len(extra))]


def tiny_tokenizer() -> Any:
    """A byte-level CLIPTokenizer (517 tokens) that pads to 77 with EOT, like SD's."""
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    for merge in MERGES:
        vocab["".join(merge.split())] = len(vocab)
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.json").write_text(json.dumps(vocab))
        (Path(tmp) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
        return CLIPTokenizer(
            str(Path(tmp) / "vocab.json"), str(Path(tmp) / "merges.txt"), model_max_length=CONTEXT_LENGTH
        )


def tiny_text_encoder(tokenizer: Any, seed: int = 0) -> Any:
    """A random 2-layer CLIPTextModel of width 32 for `tokenizer`."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(**_text_config(tokenizer))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPTextModel(config).eval()


def tiny_clip(tokenizer: Any, seed: int = 0, image_size: int = 32) -> Any:
    """A random CLIPModel (text width 32 like the tiny text encoder, a 2-layer ViT, 16-d projections)."""
    from transformers import CLIPConfig, CLIPModel

    vision = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "image_size": image_size,
        "patch_size": 8,
    }
    config = CLIPConfig(text_config=_text_config(tokenizer), vision_config=vision, projection_dim=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPModel(config).eval()


def tiny_ip2p(seed: int = 0) -> Any:
    """A random StableDiffusionInstructPix2PixPipeline (8-channel UNet, 2-block VAE, Euler ancestral)."""
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    tokenizer = tiny_tokenizer()
    return StableDiffusionInstructPix2PixPipeline(
        vae=build_vae("test", seed),
        text_encoder=tiny_text_encoder(tokenizer, seed),
        tokenizer=tokenizer,
        unet=_unet(8, seed),
        scheduler=EulerAncestralDiscreteScheduler(**SD_BETAS),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_sd(seed: int = 0) -> Any:
    """A random StableDiffusionPipeline (4-channel UNet, 2-block VAE, DDIM), shaped like a trained one for inversion.

    DDIM inversion assumes what training gives: latents of about unit variance and a noise prediction that
    changes smoothly with its input. A random UNet's prediction jumps with its input (its group norms rescale
    whatever comes in), so inversion drifts; the VAE's scaling factor is therefore set for unit-variance
    latents and the UNet's output layer damped (x0.1), which makes inversion near-exact as with a trained SD.
    """
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    tokenizer = tiny_tokenizer()
    vae, unet = build_vae("test", seed), _unet(4, seed)
    vae.register_to_config(scaling_factor=SD_LATENT_SCALE)
    with torch.no_grad():
        unet.conv_out.weight.mul_(0.1)
        unet.conv_out.bias.mul_(0.1)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=tiny_text_encoder(tokenizer, seed),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=False, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _unet(in_channels: int, seed: int) -> Any:
    from diffusers import UNet2DConditionModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DConditionModel(in_channels=in_channels, out_channels=4, **UNET_CONFIGS["test"])


def _text_config(tokenizer: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": TEXT_WIDTH,
        "intermediate_size": 37,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "max_position_embeddings": CONTEXT_LENGTH,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def save_tiny_blip(folder: Path, seed: int = 0) -> Path:
    """A random BLIP captioner (2-layer ViT and text decoder, a 14-word BERT vocabulary) saved with its processor."""
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "a",
        "photo",
        "of",
        "cat",
        "dog",
        "red",
        "blue",
        "on",
        "sofa",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    small = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    text = {**small, "vocab_size": len(words), "encoder_hidden_size": 32, "bos_token_id": 2, "sep_token_id": 3}
    text |= {"pad_token_id": 0, "eos_token_id": 3}
    config = BlipConfig(text_config=text, vision_config={**small, "image_size": 32, "patch_size": 8}, projection_dim=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        BlipForConditionalGeneration(config).save_pretrained(folder)
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=image_processor, tokenizer=BertTokenizer(str(folder / "vocab.txt"))).save_pretrained(
        folder
    )
    return folder


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLM_WORDS = "a photo of the cat dog sitting on sofa red blue snowy snow winter street house tree in with".split()
LLM_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_llm_tokenizer(chat_template: bool = True) -> Any:
    """A byte-level BPE tokenizer of Qwen2's layout: ChatML specials, 256 byte symbols, merges up to a few words."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {s: i for i, s in enumerate(LLM_SPECIALS + _byte_symbols())}  # specials first: id 0 is <|endoftext|>
    merges: list[tuple[str, str]] = []
    for word in LLM_WORDS:
        pieces = [(word[: end - 1], word[end - 1]) for end in range(2, len(word) + 1)] + [("\u0120", word)]  # Ġ: space
        for left, right in pieces:
            if left + right not in vocab:
                merges.append((left, right))
                vocab[left + right] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(LLM_SPECIALS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<|endoftext|>", eos_token="<|im_end|>")
    if chat_template:
        fast.chat_template = CHATML
    return fast


def save_tiny_llm(folder: Path, seed: int = 0, chat_template: bool = True) -> Path:
    """A random 2-layer Qwen2 causal LM with a tiny byte-level BPE tokenizer, saved like a hub chat model.

    Its output layer is zero but for the space-led words and the end-of-turn token, so an answer, random as it
    is, reads as a few of the tokenizer's words.
    """
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = tiny_llm_tokenizer(chat_template)
    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, eos_token_id=eos, pad_token_id=pad, bos_token_id=None,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # only whole words and the end of the answer can win: what it writes reads as words
        words = tokenizer.convert_tokens_to_ids(["\u0120" + w for w in LLM_WORDS] + ["<|im_end|>"])
        keep = torch.zeros(len(tokenizer), dtype=torch.bool)
        keep[words] = True
        model.lm_head.weight[~keep] = 0
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
