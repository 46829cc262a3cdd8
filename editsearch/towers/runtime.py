"""ONNX Runtime towers: text and pair embeddings from a model's exported graphs, without torch."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from editsearch.towers.cache import graph_ready, model_dir, read_json, weights_path
from editsearch.towers.coalesce import Coalescer

if TYPE_CHECKING:
    from editsearch.media.images import ImageLike

T = TypeVar("T")
_noted: list[str] = []
_OPEN_TOWERS: dict[tuple[str, str], Any] = {}  # (kind, fingerprint) -> a tower opened in this process
_OPENING = threading.Lock()


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


def _session(runtime: ModuleType, path: Path, prepack: bool, spin: bool = True) -> Any:
    """An inference session on the CPU; `spin` False: its idle intra-op threads sleep instead of spin-waiting.

    `prepack`: lay the weights out for the CPU's kernels as the session opens, which makes opening slower (40 ms
    for the MiniLM) and each run faster (2 ms): worth it in a process that runs many queries (a server), not in
    one that answers one and exits. Without it the session reads the mapped weights as they are."""
    options = runtime.SessionOptions()
    options.log_severity_level = 3
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return runtime.InferenceSession(str(path), options, providers=providers(runtime))


def providers(runtime: ModuleType) -> list[str]:
    """Where a session runs: on the GPU when this ONNX Runtime has CUDA (onnxruntime-gpu), else on the CPU."""
    available = runtime.get_available_providers()
    return [name for name in ("CUDAExecutionProvider", "CPUExecutionProvider") if name in available]


class OnnxTextTower:
    """A text tower's graph (text.onnx) and the tokenizer it was traced with: texts -> L2-normalised embeddings."""

    def __init__(
        self,
        runtime: ModuleType,
        path: Path,
        tokens: Callable[[Sequence[str]], dict[str, np.ndarray]],
        prepack: bool = False,
    ) -> None:
        self.tokens = tokens
        self.session = _session(runtime, path, prepack, spin=False)  # a server's request threads need the cores
        self.batcher = Coalescer(self._run)  # one batch at a time: `tokenizers` objects are not thread-safe either

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> float32 [N, D], unit rows; texts asked for by other threads meanwhile share a batch."""
        return self.batcher(texts)

    def _run(self, texts: list[str]) -> np.ndarray:
        return self.session.run(None, self.tokens(texts))[0]


class OnnxVisionTower:
    """EditCLIP's vision tower and pair fusion (vision.onnx) with its preprocessing: pairs -> unit embeddings."""

    def __init__(
        self,
        runtime: ModuleType,
        path: Path,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        prepack: bool = False,
    ) -> None:
        self.session = _session(runtime, path, prepack)
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)

    def embed_pairs(self, pairs: Sequence[tuple[ImageLike, ImageLike]], batch_size: int = 32) -> np.ndarray:
        """(before, after) pairs -> float32 [N, D], unit rows."""
        from editsearch.towers.pixels import pair_inputs  # PIL: a text query needs none of it

        out = []
        for start in range(0, len(pairs), batch_size):
            x = pair_inputs(pairs[start : start + batch_size], self.image_size, self.mean, self.std)
            out.append(self.session.run(None, {"pairs": x})[0])
        return np.concatenate(out)


def text_tokens(text: dict[str, Any]) -> Callable[[Sequence[str]], dict[str, np.ndarray]] | None:
    """The tokenizer of an exported text tower, by its kind; None for a kind this version does not know."""
    if text.get("kind") == "minilm":
        from editsearch.towers.minilm_tokens import MiniLMTokens  # imports tokenizers, which may be missing

        return MiniLMTokens(Path(text["tokenizer"]), Path(text["words"]), int(text["max_length"]))
    if text.get("kind") == "open_clip":
        from editsearch.towers.clip_tokens import ClipTokens  # ftfy and regex: only CLIP's cleaning needs them

        return ClipTokens(Path(text["tokenizer"]), int(text["max_length"]), str(text["pattern"]))
    return None


def shared_tower(kind: str, fingerprint: str, prepack: bool = False) -> OnnxTextTower | OnnxVisionTower | None:
    """The `kind` ('text' or 'vision') tower of this fingerprint, opened once per process and then shared; `prepack`
    (for a process that will run many queries) applies when this call is the one that opens it."""
    with _OPENING:
        tower = _OPEN_TOWERS.get((kind, fingerprint))
        if tower is None:
            tower = (open_text_tower if kind == "text" else open_vision_tower)(fingerprint, prepack)
            if tower is not None:  # a tower not exported yet is looked for again next time
                _OPEN_TOWERS[(kind, fingerprint)] = tower
        return tower


def open_text_tower(fingerprint: str, prepack: bool = False) -> OnnxTextTower | None:
    """The exported text tower of the model with this fingerprint, or None (not exported, or no runtime)."""
    manifest = read_json(model_dir(fingerprint) / "model.json")
    text = manifest.get("text") if manifest else None
    if not text or not graph_ready(Path(text.get("onnx", ""))):
        return None
    needed = ("tokenizer", "words") if text.get("kind") == "minilm" else ("tokenizer",)
    if not all(Path(text.get(key, "")).is_file() for key in needed):
        return None
    runtime = load_runtime()
    if runtime is None:
        return None
    graph = Path(text["onnx"])
    files = [graph, weights_path(graph), *(Path(text[key]) for key in needed)]

    def opened() -> OnnxTextTower | None:
        tokens = text_tokens(text)
        return OnnxTextTower(runtime, graph, tokens, prepack) if tokens else None

    return undamaged(opened, files, "text")


def open_vision_tower(fingerprint: str, prepack: bool = False) -> OnnxVisionTower | None:
    """The exported vision tower of the model with this fingerprint, or None (not exported, or no runtime)."""
    folder = model_dir(fingerprint)
    manifest = read_json(folder / "model.json")
    vision = manifest.get("vision") if manifest else None
    if not vision or not graph_ready(folder / "vision.onnx"):
        return None
    runtime = load_runtime()
    if runtime is None:
        return None
    size, mean, std = int(vision["image_size"]), vision["mean"], vision["std"]
    graph = folder / "vision.onnx"
    return undamaged(
        partial(OnnxVisionTower, runtime, graph, size, mean, std, prepack), [graph, weights_path(graph)], "vision"
    )


def undamaged(open_tower: Callable[[], T], files: list[Path], kind: str) -> T | None:
    """The tower `open_tower` opens, or None when its exported files are damaged (then they are removed, so the
    torch model that answers instead exports them again, and the reason goes to stderr)."""
    try:
        return open_tower()
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's errors are plain Exceptions; a damaged cache must not fail
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        print(f"editsearch: the exported {kind} tower is damaged ({reason}); it is exported again", file=sys.stderr)
        for path in files:
            path.unlink(missing_ok=True)
        return None
