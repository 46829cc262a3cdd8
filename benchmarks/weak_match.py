"""Precision and recall of the weak-match cue (editsearch/search/weak_match.py), for text and for exemplar queries.

    python -m benchmarks.weak_match [--pairs 100] [--seed 0] [--real DIR] [--heldout-pairs N] [--out DIR]

A query that fits nothing in the collection should come back weak (the positive class); one that fits should not.
Precision: the share of weak queries that fit nothing; recall: the share of queries fitting nothing that are weak.

- generator: a collection from the project's generator (`editsearch data synth`, train split) with the families of
  LEFT_OUT left out. Queries that fit: the held-out phrasings and pairs (test split) of the families present.
  Queries that fit nothing: those of the families left out, SEMANTIC_QUERIES, and after = before pairs.
- real (--real DIR: real pairs and their manifest.jsonl; evaluation only): the real pairs indexed. Text queries
  that fit: their own instructions; that fit nothing: SEMANTIC_QUERIES but REAL_RELATED. Exemplar queries that
  fit: each edit of a label with another pair, by edit id (itself left out); that fit nothing: generator pairs of
  the families of REAL_UNRELATED_FAMILIES, and after = before pairs of the real photos.
- heldout (--heldout-pairs N > 0, when benchmarks/heldout is present): the generator protocol on the independent
  held-out set (`python -m benchmarks.heldout`), collection and queries written with two seeds.

Each kind also reports `best_threshold`: the best min(precision, recall) any threshold on the best match's score
could give, chosen with the labels (an oracle the cue does not have, to tell the cue's fault from the model's; its
`threshold` is minus the score). Nothing here was used to choose the cue's constants; the real and held-out
figures are measurements only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.flag_metrics import best_threshold
from editsearch.index.store import EditIndex
from editsearch.search.api import EditSearch
from editsearch.search.weak_match import REFERENCE_TEXTS, refresh_statistics

# Families left out of the generator's collections: edits nothing left in the collection does (the geometric
# ones and the compound that mirrors, inversion, drawn marks).
LEFT_OUT = frozenset(
    {"flip_horizontal", "flip_vertical", "rotate_90", "tilt", "zoom_in", "mirror_brighter", "invert", "text"}
    | {"smiley", "shapes"}
)
# Semantic edits (objects, people, scenes) that no synthetic family does; none is one of the shipped reference texts.
SEMANTIC_QUERIES = (
    "put a santa hat on the snowman",
    "replace the cat with a tiger",
    "give the girl a ponytail",
    "add a tennis ball in the dog's mouth",
    "make the old man hold a cane",
    "remove the tourists from the square",
    "add a kite in the sky",
    "turn the sandwich into a burger",
    "put a cowboy hat on the horse rider",
    "make the bride wear a veil",
    "add a sailboat on the horizon",
    "replace the tulips with sunflowers",
    "remove the lamp post",
    "add a scarecrow to the field",
    "make the boy wear a football jersey",
    "turn the teapot into a robot",
    "put a wreath on the front door",
    "remove the cables from the desk",
    "make the woman hold a bouquet",
    "add a squirrel on the branch",
    "turn the car into a pumpkin carriage",
    "give the statue a cape",
    "add a hot air balloon",
    "put a chef's hat on the cook",
    "make the soldier salute",
    "replace the chair with a stool",
    "add a cat sleeping on the couch",
    "turn the tree into a giant mushroom",
    "make the baby hold a rattle",
    "add a flag on top of the tower",
)
# Semantic queries near an edit of the real pairs (a cat, a person), not counted as fitting nothing there.
REAL_RELATED = frozenset({"replace the cat with a tiger", "add a cat sleeping on the couch"})
# Generator families no real pair does (the real ones are semantic, a sketch, a watercolour, pastel, rain, lava).
REAL_UNRELATED_FAMILIES = ("flip_vertical", "rotate_90", "invert", "pixel_art", "halftone", "emboss", "shapes", "text")
NOOPS = 10  # after = before queries per collection
Query = tuple[Any, bool]  # (a text, a (before, after) pair or an edit id; whether it fits the collection)


def precision_recall(weak: list[bool | None], fits: list[bool]) -> dict[str, Any]:
    """Precision and recall of `weak` for the queries that fit nothing, with the counts behind them."""
    flagged = [bool(w) for w in weak]
    nothing = [not f for f in fits]
    hits = sum(w and n for w, n in zip(flagged, nothing, strict=True))
    return {
        "precision": hits / sum(flagged) if any(flagged) else None,
        "recall": hits / sum(nothing) if any(nothing) else None,
        "fit": len(fits) - sum(nothing),
        "fit_nothing": sum(nothing),
        "weak": sum(flagged),
    }


def measure(index_dir: Path, texts: list[Query], pairs: list[Query]) -> dict[str, Any]:
    """Run the queries (a pair by files, an int by edit id) and score their weak-match cue per kind."""
    with EditSearch.open(index_dir) as searcher:
        text_out = searcher.run_batch([{"text": t} for t, _ in texts], k=1)
        specs = [{"edit_id": q} if isinstance(q, int) else {"before": str(q[0]), "after": str(q[1])} for q, _ in pairs]
        pair_out = searcher.run_batch(specs, k=1)
    for outcome in [*text_out, *pair_out]:
        assert outcome.error is None, outcome.error
    figures = {}
    for kind, outcomes, queries in (("text", text_out, texts), ("exemplar", pair_out, pairs)):
        fits = np.asarray([f for _, f in queries], dtype=bool)
        figures[kind] = precision_recall([o.weak_match for o in outcomes], list(fits))
        best = np.asarray([o.results[0].score if o.results else np.nan for o in outcomes])
        figures[kind]["best_threshold"] = best_threshold(-best, ~fits)  # weak at or under: what any threshold could do
    return {
        **figures,
        "text_reference": text_out[0].weak_reference,
        "exemplar_reference": pair_out[0].weak_reference,
    }


def build(index_dir: Path, manifest: Path) -> Path:
    """Index a manifest with the shipped default model, statistics included (what `build-index` does)."""
    with EditIndex.open(index_dir, create=True) as index:
        model = index.embedder(None)
        index.sync([manifest], model, workers=0)
        refresh_statistics(index, model)
    return index_dir


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A JSONL manifest of these rows (image paths relative to its folder)."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rows_of(manifest: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL manifest."""
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def family_queries(manifest: Path, present: set[str]) -> tuple[list[Query], list[Query]]:
    """Text and pair queries of a query manifest, each fitting when its family is present; then the shared
    non-fitting ones: SEMANTIC_QUERIES and NOOPS after = before pairs."""
    rows = rows_of(manifest)
    folder = manifest.parent
    texts = [(r["instruction"], r["family"] in present) for r in rows]
    pairs = [((folder / r["before"], folder / r["after"]), r["family"] in present) for r in rows]
    texts += [(t, False) for t in SEMANTIC_QUERIES]
    pairs += [((folder / r["before"], folder / r["before"]), False) for r in rows[:NOOPS]]
    return texts, pairs


def generator_case(root: Path, pairs: int, seed: int) -> tuple[Path, list[Query], list[Query]]:
    """A generator collection of about `pairs` pairs without the LEFT_OUT families, and its queries."""
    from editsearch.data.synthetic.families import FAMILIES
    from editsearch.data.synthetic.generator import write_synth

    present = set(FAMILIES) - LEFT_OUT
    wanted = round(pairs * len(FAMILIES) / len(present))  # families take turns: this many leaves about `pairs`
    written = Path(write_synth(root / "collection", wanted, seed, size=128, split="train")["manifest"])
    kept = write_manifest(written.with_name("kept.jsonl"), [r for r in rows_of(written) if r["family"] in present])
    queries = Path(write_synth(root / "queries", len(FAMILIES), seed + 1, size=128, split="test")["manifest"])
    return build(root / "index", kept), *family_queries(queries, present)


def heldout_case(root: Path, pairs: int, seed: int) -> tuple[Path, list[Query], list[Query]]:
    """The generator protocol on the independent held-out set (benchmarks/heldout)."""
    from benchmarks.heldout import write_heldout
    from benchmarks.heldout.families import FAMILIES

    present = set(FAMILIES) - LEFT_OUT
    collection = write_heldout(root / "collection", pairs, seed, size=128, families=sorted(present))
    queries = write_heldout(root / "queries", len(FAMILIES), seed + 1, size=128)
    return build(root / "index", collection), *family_queries(queries, present)


def real_case(root: Path, real: Path, seed: int) -> tuple[Path, list[Query], list[Query]]:
    """The real pairs indexed, their queries, and generator pairs of REAL_UNRELATED_FAMILIES that fit none of them."""
    from editsearch.data.synthetic.generator import write_synth

    rows = rows_of(real / "manifest.jsonl")
    index = build(root / "index", real / "manifest.jsonl")
    texts = [(t, True) for t in dict.fromkeys(r["instruction"] for r in rows)]
    texts += [(t, False) for t in SEMANTIC_QUERIES if t not in REAL_RELATED]
    labels = [r["edit"] for r in rows]
    with EditIndex.open(index) as opened:
        ids = {json.loads(meta).get("id"): i for meta, i in opened.catalog.live_edit_rows(("metadata", "id"))}
    pairs: list[Query] = [(ids[r["id"]], True) for r in rows if labels.count(r["edit"]) > 1]
    others = Path(write_synth(root / "unrelated", 47 * 2, seed, size=128, split="test")["manifest"])
    pairs += [
        ((others.parent / r["before"], others.parent / r["after"]), False)
        for r in rows_of(others)
        if r["family"] in REAL_UNRELATED_FAMILIES
    ]
    pairs += [((real / r["before"], real / r["before"]), False) for r in rows[:NOOPS]]
    return index, texts, pairs


def report(name: str, figures: dict[str, Any]) -> None:
    """One block of figures."""
    print(f"{name}: references text {figures['text_reference']:.3f}, exemplar {figures['exemplar_reference']:.3f}")
    for kind in ("text", "exemplar"):
        f = figures[kind]
        shown = {key: "n/a" if f[key] is None else f"{f[key]:.2f}" for key in ("precision", "recall")}
        best = f["best_threshold"]
        oracle = "n/a" if best is None else f"{best['min_pr']:.2f} (P {best['precision']:.2f}, R {best['recall']:.2f})"
        print(
            f"  {kind:8s} precision {shown['precision']}  recall {shown['recall']}  "
            f"({f['fit']} fit, {f['fit_nothing']} fit nothing, {f['weak']} weak); any threshold's best {oracle}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=100, help="pairs in the generator's (and held-out) collection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", type=Path, default=None, help="a real-edits folder (manifest.jsonl with `edit` labels)")
    ap.add_argument("--heldout-pairs", type=int, default=0, help="pairs of the held-out collection (0: none)")
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    assert not set(SEMANTIC_QUERIES) & set(REFERENCE_TEXTS)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        report("generator", measure(*generator_case(root / "generator", args.pairs, args.seed)))
        if args.real is not None:
            report("real", measure(*real_case(root / "real", args.real, args.seed)))
        if args.heldout_pairs:
            report("heldout", measure(*heldout_case(root / "heldout", args.heldout_pairs, args.seed)))


if __name__ == "__main__":
    main()
