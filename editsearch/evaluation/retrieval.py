"""Held-out retrieval evaluation on synthetic edits (unseen photos, held-out phrasings) and real pairs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from editsearch.core.errors import DataError, UsageError
from editsearch.core.rng import stream
from editsearch.evaluation.metrics import chance_metrics, retrieval_metrics
from editsearch.index.legibility import legibility_of

PairEmbedder = Callable[[Sequence[Image.Image], Sequence[Image.Image]], torch.Tensor]
TextEmbedder = Callable[[Sequence[str]], torch.Tensor]


@dataclass
class EvalSet:
    """Pairs with labels: which edit (family) each shows, on which photo, plus each label's queries.

    `instructions` holds each pair's stored instruction (None: none), as a catalog would keep it.
    """

    befores: list[Image.Image]
    afters: list[Image.Image]
    labels: list[str]
    photos: list[str]
    label_texts: dict[str, list[str]]
    instructions: list[str | None] = field(default_factory=list)


def synthetic_eval_set(per_family: int = 3, seed: int = 1234, size: int = 128) -> EvalSet:
    """Held-out split: test photos only, texts are the held-out phrasings never used in training.

    Each pair keeps the instruction it was generated with (a held-out phrasing, its {fields} filled).
    """
    from editsearch.data.synthetic.generator import FAMILIES, make_pair

    if per_family < 1:
        raise UsageError(f"a held-out set needs at least 1 pair per family, got {per_family}")
    rng = stream(seed, "eval-synthetic")
    befores, afters, labels, photos, instructions = [], [], [], [], []
    for name in sorted(FAMILIES):
        for _ in range(per_family):
            p = make_pair(rng, "test", size, name)
            befores.append(p.before)
            afters.append(p.after)
            labels.append(name)
            photos.append(p.photo)
            instructions.append(p.instruction)
    texts = {name: list(FAMILIES[name].heldout_phrasings) for name in sorted(FAMILIES)}
    return EvalSet(befores, afters, labels, photos, texts, instructions)


def read_label_queries(path: str | Path) -> dict[str, list[str]]:
    """{label: query texts} from a JSON file (see label_queries)."""
    return label_queries(Path(path).read_text("utf-8"), str(path))


def label_queries(text: str, origin: str) -> dict[str, list[str]]:
    """{label: query texts} from a JSON object of string lists (keys starting with '_' are notes)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{origin}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise DataError(f"{origin}: expected a JSON object of label -> list of queries")
    out = {}
    for label, texts in data.items():
        if label.startswith("_"):
            continue
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DataError(f"{origin}: {label!r} must map to a non-empty list of query texts")
        out[label] = texts
    return out


def real_eval_set(root: str, queries: dict[str, list[str]] | None = None) -> EvalSet:
    """Real edit pairs (evaluation only): label = the manifest's `edit`.

    The text queries are each label's stored instructions, or with `queries` ({label: texts}) those texts,
    and only for the labels it names.
    """
    from editsearch.data.sources import iter_source

    befores, afters, labels, photos, texts, instructions = [], [], [], [], {}, []
    for item in iter_source(f"{root}/manifest.jsonl"):
        if not hasattr(item, "load"):
            continue
        b, a = item.load()
        label = str(item.metadata.get("edit", item.instruction))
        befores.append(b)
        afters.append(a)
        labels.append(label)
        photos.append(item.before.path)
        instructions.append(item.instruction)
        texts.setdefault(label, [])
        if item.instruction and item.instruction not in texts[label]:
            texts[label].append(item.instruction)
    if queries is not None:
        texts = {label: list(queries[label]) for label in texts if label in queries}
    return EvalSet(befores, afters, labels, photos, texts, instructions)


def evaluate_embeddings(
    pair_emb: torch.Tensor, text_emb: torch.Tensor | None, es: EvalSet, instr_emb: torch.Tensor | None = None
) -> dict[str, Any]:
    """text->edit, edit->text and edit->edit (other photos only) metrics, with chance levels.

    With `instr_emb` (one row per pair, NaN where it has no instruction) text->edit is also ranked by the
    instruction alone and by the hybrid fusion that `editsearch query` uses by default.
    """
    labels = np.array(es.labels)
    out: dict[str, Any] = {}
    if text_emb is not None:
        q_labels = np.array([lab for lab, ts in es.label_texts.items() for _ in ts])
        rel = torch.from_numpy(q_labels[:, None] == labels[None, :])
        keep = rel.any(1)
        by_pair = text_emb[keep] @ pair_emb.T
        out["text->edit"] = retrieval_metrics(by_pair, rel[keep])
        out["text->edit"]["chance"] = chance_metrics(rel[keep])
        if instr_emb is not None:
            legible = legibility_of(pair_emb.numpy(), es.instructions, instr_emb.numpy())
            out.update(_instruction_rankings(by_pair, text_emb[keep] @ instr_emb.T, rel[keep], legible))
        rel_t = rel.T
        keep_t = rel_t.any(1)
        out["edit->text"] = retrieval_metrics(pair_emb[keep_t] @ text_emb.T, rel_t[keep_t])
    photos = np.array(es.photos)
    same_label = torch.from_numpy(labels[:, None] == labels[None, :])
    other_photo = torch.from_numpy(photos[:, None] != photos[None, :])
    scores = (pair_emb @ pair_emb.T).masked_fill(~other_photo, float("-inf"))
    rel = same_label & other_photo
    keep = rel.any(1)
    if keep.any():  # else no pair has another of its label on another photo: nothing to ask
        out["edit->edit"] = retrieval_metrics(scores[keep], rel[keep])
        out["edit->edit"]["chance"] = chance_metrics(rel[keep])
    return out


def _instruction_rankings(
    pair: torch.Tensor, instr: torch.Tensor, rel: torch.Tensor, legibility: float | None
) -> dict[str, Any]:
    """text->edit ranked by the stored instruction alone and by the default hybrid fusion."""
    from editsearch.search.ranking import fuse, instruction_trust

    alone = torch.nan_to_num(instr, nan=-2.0)  # no instruction: last
    hybrid = torch.from_numpy(fuse(pair.numpy(), instr.numpy(), trust=instruction_trust(legibility)).astype(np.float32))
    return {
        "text->edit (instruction)": retrieval_metrics(alone, rel),
        "text->edit (hybrid)": retrieval_metrics(hybrid, rel),
    }


def instruction_embeddings(model: Any, es: EvalSet) -> torch.Tensor | None:
    """Each pair's instruction embedded by the model's text tower (NaN rows: none); None if no pair has one."""
    stored = sorted({t for t in es.instructions if t})
    if not stored or not hasattr(model, "embed_texts"):
        return None
    emb = model.embed_texts(stored).float()
    row = {t: i for i, t in enumerate(stored)}
    nan = torch.full((emb.shape[1],), float("nan"))
    return torch.stack([emb[row[t]] if t else nan for t in es.instructions])


def evaluate_model(
    model: Any, es: EvalSet, batch_size: int = 64, pair_emb: torch.Tensor | None = None
) -> dict[str, Any]:
    """Embed an EvalSet with an EditCLIP (or anything with embed_pairs, and embed_texts if it reads text) and
    score it; `pair_emb` skips embedding pairs already embedded by this model."""
    if pair_emb is None:
        pair_emb = model.embed_pairs(es.befores, es.afters, batch_size=batch_size)
    texts = [t for ts in es.label_texts.values() for t in ts]
    text_emb = model.embed_texts(texts) if texts and hasattr(model, "embed_texts") else None
    return evaluate_embeddings(pair_emb, text_emb, es, instruction_embeddings(model, es))
