"""The edit atlas on the project's generator, the held-out set and real pairs, side by side: purity, noise, names.

    python benchmarks/map.py --real /path/to/real-edits [--set generator,heldout,real] [--model NAME|PATH]
        [--per-family 40] [--seed 0] [--speed N] [--fit-sample 50000]      # JSON on stdout

Quality, on each set asked for (`--set`, comma-separated; benchmarks/edit_sets.py):
- generator: `--per-family` pairs of every family from the project's own generator (editsearch.evaluation.
  retrieval's synthetic_eval_set: test photos, held-out phrasings), the data its model was trained on;
- heldout: as many pairs of the independent held-out generator (benchmarks/heldout/, `--seed`): other pixels,
  other words, the same 47 family names;
- real: the genuine edits of `--real DIR` (its manifest.jsonl), grouped by their `edit` label (1 to 3 pairs
  each: fewer than the smallest cluster, so purity there is bounded; `kept_together` says more).
Evaluation only: nothing is fitted or chosen on the last two. Each set's pairs are embedded with the model and
mapped twice (the layout and clusters depend on the vectors only, so both maps have the same clusters):
1. saved to a fresh index WITHOUT their instructions, so every cluster is named from the shipped vocabulary
   (editsearch.search.vocabulary.EDIT_PHRASES): purity (the share of clustered edits whose group is their cluster's
   majority group), noise (the share left as noise), kept_together (per group of two clustered edits or more,
   the share in its most common cluster, weighted by size: read it with purity, since a few large clusters keep
   groups together trivially), names_right (the share of clusters whose name is one of the phrases that
   describe their majority family: NAMES below, the phrase for the family's operation, for a compound family
   a phrase for the whole or for either step; synthetic sets only);
2. saved WITH their instructions, so the clusters are named by them: names_from_group (the share of clusters
   named by an instruction that an edit of their majority group carries) and, where the map's summary gives
   it, its agreement with the instructions (`agreement`, null where it does not).
`true_k_purity`: the purity of k-means (scikit-learn, 10 starts) on the pair vectors told the true number of groups,
an oracle's k no map has: how far clusters of these vectors could agree with the groups, to tell the map's fault from
the model's.
Speed (`--speed N`): N vectors drawn around the groups' centres of the first set (each group's mean pair vector
plus Gaussian noise of that group's own spread), saved through the catalog (no image forward), then one
timed `build_map` (fit on `--fit-sample`, the rest placed in its layout), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.edit_sets import SETS, heldout_pairs, real_pairs  # noqa: E402
from editsearch.atlas import build_map  # noqa: E402
from editsearch.atlas.clusters import NOISE  # noqa: E402
from editsearch.data.synthetic.families import FAMILIES  # noqa: E402
from editsearch.encoder import load_model  # noqa: E402
from editsearch.evaluation.retrieval import synthetic_eval_set  # noqa: E402
from editsearch.index.instructions import embed_missing  # noqa: E402
from editsearch.index.store import EditIndex  # noqa: E402
from editsearch.search.vocabulary import EDIT_PHRASES  # noqa: E402

SIDE_BY_SIDE = (
    "edits",
    "clusters",
    "purity",
    "true_k_purity",
    "noise_share",
    "kept_together",
    "names_right",
    "names_from_group",
)

# family -> the vocabulary phrases that name it
NAMES: dict[str, tuple[str, ...]] = {
    "brighter": ("make it brighter",),
    "darker": ("make it darker",),
    "more_contrast": ("increase the contrast",),
    "less_contrast": ("reduce the contrast", "wash out the colors"),
    "saturate": ("make the colors more vivid",),
    "desaturate": ("wash out the colors",),
    "hue_shift": ("shift the hues",),
    "tint_red": ("give it a red tint",),
    "tint_green": ("give it a green tint",),
    "tint_blue": ("give it a blue tint",),
    "tint_purple": ("give it a purple tint",),
    "warmer": ("make it warmer",),
    "cooler": ("make it cooler",),
    "invert": ("invert the colors",),
    "grayscale": ("make it black and white",),
    "sepia": ("give it a sepia tone", "make it look vintage"),
    "posterize": ("posterize it",),
    "watercolor": ("turn it into a watercolor painting",),
    "oil_paint": ("make it look like an oil painting",),
    "pencil_sketch": ("turn it into a pencil sketch",),
    "cartoon": ("make it a cartoon",),
    "pixel_art": ("make it pixel art", "pixelate it"),
    "halftone": ("make it look like a halftone print",),
    "emboss": ("emboss it",),
    "blur": ("blur the image",),
    "sharpen": ("sharpen the image",),
    "noise": ("add noise", "add film grain"),
    "film_grain": ("add film grain", "add noise"),
    "flip_horizontal": ("flip it horizontally",),
    "flip_vertical": ("flip it upside down",),
    "rotate_90": ("rotate it",),
    "tilt": ("tilt it", "rotate it"),
    "zoom_in": ("zoom in", "crop it tighter"),
    "frame": ("add a frame around it",),
    "vignette": ("add a vignette",),
    "snow": ("add snow",),
    "rain": ("make it rain",),
    "fog": ("add fog",),
    "shapes": ("draw shapes on it",),
    "smiley": ("add a smiley face",),
    "text": ("add some text",),
    "grayscale_frame": ("make it black and white", "add a frame around it"),
    "old_photo": ("make it look like an old photo", "give it a sepia tone", "make it look vintage", "add a vignette"),
    "winter": ("make it a winter scene", "add snow", "make it cooler"),
    "mirror_brighter": ("flip it horizontally", "make it brighter"),
    "stormy": ("make it stormy", "make it rain", "make it darker"),
    "sketch_frame": ("turn it into a pencil sketch", "add a frame around it"),
}


def fill(
    directory: Path, model, vectors: np.ndarray, instructions: list[str] | None = None, chunk: int = 10_000
) -> None:
    """A fresh index of these vectors (made-up locators; instructions, embedded by the text tower, if given)."""
    with EditIndex.open(directory, create=True) as index:
        index.bind_model(model)
        fp = index.model_info["fingerprint"]
        for start in range(0, len(vectors), chunk):
            part = vectors[start : start + chunk]
            rows = [
                {
                    "key": f"e{i}",
                    "origin": "bench",
                    "source": "manifest",
                    "before": f"/b/{i}.png",
                    "after": f"/a/{i}.png",
                    **({"instruction": instructions[i]} if instructions else {}),
                }
                for i in range(start, start + len(part))
            ]
            index.catalog.save_edits(rows, [v.astype(np.float32).tobytes() for v in part], fp)
        if instructions:
            embed_missing(index.catalog, model)


def scores(atlas, groups: list[str]) -> dict:
    """Purity, noise share, kept together and the share of clusters named right (edit ids are 1..n in set order)."""
    fam = np.array(groups)[atlas.ids - 1]
    right_names, pure, clustered, rows = 0, 0, 0, []
    for info in atlas.clusters():
        members = fam[atlas.cluster == info.cluster]
        names, counts = np.unique(members, return_counts=True)
        major = str(names[np.argmax(counts)])
        ok = info.label in NAMES[major] if major in NAMES else None
        right_names += bool(ok)
        pure += int(counts.max())
        clustered += len(members)
        rows.append({"cluster": info.cluster, "size": info.size, "family": major, "label": info.label, "named": ok})
    n_clusters = len(rows)
    named = n_clusters and all(r["named"] is not None for r in rows)
    return {
        "edits": len(atlas),
        "families": len(set(groups)),
        "clusters": n_clusters,
        "purity": round(pure / clustered, 4) if clustered else 0.0,
        "noise_share": round(float((atlas.cluster == NOISE).mean()), 4),
        "kept_together": kept_together(fam, atlas.cluster),
        "names_right": round(right_names / n_clusters, 4) if named else None,
        "families_found": len({r["family"] for r in rows}),
        "clusters_detail": rows,
    }


def true_k_purity(vectors: np.ndarray, groups: list[str]) -> float:
    """Purity of k-means on the vectors with k = the number of distinct groups."""
    from sklearn.cluster import KMeans

    k = len(set(groups))
    cluster = KMeans(k, n_init=10, random_state=0).fit_predict(vectors)
    fam = np.array(groups)
    pure = sum(int(np.unique(fam[cluster == c], return_counts=True)[1].max()) for c in np.unique(cluster))
    return round(pure / len(fam), 4)


def kept_together(groups: np.ndarray, cluster: np.ndarray) -> float | None:
    """Per group with two clustered edits or more, the share in its most common cluster, weighted by its edits."""
    together = total = 0
    for g in np.unique(groups):
        found = cluster[(groups == g) & (cluster != NOISE)]
        if len(found) >= 2:
            together += int(np.unique(found, return_counts=True)[1].max())
            total += len(found)
    return round(together / total, 4) if total else None


def named_by_group(atlas, groups: list[str], instructions: list[str]) -> float | None:
    """The share of clusters named by an instruction that an edit of their majority group carries."""
    fam = np.array(groups)[atlas.ids - 1]
    carried: dict[str, set[str]] = {}
    for g, text in zip(groups, instructions, strict=True):
        carried.setdefault(g, set()).add(text)
    right = []
    for info in atlas.clusters():
        names, counts = np.unique(fam[atlas.cluster == info.cluster], return_counts=True)
        right.append(info.label in carried[str(names[np.argmax(counts)])])
    return round(float(np.mean(right)), 4) if right else None


def load_set(name: str, args: argparse.Namespace, work: Path) -> tuple[list, list, list[str], list[str]]:
    """(befores, afters, groups, instructions) of set `name`."""
    if name == "generator":
        es = synthetic_eval_set(per_family=args.per_family)
        return es.befores, es.afters, list(es.labels), [str(t) for t in es.instructions]
    if name == "heldout":
        pairs = heldout_pairs(work / "heldout", args.per_family * len(FAMILIES), args.seed)
    else:
        pairs = real_pairs(args.real)
    return [p.before for p in pairs], [p.after for p in pairs], [p.group for p in pairs], [p.instruction for p in pairs]


def quality(name: str, model, args: argparse.Namespace, work: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The quality figures of one set, and the pair vectors of each of its groups (for the speed collection)."""
    befores, afters, groups, instructions = load_set(name, args, work)
    vectors = model.embed_pairs(befores, afters).numpy()
    fill(work / f"{name}-bare", model, vectors)
    with EditIndex.open(work / f"{name}-bare", writable=True) as index:
        result = scores(build_map(index), groups)
    fill(work / f"{name}-instructed", model, vectors, instructions)
    with EditIndex.open(work / f"{name}-instructed", writable=True) as index:
        atlas = build_map(index)
    summary = atlas.summary()
    result["names_from_group"] = named_by_group(atlas, groups, instructions)
    result["agreement"] = summary.get("agreement")
    result["agreement_line"] = summary.get("agreement_line")
    result["true_k_purity"] = true_k_purity(vectors, groups)
    by_group = {g: vectors[np.array(groups) == g] for g in sorted(set(groups))}
    return result, by_group


def speed(model, by_family: dict[str, np.ndarray], n: int, fit_sample: int, work: Path) -> dict:
    """Time one build_map of n vectors drawn around the group centres."""
    rng = np.random.default_rng(0)
    names = sorted(by_family)
    family = np.sort(rng.integers(len(names), size=n))
    centres = np.stack([by_family[f].mean(axis=0) for f in names])
    spread = np.array([by_family[f].std(axis=0).mean() for f in names])
    vectors = centres[family] + rng.normal(size=(n, centres.shape[1])) * spread[family, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    fill(work / "speed", model, vectors)
    with EditIndex.open(work / "speed", writable=True) as index:
        wall, cpu = time.perf_counter(), time.process_time()
        atlas = build_map(index, fit_sample=fit_sample)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = scores(atlas, [names[f] for f in family])
    out.pop("clusters_detail")
    return {**out, "fit_sample": fit_sample, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": os.getloadavg()}


def _sets(text: str) -> tuple[str, ...]:
    """The sets named in a comma-separated list, in SETS order."""
    names = {t.strip() for t in text.split(",") if t.strip()}
    if not names or names - set(SETS):
        raise argparse.ArgumentTypeError(f"choose among {', '.join(SETS)}, got {text!r}")
    return tuple(s for s in SETS if s in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--set", type=_sets, default=SETS, help=f"comma-separated, of {', '.join(SETS)} (default: all)")
    ap.add_argument("--real", type=Path, help="folder of the real pairs (manifest.jsonl): needed for the real set")
    ap.add_argument("--per-family", type=int, default=40, help="pairs per family of the generator and held-out sets")
    ap.add_argument("--seed", type=int, default=0, help="seed of the held-out set")
    ap.add_argument("--speed", type=int, default=0, help="also time a map of this many edits (0: skip)")
    ap.add_argument("--fit-sample", type=int, default=50_000)
    args = ap.parse_args()
    if "real" in args.set and args.real is None:
        ap.error("the real set needs --real DIR (a folder with manifest.jsonl); or leave it out with --set")
    assert set(NAMES) == set(FAMILIES) and all(p in EDIT_PHRASES for ps in NAMES.values() for p in ps)
    model = load_model(args.model)
    results, by_group = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.set:
            results[name], groups = quality(name, model, args, Path(tmp))
            by_group = by_group or groups
        speed_result = speed(model, by_group, args.speed, args.fit_sample, Path(tmp)) if args.speed else None
    side = {fig: {name: res[fig] for name, res in results.items()} for fig in SIDE_BY_SIDE}
    side["agreement_purity"] = {name: (res["agreement"] or {}).get("purity") for name, res in results.items()}
    command = " ".join(["python", "benchmarks/map.py", *sys.argv[1:]])
    out = {"command": command, "model": model.name, "side_by_side": side, "sets": results}
    if speed_result is not None:
        out["speed"] = speed_result
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
