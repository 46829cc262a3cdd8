"""The one way to get the model of an index: its name and fingerprint at once, ONNX towers where exported, torch else.

Every command, the server and the Python API resolve a model through `Embedder`: building an index,
searching it, scoring pairs. Queries embed with the model's exported ONNX towers when a stamp says the
name still means the expected fingerprint (no torch import); otherwise the torch EditCLIP is loaded once,
checked against the index's recorded fingerprint, and its towers are exported for the next process.
Torch forwards run under a lock, so one Embedder can serve many threads.
"""

from __future__ import annotations

import shlex
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.core.errors import ModelMismatchError
from editsearch.core.limits import TEXT_CACHE_SIZE, lru_lookup
from editsearch.encoder.identity import ModelRow
from editsearch.towers.cache import model_dir, read_json, stamped_fingerprint
from editsearch.towers.runtime import OnnxTextTower, OnnxVisionTower, shared_tower

if TYPE_CHECKING:
    from editsearch.encoder import EditCLIP

ModelLike = str | Path | Any  # a registry name, a folder or hub id, or a loaded EditCLIP
Tower = OnnxTextTower | OnnxVisionTower


def recorded_name(name: str) -> str:
    """The name a catalog records for a model: a model folder's absolute path (to reload it from anywhere), else it."""
    path = Path(name).expanduser()
    return str(path.resolve()) if name and path.exists() else name


def check_fingerprint(
    recorded: ModelRow | None, fingerprint: str, name: str = "", index_dir: str | Path | None = None
) -> None:
    """Refuse (ModelMismatchError) a model other than the one an index recorded, naming the `rebuild` that fixes it."""
    if recorded is None or recorded["fingerprint"] == fingerprint:
        return
    fix = f"`editsearch rebuild --index {shlex.quote(str(index_dir or 'DIR'))} --model {shlex.quote(name or 'MODEL')}`"
    if name and recorded_name(name) == recorded["name"]:
        raise ModelMismatchError(
            f"this index was built with an earlier version of model '{recorded['name']}' (fingerprint "
            f"{recorded['fingerprint'][:12]}); that model now has fingerprint {fingerprint[:12]}, and the index's "
            f"vectors are not comparable with it. Run {fix} to re-embed the index with the model as it is now."
        )
    raise ModelMismatchError(
        f"this index was built with model '{recorded['name']}' (fingerprint {recorded['fingerprint'][:12]}), "
        f"but '{name or '?'}' has fingerprint {fingerprint[:12]}: its vectors are not comparable. "
        f"Use the index's own model, build a new index (--index NEW_DIR) with this one, or re-embed this index "
        f"with it: {fix}."
    )


class Embedder:
    """A model as an index uses it: `name` and `fingerprint` without loading, embeddings by ONNX or torch.

    Stands in for the EditCLIP itself where a build needs one (attributes it lacks come from the torch model,
    loaded on first use), so an unchanged re-index never loads weights.
    """

    def __init__(
        self, model: ModelLike | None = None, recorded: ModelRow | None = None, index_dir: str | Path | None = None
    ) -> None:
        self.recorded = recorded
        self.index_dir = index_dir  # the index's folder, named in a refusal's `rebuild` hint
        self._model: EditCLIP | None = None if model is None or isinstance(model, (str, Path)) else model
        if self._model is not None:
            check_fingerprint(recorded, self._model.fingerprint, self._model.name, index_dir)
        self._name = None if self._model is not None else (str(model) if model is not None else None)
        self._loaded_here = False  # loaded by name here: then its towers may be exported for later processes
        self._towers: dict[str, Tower | None] = {}
        self._lock = threading.RLock()
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()  # the last TEXT_CACHE_SIZE texts embedded
        self._texts_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model's name: as given, else the index's recorded one, else the shipped default."""
        if self._model is not None:
            return self._model.name
        if self._name is not None:
            return self._name
        if self.recorded is not None:
            return self.recorded["name"]
        from editsearch.encoder import DEFAULT_MODEL

        return DEFAULT_MODEL

    @property
    def own(self) -> bool:
        """Whether this is the index's recorded model, known without loading it."""
        return self._model is None and self.recorded is not None and self._name in (None, self.recorded["name"])

    @property
    def fingerprint(self) -> str:
        """The weights' fingerprint: the recorded one for the index's own model, else the loaded model's."""
        if self.own:
            return self.recorded["fingerprint"]  # type: ignore[index]
        return self.model.fingerprint

    @property
    def trained(self) -> bool:
        """Whether the weights were trained (False: random weights, scores are noise), without torch where known."""
        if self.own:
            return bool(self.recorded["trained"])  # type: ignore[index]
        fingerprint = stamped_fingerprint(self.name) if self._model is None else None
        exported = read_json(model_dir(fingerprint) / "model.json") if fingerprint else None
        if exported is not None and "trained" in exported:
            return bool(exported["trained"])
        return bool(self.model.trained)

    @property
    def loaded(self) -> bool:
        """Whether the torch model is in memory."""
        return self._model is not None

    @property
    def model(self) -> EditCLIP:
        """The torch EditCLIP: loaded once, refused (ModelMismatchError) if it is not the index's model."""
        with self._lock:
            if self._model is None:
                from editsearch.encoder import load_model

                model = load_model(self.name)
                check_fingerprint(self.recorded, model.fingerprint, model.name, self.index_dir)
                self._model, self._loaded_here = model, True
            return self._model

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.model, attr)

    def tower(self, kind: str) -> Tower | None:
        """The exported `kind` ('text' or 'vision') tower, or None (then torch embeds)."""
        if kind not in self._towers:
            self._towers[kind] = None
            if self._model is None or self._loaded_here:
                fingerprint = stamped_fingerprint(self.name)
                if fingerprint is not None:
                    check_fingerprint(self.recorded, fingerprint, self.name, self.index_dir)  # the name, other weights
                    self._towers[kind] = shared_tower(kind, fingerprint)
        return self._towers[kind]

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Text embeddings [N, D] by the exported text tower, else by the torch model."""
        tower = self.tower("text")
        if isinstance(tower, OnnxTextTower):
            return tower.embed_texts(list(texts))
        with self._lock:
            vectors = self.model.embed_texts(list(texts)).numpy()
        self._export("text")
        return vectors

    def cached_text_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Text embeddings, the ones not among the last TEXT_CACHE_SIZE embedded computed in one call.

        The cache is shared by every searcher of this Embedder (a server's readers); threads may call at once.
        """
        with self._texts_lock:
            known = {t: self._texts[t] for t in texts if t in self._texts}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.text_vectors(missing), strict=True))
        with self._texts_lock:
            lru_lookup(self._texts, list(known), lambda keys: [known[k] for k in keys], TEXT_CACHE_SIZE)
        return [known[t] for t in texts]

    def pair_vectors(self, pairs: Sequence[tuple[Any, Any]], batch_size: int = 32) -> np.ndarray:
        """Pair embeddings [N, D] of loaded (before, after) images, by the exported vision tower when there is one."""
        tower = self.tower("vision")
        if isinstance(tower, OnnxVisionTower):
            return tower.embed_pairs(pairs, batch_size=batch_size)
        with self._lock:
            vectors = self.model.embed_pairs([b for b, _ in pairs], [a for _, a in pairs], batch_size=batch_size)
        self._export("vision")
        return vectors.numpy()

    def ready_towers(self) -> bool:
        """Whether both ONNX towers can serve queries now, exporting them if need be (loads the model); they are
        opened for a process that runs many queries (a server: weights prepacked)."""
        model = self.model
        if self._towers_match(model.fingerprint):
            return True
        from editsearch.encoder.export import export_towers

        try:
            exported = export_towers(model, self.name)
        except Exception:  # noqa: BLE001 - a cache that cannot be written leaves the torch path, which works
            return False
        self._towers.clear()
        return exported and self._towers_match(model.fingerprint)

    def _towers_match(self, fingerprint: str) -> bool:
        return stamped_fingerprint(self.name) == fingerprint and all(
            shared_tower(kind, fingerprint, prepack=True) for kind in ("text", "vision")
        )

    def _export(self, kind: str) -> None:
        """After a torch embedding: export the model's `kind` tower so later processes skip torch."""
        if not self._loaded_here:
            return
        from editsearch.encoder.export import export_towers

        try:
            export_towers(self.model, self.name, text=kind == "text", vision=kind == "vision")
        except Exception as e:  # noqa: BLE001 - a cache that cannot be written must not fail the query
            print(f"editsearch: could not cache the {kind} tower for fast queries ({e})", file=sys.stderr)
