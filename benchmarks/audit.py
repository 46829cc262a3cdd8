"""`editsearch audit` with planted problems, on the project's generator, the held-out set and real pairs, side by side.

    python benchmarks/audit.py --real /path/to/real-edits [--set generator,heldout,real] [--pairs 600] [--seed 0]
        [--real-plant 8] [--model editclip-mini] [--no-baselines]      # JSON on stdout
    python benchmarks/audit.py --speed 100000      # catalog-only audit of a 100k-edit index (synthetic vectors)

Quality, on each set asked for (`--set`, comma-separated; benchmarks/edit_sets.py, benchmarks/planting.py):
- generator: `--pairs` pairs of the project's own generator (every family, train and test photos), the data its
  model and every audit constant were made on: these figures flatter it;
- heldout: `--pairs` pairs of the independent held-out generator (benchmarks/heldout/: other pixels, other
  words, test photos), direction from its `directional` flag;
- real: the genuine edits of `--real DIR` (its manifest.jsonl; directional unless the instruction is an
  involution: mirror, flip, invert). Evaluation only: nothing is fitted or chosen on the last two.
The synthetic sets get 5% of each problem planted in place: no-ops (the after is the before re-encoded as JPEG,
maybe resized, maybe with faint noise), mismatches (another family's instruction), reversals (directional pairs
only: before and after swapped), duplicates (a pair resized and re-encoded, listed in a second manifest: a
train/test leak), plus hard negatives for about 10% of the clean pairs (the same edit on another window of the
same photo, which is no duplicate; the held-out set adds both windows). The real set is planted on copies, so
every original stays a correct pair: `--real-plant` originals each get a no-op, a mismatched (another edit's
instruction), a reversed (if directional) and a duplicate copy; no hard negatives are planted, but pairs sharing
an `edit` label (the same edit on another image) are in it. Per check: AUROC of C_score, precision/recall of
is_C (positives: that check's planted pairs; negatives: clean pairs and hard negatives; pairs planted for
another check are left out of it, and for duplicates every original a copy was made of too), and
`correct_flagged`, the share of all correct pairs (clean and hard negatives) that is_C flags; with the audit's
own threshold and, where its summary gives them, whether it calls the check reliable on the collection
(`reliable`, `reliability`, `why`; null where it does not), and `best_threshold`, what any threshold could
reach (the one with the highest min(precision, recall), chosen with the labels: an oracle no audit has, to tell
a threshold's fault from the model's). `planted` counts each kind. The baselines score
each pair alone: pixel L1, SSIM and CLIP-I (the cosine of the before's and the after's image embeddings, each
embedded by the same vision tower as the no-op pair (x, x)); for duplicates, the vector-only baseline is the
cosine to the nearest other pair vector. A symmetric score is at chance on reversals: on each reversed pair and
the same pair forwards it gives the same value (AUROC 0.5 exactly). `side_by_side` repeats the main figures
per check, set by set.

Speed: an index of N edits made directly in the catalog (random unit vectors around 2,000 edit directions,
20,000 distinct instructions with vectors, a signature per edit; no image is embedded), audited with the
catalog-only checks (noop, mismatch, duplicate): wall time and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.edit_sets import SETS, heldout_pairs, real_pairs  # noqa: E402
from benchmarks.flag_metrics import auroc, best_threshold, pr  # noqa: E402
from benchmarks.planting import generator_set, heldout_set, other_group, plant_copies, plant_in_place  # noqa: E402

CHECKS = ("noop", "mismatch", "reversed", "duplicate")
SIDE_BY_SIDE = ("auroc", "precision", "recall", "correct_flagged", "positives", "reliable", "best_threshold")


def plant(name: str, out: Path, args: argparse.Namespace) -> list[dict]:
    """Write set `name` with its planted problems under `out` (main.jsonl, leak.jsonl); the truth."""
    if name == "generator":
        return plant_in_place(out, *generator_set(args.pairs, args.seed), args.seed)
    if name == "heldout":
        pairs = heldout_pairs(out.parent / "heldout", args.pairs, args.seed)
        return plant_in_place(out, *heldout_set(pairs, args.seed), args.seed)
    pairs = real_pairs(args.real)
    texts: dict[str, set[str]] = {}
    for p in pairs:
        texts.setdefault(p.group, set()).add(p.instruction)
    return plant_copies(out, pairs, args.real_plant, other_group({g: sorted(t) for g, t in texts.items()}), args.seed)


def baselines(model, befores: list[Image.Image], afters: list[Image.Image]) -> dict[str, np.ndarray]:
    """Pixel L1 (negated: similar = high), SSIM and CLIP-I cosine of each pair, at the model's pixel size."""
    from skimage.metrics import structural_similarity

    size = model.config.image_size
    b = [np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC), np.float32) for im in befores]
    a = [np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC), np.float32) for im in afters]
    l1 = np.asarray([-np.abs(x - y).mean() for x, y in zip(b, a, strict=True)])
    ssim = np.asarray([structural_similarity(x, y, channel_axis=2, data_range=255) for x, y in zip(b, a, strict=True)])
    eb = model.embed_pairs(befores, befores).numpy()
    ea = model.embed_pairs(afters, afters).numpy()
    return {"pixel L1": l1, "SSIM": ssim, "CLIP-I": (eb * ea).sum(axis=1)}


def quality(name: str, model, args: argparse.Namespace) -> dict:
    """Plant set `name`, build, audit, score against the truth."""
    from editsearch.audit.run import run_audit
    from editsearch.index.store import EditIndex

    with tempfile.TemporaryDirectory(prefix=f"audit-bench-{name}-") as tmp:
        work = Path(tmp)
        truth = plant(name, work / "data", args)
        t0 = time.perf_counter()
        with EditIndex.open(work / "idx", create=True) as index:
            index.sync([work / "data" / "main.jsonl", work / "data" / "leak.jsonl"], model, workers=1)
        t1 = time.perf_counter()
        with EditIndex.open(work / "idx") as index:
            table, summary = run_audit(index, model, workers=1)
        t2 = time.perf_counter()
        rows = table.to_pylist()
        by_key = {str(work / "data" / t["key"]): t for t in truth}
        result = {"pairs": len(rows), "planted": dict(Counter(t["kind"] for t in truth))}
        result.update({"build_s": round(t1 - t0, 1), "audit_s": round(t2 - t1, 1)})
        result["checks"] = score_checks(rows, by_key, summary, _baselines(model, rows, args.baselines), work)
        if args.baselines:
            result["checks"]["reversed"]["symmetric_paired"] = _paired_symmetric(model, truth)
    result["cross_source_groups"] = len(summary.get("cross_source_groups", []))
    result["notes"] = summary.get("notes", [])
    return result


def score_checks(rows: list[dict], by_key: dict, summary: dict, base: dict | None, work: Path) -> dict:
    """Per check: AUROC, precision, recall, the share of correct pairs flagged, the audit's threshold and verdict."""
    kinds = np.asarray([by_key[r["before"]]["kind"] for r in rows])
    originals = {t["of"] for t in by_key.values() if "of" in t}
    is_original = np.asarray([by_key[r["before"]]["key"] in originals for r in rows])
    correct = np.isin(kinds, ["clean", "hardneg"])
    out = {}
    for check in CHECKS:
        scores = np.asarray([np.nan if r[f"{check}_score"] is None else r[f"{check}_score"] for r in rows])
        flags = np.asarray([bool(r[f"is_{check}"]) for r in rows])
        keep = np.isin(kinds, [check, "clean", "hardneg"])
        if check == "duplicate":
            keep &= ~is_original
        labels = kinds[keep] == check
        p, rcl = pr(flags[keep], labels)
        entry = {"auroc": auroc(scores[keep], labels), "precision": p, "recall": rcl}
        entry["best_threshold"] = best_threshold(scores[keep], labels)  # an oracle's: what any threshold could do
        entry.update({"positives": int(labels.sum()), "negatives": int((~labels).sum())})
        entry["correct_flagged"] = float(flags[correct].mean()) if correct.any() else None
        info = summary.get("checks", {}).get(check, {})
        entry.update({key: info.get(key) for key in ("threshold", "reliable", "reliability", "why")})
        if base is not None and check != "duplicate":
            entry["baselines"] = {name: auroc(v[keep], labels) for name, v in base.items()}
        if check == "duplicate":
            if base is not None:
                entry["baselines"] = {"nearest pair-vector cosine": auroc(_nearest_cos(work / "idx")[keep], labels)}
            entry["duplicate_of_names_original"] = _names_original(rows, by_key, work / "data")
        out[check] = entry
    return out


def _baselines(model, rows: list[dict], wanted: bool) -> dict[str, np.ndarray] | None:
    """The per-pair baselines of the audited rows, or None when not wanted."""
    from editsearch.data.records import ImageRef

    if not wanted:
        return None
    befores = [ImageRef.from_locator(r["before"]).load() for r in rows]
    afters = [ImageRef.from_locator(r["after"]).load() for r in rows]
    return baselines(model, befores, afters)


def side_by_side(results: dict[str, dict]) -> dict:
    """check -> set -> the main figures (rounded), set beside set."""
    return {
        check: {name: {fig: _round(res["checks"][check][fig]) for fig in SIDE_BY_SIDE} for name, res in results.items()}
        for check in CHECKS
    }


def _round(value):
    """A float to 3 decimals (a dict's floats too); anything else as it is."""
    if isinstance(value, dict):
        return {key: _round(v) for key, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


def _nearest_cos(idx: Path) -> np.ndarray:
    from editsearch.index.store import EditIndex

    with EditIndex.open(idx) as index:
        fp = index.model_info["fingerprint"]
        rows = index.catalog.db.execute(
            "SELECT v.vector FROM edits e JOIN vectors v ON v.edit_id = e.id AND v.model = ? WHERE e.deleted = 0 "
            "ORDER BY e.id",
            [fp],
        ).fetchall()
    mat = np.stack([np.frombuffer(b, np.float32) for (b,) in rows])
    sims = mat @ mat.T
    np.fill_diagonal(sims, -np.inf)
    return sims.max(axis=1)


def _names_original(rows: list[dict], by_key: dict, data: Path) -> float | None:
    ids = {r["id"]: r["before"] for r in rows}
    copies = [r for r in rows if by_key[r["before"]]["kind"] == "duplicate"]
    right = sum(
        1 for r in copies if r["duplicate_of"] and ids[r["duplicate_of"]] == str(data / by_key[r["before"]]["of"])
    )
    return right / len(copies) if copies else None


def _paired_symmetric(model, truth: list[dict]) -> dict:
    """AUROC of each baseline on the reversed pairs vs the same pairs forwards: 0.5 for a symmetric score."""
    rev = [t["forward"] for t in truth if t["kind"] == "reversed"]
    if not rev:
        return {}
    fwd = baselines(model, [b for b, _ in rev], [a for _, a in rev])
    back = baselines(model, [a for _, a in rev], [b for b, _ in rev])
    labels = np.asarray([True] * len(rev) + [False] * len(rev))
    return {name: auroc(np.concatenate([back[name], fwd[name]]), labels) for name in fwd}


def speed(n: int, seed: int) -> dict:
    """Audit an n-edit index made directly in the catalog (synthetic vectors and signatures)."""
    from editsearch.audit.run import run_audit
    from editsearch.index.store import EditIndex

    work = Path(tempfile.mkdtemp(prefix="audit-speed-"))
    t0 = time.perf_counter()
    _synthetic_index(work / "idx", n, seed)
    t1 = time.perf_counter()
    with EditIndex.open(work / "idx") as index:
        table, summary = run_audit(index, None, ("noop", "mismatch", "duplicate"))
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "edits": table.num_rows,
        "make_index_s": round(t1 - t0, 1),
        "audit_s": round(t2 - t1, 1),
        "peak_rss_mb": round(rss),
        "flagged": {c: v["flagged"] for c, v in summary["checks"].items()},
    }


def _synthetic_index(directory: Path, n: int, seed: int, dim: int = 384) -> None:
    """An index of n edits written straight into the catalog: vectors, instruction vectors and signatures."""
    from editsearch.index.catalog import now, vector_crc
    from editsearch.index.instructions import save_instruction_vectors
    from editsearch.pairs.signatures import Signature
    from editsearch.pairs.store import save_signatures

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    texts = [f"synthetic edit {i}" for i in range(20_000)]
    tvec = centres[np.arange(len(texts)) % len(centres)] + 0.5 * rng.normal(size=(len(texts), dim)).astype(np.float32)
    tvec /= np.linalg.norm(tvec, axis=1, keepdims=True)
    with EditIndex_open(directory) as index:
        fp = "synthetic-" + str(seed)
        index.catalog.bind_model("synthetic", fp, dim, True, {"vision": {"image_size": 112}})
        save_instruction_vectors(index.catalog, fp, texts, tvec)
        stamp = now()
        for start in range(0, n, 20_000):
            m = min(20_000, n - start)
            which = rng.integers(len(texts), size=m)
            vec = centres[which % len(centres)] + 0.6 * rng.normal(size=(m, dim)).astype(np.float32)
            vec /= np.linalg.norm(vec, axis=1, keepdims=True)
            with index.catalog.db.atomic():
                for j in range(m):
                    i = start + j + 1
                    before, after = f"/synthetic/{i}_before.png", f"/synthetic/{i}_after.png"
                    index.catalog.db.execute(
                        "INSERT INTO edits (id, key, origin, source, before, before_hash, after, after_hash, "
                        "instruction, created_at, updated_at) "
                        "VALUES (?, ?, 'synthetic', 'manifest', ?, ?, ?, ?, ?, ?, ?)",
                        [i, f"{before}|{after}", before, f"b{i}", after, f"a{i}", texts[which[j]], stamp, stamp],
                    )
                    blob = vec[j].tobytes()
                    index.catalog.db.execute(
                        "INSERT INTO vectors (edit_id, model, vector, crc, created_at) VALUES (?, ?, ?, ?, ?)",
                        [i, fp, blob, vector_crc(blob), stamp],
                    )
                index.catalog.bump_generation()
            thumbs = rng.integers(0, 256, size=(m, 2, 8, 8, 3), dtype=np.uint8)
            sigs = [
                Signature(float(rng.uniform(3, 80)), int(rng.integers(2**63)), int(rng.integers(2**63)), t[0], t[1])
                for t in thumbs
            ]
            save_signatures(
                index.catalog.conn,
                [(start + j + 1, (f"b{start + j + 1}", f"a{start + j + 1}"), s.to_bytes()) for j, s in enumerate(sigs)],
            )
        index.rebuild()


def EditIndex_open(directory: Path):  # noqa: N802 - a named opener, so the speed index is created writable
    from editsearch.index.store import EditIndex

    return EditIndex.open(directory, create=True)


def _sets(text: str) -> tuple[str, ...]:
    """The sets named in a comma-separated list, in SETS order."""
    names = {t.strip() for t in text.split(",") if t.strip()}
    if not names or names - set(SETS):
        raise argparse.ArgumentTypeError(f"choose among {', '.join(SETS)}, got {text!r}")
    return tuple(s for s in SETS if s in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="editclip-mini")
    ap.add_argument("--set", type=_sets, default=SETS, help=f"comma-separated, of {', '.join(SETS)} (default: all)")
    ap.add_argument("--real", type=Path, help="folder of the real pairs (manifest.jsonl): needed for the real set")
    ap.add_argument("--real-plant", type=int, default=8, help="real originals each planted with every problem")
    ap.add_argument("--no-baselines", dest="baselines", action="store_false", help="skip pixel L1, SSIM, CLIP-I")
    ap.add_argument("--speed", type=int, default=0, help="instead: audit an index of this many synthetic edits")
    args = ap.parse_args()
    if not args.speed and "real" in args.set and args.real is None:
        ap.error("the real set needs --real DIR (a folder with manifest.jsonl); or leave it out with --set")
    if args.speed:
        print(json.dumps(speed(args.speed, args.seed), indent=1))
        return
    from editsearch.encoder import load_model

    model = load_model(args.model)
    results = {name: quality(name, model, args) for name in args.set}
    command = " ".join(["python", "benchmarks/audit.py", *sys.argv[1:]])
    out = {"command": command, "model": args.model, "side_by_side": side_by_side(results), "sets": results}
    print(json.dumps(out, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
