"""Held-out retrieval evaluation on synthetic edits (unseen photos, held-out phrasings) and real pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from editsearch.evaluation.metrics import chance_metrics, retrieval_metrics
from editsearch.rng import stream

PairEmbedder = Callable[[Sequence[Image.Image], Sequence[Image.Image]], torch.Tensor]
TextEmbedder = Callable[[Sequence[str]], torch.Tensor]


@dataclass
class EvalSet:
    """Pairs with labels: which edit (family) each shows, on which photo, plus each label's queries."""

    befores: list[Image.Image]
    afters: list[Image.Image]
    labels: list[str]
    photos: list[str]
    label_texts: dict[str, list[str]]


def synthetic_eval_set(per_family: int = 3, seed: int = 1234, size: int = 128) -> EvalSet:
    """Held-out split: test photos only, texts are the held-out phrasings never used in training."""
    from editsearch.data.synth import FAMILIES, make_pair

    rng = stream(seed, "eval-synthetic")
    befores, afters, labels, photos = [], [], [], []
    for name in sorted(FAMILIES):
        for _ in range(per_family):
            p = make_pair(rng, "test", size, name)
            befores.append(p.before)
            afters.append(p.after)
            labels.append(name)
            photos.append(p.photo)
    texts = {name: list(FAMILIES[name].heldout_phrasings) for name in sorted(FAMILIES)}
    return EvalSet(befores, afters, labels, photos, texts)


def real_eval_set(root: str) -> EvalSet:
    """The shared real-edits pairs (evaluation only): label = the manifest's `edit`."""
    from editsearch.data.sources import iter_source

    befores, afters, labels, photos, texts = [], [], [], [], {}
    for item in iter_source(f"{root}/manifest.jsonl"):
        if not hasattr(item, "load"):
            continue
        b, a = item.load()
        label = str(item.metadata.get("edit", item.instruction))
        befores.append(b)
        afters.append(a)
        labels.append(label)
        photos.append(item.before.path)
        texts.setdefault(label, [])
        if item.instruction and item.instruction not in texts[label]:
            texts[label].append(item.instruction)
    return EvalSet(befores, afters, labels, photos, texts)


def evaluate_embeddings(pair_emb: torch.Tensor, text_emb: torch.Tensor | None, es: EvalSet) -> dict[str, Any]:
    """text->edit, edit->text and edit->edit (other photos only) metrics, with chance levels."""
    labels = np.array(es.labels)
    out: dict[str, Any] = {}
    if text_emb is not None:
        q_labels = np.array([lab for lab, ts in es.label_texts.items() for _ in ts])
        rel = torch.from_numpy(q_labels[:, None] == labels[None, :])
        keep = rel.any(1)
        out["text->edit"] = retrieval_metrics(text_emb[keep] @ pair_emb.T, rel[keep])
        out["text->edit"]["chance"] = chance_metrics(rel[keep])
        rel_t = rel.T
        keep_t = rel_t.any(1)
        out["edit->text"] = retrieval_metrics(pair_emb[keep_t] @ text_emb.T, rel_t[keep_t])
    photos = np.array(es.photos)
    same_label = torch.from_numpy(labels[:, None] == labels[None, :])
    other_photo = torch.from_numpy(photos[:, None] != photos[None, :])
    scores = (pair_emb @ pair_emb.T).masked_fill(~other_photo, float("-inf"))
    rel = same_label & other_photo
    keep = rel.any(1)
    out["edit->edit"] = retrieval_metrics(scores[keep], rel[keep])
    out["edit->edit"]["chance"] = chance_metrics(rel[keep])
    return out


def evaluate_model(model: Any, es: EvalSet, batch_size: int = 64) -> dict[str, Any]:
    """Embed an EvalSet with an EditCLIP (or anything with embed_pairs/embed_texts) and score it."""
    pair_emb = model.embed_pairs(es.befores, es.afters, batch_size=batch_size)
    texts = [t for ts in es.label_texts.values() for t in ts]
    text_emb = model.embed_texts(texts) if texts and hasattr(model, "embed_texts") else None
    return evaluate_embeddings(pair_emb, text_emb, es)
