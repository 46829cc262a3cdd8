"""The ranking API: search an index by text, exemplar pair or edit id, or weighted combinations of them.

Scores are the cosines of the EditCLIP paper (Wang et al. 2025): EC2T = cos(pair embedding, text
embedding) for a text query and EC2EC = cos(pair embedding A, pair embedding B) for a pair query. A
combined query is the rclip-style sum of weighted, normalised term vectors (negatives subtracted),
renormalised.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from editsearch.data.records import EditPair, ImageRef
from editsearch.errors import EditSearchError
from editsearch.images import ImageLike
from editsearch.index.errors import EditIndexError
from editsearch.index.instructions import InstructionMatrix
from editsearch.index.store import EditIndex, Hit
from editsearch.jsonl import read_jsonl
from editsearch.limits import MAX_TEXT_CHARS, TEXT_CACHE_SIZE, check_text, lru_lookup
from editsearch.locators import CELL_SCHEME
from editsearch.ranking import check_rank, rank_text
from editsearch.towers.cache import stamped_fingerprint
from editsearch.towers.runtime import OnnxTextTower, OnnxVisionTower, shared_tower

if TYPE_CHECKING:
    from editsearch.encoder import EditCLIP

PairLike = EditPair | tuple[ImageLike, ImageLike]
Term = str | int | PairLike  # text, edit id, or a (before, after) pair
QUERY_KEYS = ("text", "before", "after", "edit_id", "not_text", "k", "where", "contains", "rank")


@dataclass
class SearchResult:
    """One ranked edit: rank, id, score, instruction, locators, metadata; text queries add component `scores`."""

    rank: int
    id: int | None
    score: float
    instruction: str | None
    before: str
    after: str
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float | None] | None = None  # {"pair": EC2T, "instruction": text↔instruction or None}

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the CLI contract."""
        return asdict(self)


@dataclass
class QueryOutcome:
    """One query of a batch: the query as run (k and filters filled in), its results, or why it failed."""

    query: dict[str, Any]
    results: list[SearchResult] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `query --json`: {"query", "results"} plus "error" when it failed."""
        out: dict[str, Any] = {"query": self.query, "results": [r.to_dict() for r in self.results]}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class QueryLineError:
    """A line of a queries file that is not a query (invalid JSON, not an object); kept in its place."""

    error: str


class EditSearch:
    """Search one index with the model that built it (loaded only when a query needs embedding).

    Queries embed with the model's exported ONNX towers when they exist for the index's fingerprint (no
    torch); otherwise the torch model is loaded once, and its towers are exported for the next process.
    """

    def __init__(self, index: EditIndex, model: str | Path | EditCLIP | None = None):
        self.index = index
        self._model = model
        self._towers: dict[str, OnnxTextTower | OnnxVisionTower | None] = {}
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()  # the last TEXT_CACHE_SIZE texts embedded
        self._loaded = False  # True once the model was loaded here by name (then its towers may be exported)
        self._instructions = InstructionMatrix()  # the index's instruction vectors, for instruction-aware ranking

    @classmethod
    def open(cls, index_dir: str | Path | None = None, model: str | Path | EditCLIP | None = None) -> EditSearch:
        """Open an index for searching; `model` defaults to the index's own (a different one is refused)."""
        index = EditIndex.open(index_dir)
        try:
            if index.model_info is None:
                raise EditIndexError(
                    f"the index at {index.directory} is empty; add edits with `editsearch build-index`"
                )
            if model is not None and not isinstance(model, (str, Path)):
                index.check_model(model.fingerprint, model.name)
        except BaseException:
            index.close()
            raise
        return cls(index, model)

    @property
    def model(self) -> EditCLIP:
        """The index's model: loaded on first use, refused if its fingerprint differs from the index's."""
        if self._model is None or isinstance(self._model, (str, Path)):
            from editsearch.encoder import load_model

            info = self.index.model_info
            assert info is not None
            model = load_model(self._model or info["name"])
            self.index.check_model(model.fingerprint, model.name)
            self._model = model
            self._loaded = True
        return self._model

    def _fast_tower(self, kind: str) -> OnnxTextTower | OnnxVisionTower | None:
        """The exported `kind` ('text' or 'vision') tower of the index's model, or None (then torch embeds)."""
        if kind not in self._towers:
            self._towers[kind] = None
            if self._model is None or isinstance(self._model, (str, Path)):
                name = str(self._model or self.index.model_info["name"])  # type: ignore[index]
                fingerprint = stamped_fingerprint(name)
                if fingerprint is not None:
                    self.index.check_model(fingerprint, name)  # a name now meaning another model is refused
                    self._towers[kind] = shared_tower(kind, fingerprint)
        return self._towers[kind]

    def _export(self, kind: str) -> None:
        """After a torch embedding: export the model's `kind` tower so later processes skip torch."""
        if not self._loaded:
            return
        from editsearch.towers.export import export_towers

        try:
            export_towers(self.model, self.model.name, text=kind == "text", vision=kind == "vision")
        except Exception as e:  # noqa: BLE001 - a cache that cannot be written must not fail the query
            print(f"editsearch: could not cache the {kind} tower for fast queries ({e})", file=sys.stderr)

    def _embed_texts(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Text embeddings, the ones not cached in one batch (UsageError: a text over MAX_TEXT_CHARS)."""
        return lru_lookup(self._texts, [check_text(t, "a text query") for t in texts], self._encode, TEXT_CACHE_SIZE)

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Text embeddings [N, D] by the exported text tower, else by the torch model."""
        tower = self._fast_tower("text")
        if isinstance(tower, OnnxTextTower):
            return tower.embed_texts(texts)
        vectors = self.model.embed_texts(texts).numpy()
        self._export("text")
        return vectors

    def _embed_pairs(self, pairs: Sequence[PairLike]) -> np.ndarray:
        """Pair embeddings [N, D], by the exported vision tower when there is one."""
        tower = self._fast_tower("vision")
        if isinstance(tower, OnnxVisionTower):
            return tower.embed_pairs(load_pairs(pairs))
        vectors = embed_pairs(self.model, pairs)
        self._export("vision")
        return vectors

    def close(self) -> None:
        """Close the index."""
        self.index.close()

    def __enter__(self) -> EditSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries --------------------------------------------------------------------------------------

    def search_text(self, text: str, k: int = 10, rank: str = "hybrid", **filters: Any) -> list[SearchResult]:
        """Edits ranked against a text instruction by `rank`: pair (EC2T), instruction or hybrid (both fused)."""
        return self.search([text], k=k, rank=rank, **filters)

    def search_pair(self, before: ImageLike, after: ImageLike, k: int = 10, **filters: Any) -> list[SearchResult]:
        """Edits ranked by EC2EC against an exemplar (before, after) pair."""
        return self.search([(before, after)], k=k, **filters)

    def search_edit(self, edit_id: int, k: int = 10, **filters: Any) -> list[SearchResult]:
        """Edits most like an indexed edit (by EC2EC on stored vectors), the edit itself excluded."""
        return self.search([int(edit_id)], k=k, **filters)

    def search(
        self,
        positive: Sequence[Term] = (),
        negative: Sequence[Term] = (),
        weights: Sequence[float] | None = None,
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        rank: str = "hybrid",
    ) -> list[SearchResult]:
        """Rank edits by a weighted combination of text, pair and edit-id terms.

        `weights` has one entry per positive term, then one per negative term (default 1 each).
        `where` is SQL over the catalog's edits columns (e.g. "source = 'ip2p'"); `contains` is a
        full-text match on instructions. Edit-id terms are excluded from the results. A query of text
        terms only is ranked by `rank` (see editsearch.ranking); other queries by the pair alone.
        """
        check_rank(rank)
        query = self.query_vector(positive, negative, weights)
        if all(isinstance(t, str) for t in [*positive, *negative]):
            return self.rank_text_vector(query, k, rank, where, contains)
        exclude = {int(t) for t in [*positive, *negative] if isinstance(t, (int, np.integer))}
        hits = self.index.search(query, k, where=where, contains=contains, exclude=[exclude])[0]
        return to_results(hits)

    def rank_text_vector(
        self, query: np.ndarray, k: int, rank: str, where: str | None = None, contains: str | None = None
    ) -> list[SearchResult]:
        """Results for a text query vector under `rank`, each with its pair and instruction scores."""
        ranked = rank_text(self.index, self._instructions, query, k, check_rank(rank), where, contains)
        return [
            SearchResult(
                n,
                r.edit["id"],
                r.score,
                r.edit["instruction"],
                r.edit["before"],
                r.edit["after"],
                r.edit["metadata"],
                {"pair": r.pair, "instruction": r.instruction},
            )
            for n, r in enumerate(ranked, start=1)
        ]

    def search_vectors(
        self,
        queries: np.ndarray,
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        exclude: Sequence[set[int]] | None = None,
    ) -> list[list[SearchResult]]:
        """Batch search with ready query vectors [Q, D] (unit norm), one result list per row."""
        return [to_results(h) for h in self.index.search(queries, k, where=where, contains=contains, exclude=exclude)]

    def run_batch(
        self,
        specs: Iterable[dict[str, Any] | QueryLineError],
        k: int = 10,
        where: str | None = None,
        contains: str | None = None,
        base: str | Path | None = None,
        rank: str = "hybrid",
    ) -> list[QueryOutcome]:
        """Run query specs ({text} | {before, after} | {edit_id}, plus not_text, k, where, contains, rank), in order.

        Texts are embedded in one batch and pair queries sharing (k, where, contains) are searched together;
        text-only queries are ranked one by one by their `rank`. A spec that fails gets an `error` and no
        results; the others still run. Relative image paths are taken from `base`. `k`, `where`, `contains`
        and `rank` are the defaults a spec may override.
        """
        specs = list(specs)
        outcomes: list[QueryOutcome] = []
        valid = [s for s in specs if isinstance(s, dict)]
        texts = sorted({str(t) for s in valid for t in spec_values(s, "text") + spec_values(s, "not_text")})
        texts = [t for t in texts if len(t) <= MAX_TEXT_CHARS]  # a longer one fails its own line below
        if texts:  # one batched forward; checks the model: a wrong one fails the whole batch
            self._embed_texts(texts)
        if any("before" in s for s in valid) and self._fast_tower("vision") is None:
            _ = self.model  # load and check the model once: a wrong model fails the whole batch
        groups: dict[tuple[int, str | None, str | None], list[int]] = {}
        vectors: dict[int, np.ndarray] = {}
        excludes: dict[int, set[int]] = {}
        for i, spec in enumerate(specs):
            if isinstance(spec, QueryLineError):
                outcomes.append(QueryOutcome({}, error=spec.error))
                continue
            echo = dict(spec)
            outcomes.append(QueryOutcome(echo))
            try:
                options = (_positive_int(spec.get("k", k)), spec.get("where", where), spec.get("contains", contains))
                echo["k"] = options[0]
                echo.update({name: v for name, v in (("where", options[1]), ("contains", options[2])) if v})
                positive, negative = _spec_terms(spec, Path(base) if base is not None else None)
                vectors[i] = self.query_vector(positive, negative)
                if all(isinstance(t, str) for t in positive + negative):
                    how = check_rank(spec.get("rank", rank))
                    outcomes[i].results = self.rank_text_vector(vectors[i], options[0], how, *options[1:])
                    continue
                excludes[i] = {t for t in positive + negative if isinstance(t, int)}
                groups.setdefault(options, []).append(i)
            except (EditSearchError, ValueError, TypeError, OSError) as e:
                outcomes[i].error = str(e)
        for (gk, gwhere, gcontains), members in groups.items():
            matrix = np.stack([vectors[i] for i in members])
            try:
                found = self.search_vectors(matrix, gk, gwhere, gcontains, [excludes[i] for i in members])
            except EditIndexError as e:  # a bad where/contains: every query that used it fails
                for i in members:
                    outcomes[i].error = str(e)
                continue
            for i, results in zip(members, found, strict=True):
                outcomes[i].results = results
        return outcomes

    def query_vector(
        self, positive: Sequence[Term], negative: Sequence[Term] = (), weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """The unit query vector: sum of weighted normalised term vectors, negatives subtracted."""
        terms = [*positive, *negative]
        if not terms:
            raise ValueError("a query needs at least one term (text, (before, after) pair or edit id)")
        weights = [1.0] * len(terms) if weights is None else [float(w) for w in weights]
        if len(weights) != len(terms):
            raise ValueError(f"{len(weights)} weights for {len(terms)} query terms")
        signs = [1.0] * len(positive) + [-1.0] * len(negative)
        total = np.zeros(self.index.model_info["dim"], dtype=np.float64)  # type: ignore[index]
        for term, weight, sign in zip(terms, weights, signs, strict=True):
            total += sign * weight * _unit(self.term_vector(term))
        norm = np.linalg.norm(total)
        if norm < 1e-8:
            raise ValueError("the query terms cancel out (their weighted sum is zero)")
        return (total / norm).astype(np.float32)

    def term_vector(self, term: Term) -> np.ndarray:
        """One term's embedding: text -> text tower, pair -> EditCLIP, edit id -> its stored vector."""
        if isinstance(term, str):
            return self._embed_texts([term])[0]
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            return self.index.stored_vector(int(term))
        return self._embed_pairs([term])[0]


def rank_edits(
    candidates: Sequence[PairLike], query: str | PairLike, model: str | Path | EditCLIP | None = None
) -> list[SearchResult]:
    """Rank a given list of pairs (EditPair or (before, after)) against a text or pair query, no index.

    Scores are EC2T for a text query and EC2EC for a pair query; `id` is the candidate's list position.
    """
    from editsearch.encoder import load_model

    if model is None or isinstance(model, (str, Path)):
        model = load_model(model)
    if not candidates:
        return []
    pair_vecs = embed_pairs(model, candidates)
    qvec = model.embed_texts([query])[0].numpy() if isinstance(query, str) else embed_pairs(model, [query])[0]
    scores = pair_vecs @ _unit(qvec)
    order = sorted(range(len(candidates)), key=lambda i: (-round(float(scores[i]), 6), i))
    results = []
    for rank, i in enumerate(order, start=1):
        before, after, instruction, metadata = _describe(candidates[i])
        results.append(SearchResult(rank, i, float(scores[i]), instruction, before, after, metadata))
    return results


def embed_pairs(model: EditCLIP, pairs: Sequence[PairLike], batch_size: int = 32) -> np.ndarray:
    """Embeddings [N, D] of EditPairs or (before, after) tuples of paths, bytes or PIL images."""
    loaded = load_pairs(pairs)
    befores, afters = [b for b, _ in loaded], [a for _, a in loaded]
    return model.embed_pairs(befores, afters, batch_size=batch_size).numpy()


def load_pairs(pairs: Sequence[PairLike]) -> list[tuple[Any, Any]]:
    """(before, after) PIL images of EditPairs or (before, after) tuples of paths, bytes or PIL images."""
    return [pair.load() if isinstance(pair, EditPair) else (_load(pair[0]), _load(pair[1])) for pair in pairs]


def read_queries(path: str | Path) -> list[dict[str, Any] | QueryLineError]:
    """The queries of a JSONL file, one per non-blank line; a bad line becomes a QueryLineError in its place."""
    return [row if isinstance(row, dict) else QueryLineError(f"line {n}: {row}") for n, row in read_jsonl(path)]


def spec_values(spec: dict[str, Any], key: str) -> list[Any]:
    """The values of one key of a query spec as a list (absent: none; a single value or a list of them)."""
    value = spec.get(key)
    return [] if value is None else (list(value) if isinstance(value, list) else [value])


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"k must be a positive integer, got {value!r}")
    return value


def _spec_terms(spec: dict[str, Any], base: Path | None) -> tuple[list[Any], list[Any]]:
    """(positive, negative) terms of one query spec; relative image paths are taken from `base`."""
    unknown = set(spec) - set(QUERY_KEYS)
    if unknown:
        raise ValueError(f"unknown query keys: {', '.join(sorted(unknown))}")
    if ("before" in spec) != ("after" in spec):
        raise ValueError("'before' and 'after' go together")
    texts = [str(t) for t in spec_values(spec, "text") + spec_values(spec, "not_text")]
    if not all(t.strip() for t in texts):
        raise ValueError("a text term is empty")
    for text in texts:
        check_text(text, "a text term")
    positive: list[Any] = [str(t) for t in spec_values(spec, "text")]
    if "before" in spec:
        positive.append((_resolve(spec["before"], base), _resolve(spec["after"], base)))
    for edit_id in spec_values(spec, "edit_id"):
        if not isinstance(edit_id, int) or isinstance(edit_id, bool) or not 0 < edit_id < 2**63:
            raise ValueError(f"edit_id must be a positive 64-bit integer, got {edit_id!r}")
        positive.append(edit_id)
    if not positive:
        raise ValueError("a query needs 'text', 'before'+'after' or 'edit_id'")
    return positive, [str(t) for t in spec_values(spec, "not_text")]


def _resolve(path: Any, base: Path | None) -> str:
    p = Path(str(path)).expanduser()
    return str(p if p.is_absolute() or base is None else base / p)


def to_results(hits: Sequence[Hit]) -> list[SearchResult]:
    """SearchResults (ranked from 1) from index hits."""
    return [
        SearchResult(
            rank, h.edit["id"], h.score, h.edit["instruction"], h.edit["before"], h.edit["after"], h.edit["metadata"]
        )
        for rank, h in enumerate(hits, start=1)
    ]


def _load(image: ImageLike) -> Any:
    """A PIL image from a path, locator, bytes or PIL image (raises ImageLoadError)."""
    from editsearch.images import load_image

    if isinstance(image, str) and image.startswith(CELL_SCHEME) and not Path(image).exists():
        return ImageRef.from_locator(image).load()
    return load_image(image)


def _describe(pair: PairLike) -> tuple[str, str, str | None, dict[str, Any]]:
    """(before, after, instruction, metadata) of a candidate, for its SearchResult."""
    if isinstance(pair, EditPair):
        return pair.before.locator, pair.after.locator, pair.instruction, dict(pair.metadata)
    before, after = pair
    return _name(before), _name(after), None, {}


def _name(image: ImageLike) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v
