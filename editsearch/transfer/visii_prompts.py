"""VISII's prompt for a text-conditioned pipeline: learned `<ins>` token embeddings (+ a user's text) through CLIP."""

from __future__ import annotations

from typing import Any

import torch

from editsearch.core.errors import UsageError


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
