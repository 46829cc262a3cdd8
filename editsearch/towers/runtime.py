"""ONNX Runtime towers: text and pair embeddings from a model's exported graphs, without torch."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from editsearch.images import ImageLike
from editsearch.towers.cache import model_dir, read_json
from editsearch.towers.pixels import pair_inputs

_noted: list[str] = []


def load_runtime() -> ModuleType | None:
    """onnxruntime when it and `tokenizers` import; else None, saying once on stderr why queries are slower."""
    try:
        import onnxruntime
        import tokenizers  # noqa: F401 - the text tower's tokenizer
    except ImportError as e:
        if not _noted:
            _noted.append(str(e))
            print(
                f"editsearch: {e.name or 'onnxruntime'} is not installed, so queries load the full torch model "
                "(seconds slower than the ONNX path); `pip install onnxruntime tokenizers` makes them fast",
                file=sys.stderr,
            )
        return None
    return onnxruntime


def _session(runtime: ModuleType, path: Path) -> Any:
    options = runtime.SessionOptions()
    options.log_severity_level = 3
    return runtime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTextTower:
    """A frozen text tower (tokenizer.json + text.onnx): texts -> L2-normalised embeddings."""

    def __init__(self, runtime: ModuleType, folder: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.session = _session(runtime, folder / "text.onnx")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> float32 [N, D], unit rows."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


class OnnxVisionTower:
    """EditCLIP's 6-channel vision tower (vision.onnx) with its preprocessing: pairs -> L2-normalised embeddings."""

    def __init__(self, runtime: ModuleType, path: Path, image_size: int, mean: Sequence[float], std: Sequence[float]):
        self.session = _session(runtime, path)
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)

    def embed_pairs(self, pairs: Sequence[tuple[ImageLike, ImageLike]], batch_size: int = 32) -> np.ndarray:
        """(before, after) pairs -> float32 [N, D], unit rows."""
        out = []
        for start in range(0, len(pairs), batch_size):
            x = pair_inputs(pairs[start : start + batch_size], self.image_size, self.mean, self.std)
            out.append(self.session.run(None, {"pairs": x})[0])
        return np.concatenate(out)


def open_text_tower(fingerprint: str) -> OnnxTextTower | None:
    """The exported text tower of the model with this fingerprint, or None (not exported, or no runtime)."""
    manifest = read_json(model_dir(fingerprint) / "model.json")
    text = manifest.get("text") if manifest else None
    if not text or not (Path(text["folder"]) / "text.onnx").is_file():
        return None
    runtime = load_runtime()
    return OnnxTextTower(runtime, Path(text["folder"]), int(text["max_length"])) if runtime else None


def open_vision_tower(fingerprint: str) -> OnnxVisionTower | None:
    """The exported vision tower of the model with this fingerprint, or None (not exported, or no runtime)."""
    folder = model_dir(fingerprint)
    manifest = read_json(folder / "model.json")
    vision = manifest.get("vision") if manifest else None
    if not vision or not (folder / "vision.onnx").is_file():
        return None
    runtime = load_runtime()
    if runtime is None:
        return None
    return OnnxVisionTower(runtime, folder / "vision.onnx", int(vision["image_size"]), vision["mean"], vision["std"])
