"""`editsearch audit` on a synthetic collection with planted problems, against the baselines data-set builders use.

    python benchmarks/audit.py [--pairs 600] [--seed 0] [--model editclip-mini]      # JSON on stdout
    python benchmarks/audit.py --speed 100000      # catalog-only audit of a 100k-edit index (synthetic vectors)

Quality: synthetic pairs (every family, train and test photos) with 5% of each problem planted: no-ops (the
after is the before re-encoded as JPEG, maybe resized, maybe with faint noise), mismatches (another family's
instruction), reversals (directional families only: before and after swapped), duplicates (a pair resized and
re-encoded, listed in a second manifest: a train/test leak), plus 5% hard negatives (another crop of the same
photo under the same edit, which is no duplicate). Per check: AUROC of C_score and precision/recall of is_C
(positives: that check's planted pairs; negatives: clean pairs and hard negatives; pairs planted for another
check are left out of it, and for duplicates the originals too, whose copies are the problem). The baselines
score each pair alone: pixel L1, SSIM and CLIP-I (the cosine of the before's and the after's image embeddings,
each embedded by the same vision tower as the no-op pair (x, x)); for duplicates, the vector-only baseline is
the cosine to the nearest other pair vector. A symmetric score is at chance on reversals: on each reversed
pair and the same pair forwards it gives the same value (AUROC 0.5 exactly).

Speed: an index of N edits made directly in the catalog (random unit vectors around 2,000 edit directions,
20,000 distinct instructions with vectors, a signature per edit; no image is embedded), audited with the
catalog-only checks (noop, mismatch, duplicate): wall time and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

DIRECTIONLESS = {"invert", "flip_horizontal", "flip_vertical", "rotate_90", "tilt", "hue_shift", "mirror_brighter"}
SHARE = 0.05
SIZE, FULL = 224, 320  # pair side; the source crop it is cut from (a hard negative is another window of it)


def _jpeg(img: Image.Image, rng: np.random.Generator, scale: tuple[float, float]) -> Image.Image:
    """Resize by a random factor, then re-encode as JPEG of random quality."""
    side = int(img.width * rng.uniform(*scale))
    img = img.resize((side, side), Image.BICUBIC) if side != img.width else img
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(80, 96)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _noop(before: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The before, re-encoded (maybe resized), maybe with faint noise: an edit that changed nothing visible."""
    after = _jpeg(before, rng, (0.8, 1.0)).resize(before.size, Image.BICUBIC)
    if rng.random() < 0.5:
        arr = np.asarray(after, np.float32) + rng.normal(0, 1.5, (after.height, after.width, 3))
        after = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return after


def _edit(family: str, before: Image.Image, seed: int) -> tuple[Image.Image, dict]:
    from editsearch.data.synthetic.families import FAMILIES

    after, params = FAMILIES[family].apply(before, np.random.default_rng(seed))
    return (after.resize(before.size, Image.BICUBIC) if after.size != before.size else after), params


def plant(out: Path, pairs: int, seed: int) -> list[dict]:
    """Write the collection under `out` (main.jsonl, leak.jsonl) and return the truth, one dict per pair."""
    from editsearch.data.synthetic.families import FAMILIES
    from editsearch.data.synthetic.generator import mean_change, pair_plan, pair_rng
    from editsearch.data.synthetic.photos import sample_source

    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    plan = pair_plan(pairs, seed, "both")
    kinds = np.array(["clean"] * pairs, dtype=object)
    k = max(1, int(SHARE * pairs))
    order = rng.permutation(pairs)
    kinds[order[:k]], kinds[order[k : 2 * k]] = "noop", "mismatch"
    directional = [i for i in order[2 * k :] if plan[i][0] not in DIRECTIONLESS]
    kinds[directional[:k]] = "reversed"
    truth, rows, leak = [], [], []
    for i, (family, split) in enumerate(plan):
        prng = pair_rng(seed, i)
        for _ in range(4):
            full, photo = sample_source(prng, split, FULL)
            before = full.crop((0, 0, SIZE, SIZE))
            after, params = _edit(family, before, seed * 100_003 + i)
            if mean_change(before, after) >= 4.0:
                break
        instruction = FAMILIES[family].instruction(split, params, prng)
        kind = kinds[i]
        if kind == "noop":
            after = _noop(before, rng)
        elif kind == "mismatch":
            other = sorted(set(FAMILIES) - {family})[int(rng.integers(len(FAMILIES) - 1))]
            instruction = _phrase(other, rng)
        images = (after, before) if kind == "reversed" else (before, after)
        row = _save(out, f"{i:05d}", images, instruction, family)
        rows.append(row)
        truth.append({"key": row["before"], "kind": kind, "family": family, "forward": (before, after)})
        if kind == "clean" and rng.random() < 2 * SHARE:  # a hard negative: another window, the same edit
            window = full.crop((FULL - SIZE, FULL - SIZE, FULL, FULL))
            hard_after, _ = _edit(family, window, seed * 100_003 + i)
            rows.append(_save(out, f"{i:05d}h", (window, hard_after), instruction, family))
            truth.append({"key": rows[-1]["before"], "kind": "hardneg", "family": family, "forward": None})
    clean = [t for t in truth if t["kind"] == "clean"]
    for n, t in enumerate(rng.permutation(len(clean))[:k]):
        original = clean[t]
        before, after = (_jpeg(img, np.random.default_rng(seed + n), (0.5, 0.9)) for img in original["forward"])
        row = next(r for r in rows if r["before"] == original["key"])
        leak.append(_save(out, f"dup{n:05d}", (before, after), row["instruction"], original["family"], "jpg"))
        truth.append({"key": leak[-1]["before"], "kind": "duplicate", "of": original["key"], "forward": None})
    for name, lines in (("main.jsonl", rows), ("leak.jsonl", leak)):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in lines))
    return truth


def _phrase(family: str, rng: np.random.Generator) -> str:
    from editsearch.data.synthetic.families import FAMILIES

    fam = FAMILIES[family]
    _, params = fam.apply(Image.new("RGB", (64, 64), (128, 128, 128)), rng)
    return fam.instruction("train", params, rng)


def _save(out: Path, stem: str, images: tuple, instruction: str, family: str, fmt: str = "png") -> dict:
    row = {"instruction": instruction, "family": family}
    for half, img in zip(("before", "after"), images, strict=True):
        rel = f"images/{stem}_{half}.{fmt}"
        img.save(out / rel, quality=95) if fmt == "jpg" else img.save(out / rel)
        row[half] = rel
    return row


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes. NaN scores rank lowest."""
    from scipy.stats import rankdata

    s = np.where(np.isfinite(scores), scores, -np.inf)
    pos, neg = labels.sum(), (~labels).sum()
    if not pos or not neg:
        return None
    ranks = rankdata(s)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def pr(flags: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """(precision, recall) of boolean flags."""
    tp = int((flags & labels).sum())
    return (tp / flags.sum() if flags.sum() else None), (tp / labels.sum() if labels.sum() else None)


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


def quality(args: argparse.Namespace) -> dict:
    """Plant, build, audit, score against the truth."""
    from editsearch.audit.run import run_audit
    from editsearch.data.records import ImageRef
    from editsearch.encoder import load_model
    from editsearch.index.store import EditIndex

    model = load_model(args.model)
    work = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    truth = plant(work / "data", args.pairs, args.seed)
    t0 = time.perf_counter()
    with EditIndex.open(work / "idx", create=True) as index:
        index.sync([work / "data" / "main.jsonl", work / "data" / "leak.jsonl"], model, workers=1)
    t1 = time.perf_counter()
    with EditIndex.open(work / "idx") as index:
        table, summary = run_audit(index, model, workers=1)
    t2 = time.perf_counter()
    rows = table.to_pylist()
    by_key = {str(work / "data" / t["key"]): t for t in truth}
    kinds = np.asarray([by_key[r["before"]]["kind"] for r in rows])
    result = {"pairs": len(rows), "build_s": round(t1 - t0, 1), "audit_s": round(t2 - t1, 1), "checks": {}}
    befores = [ImageRef.from_locator(r["before"]).load() for r in rows]
    afters = [ImageRef.from_locator(r["after"]).load() for r in rows]
    base = baselines(model, befores, afters)
    for check in ("noop", "mismatch", "reversed", "duplicate"):
        scores = np.asarray([np.nan if r[f"{check}_score"] is None else r[f"{check}_score"] for r in rows])
        flags = np.asarray([bool(r[f"is_{check}"]) for r in rows])
        keep = np.isin(kinds, [check, "clean", "hardneg"])
        if check == "duplicate":
            originals = {by_key[r["before"]].get("of") for r in rows if by_key[r["before"]]["kind"] == "duplicate"}
            keep &= ~np.asarray([by_key[r["before"]]["key"] in originals for r in rows])
        labels = kinds[keep] == check
        p, rcl = pr(flags[keep], labels)
        entry = {"auroc": auroc(scores[keep], labels), "precision": p, "recall": rcl, "positives": int(labels.sum())}
        entry["baselines"] = {name: auroc(v[keep], labels) for name, v in base.items()}
        if check == "duplicate":
            entry["baselines"] = {"nearest pair-vector cosine": auroc(_nearest_cos(work / "idx")[keep], labels)}
            entry["duplicate_of_names_original"] = _names_original(rows, by_key, work / "data")
        result["checks"][check] = entry
    result["checks"]["reversed"]["symmetric_paired"] = _paired_symmetric(model, truth)
    result["summary"] = {c: summary["checks"][c]["threshold"] for c in summary["checks"]}
    result["cross_source_groups"] = len(summary["cross_source_groups"])
    return result


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
    from editsearch.audit.signatures import Signature
    from editsearch.index.catalog import now, vector_crc
    from editsearch.index.instructions import save_instruction_vectors

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
            index.catalog.save_signatures(
                (start + j + 1, (f"b{start + j + 1}", f"a{start + j + 1}"), s.to_bytes()) for j, s in enumerate(sigs)
            )
        index.rebuild()


def EditIndex_open(directory: Path):  # noqa: N802 - a named opener, so the speed index is created writable
    from editsearch.index.store import EditIndex

    return EditIndex.open(directory, create=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="editclip-mini")
    ap.add_argument("--speed", type=int, default=0, help="instead: audit an index of this many synthetic edits")
    args = ap.parse_args()
    result = speed(args.speed, args.seed) if args.speed else quality(args)
    print(json.dumps(result, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
