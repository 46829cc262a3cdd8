"""The edit atlas on synthetic collections with known families and no instructions: purity, noise, names, speed.

    python benchmarks/map.py [--model NAME|PATH] [--per-family 40] [--speed N] [--fit-sample 50000] [--json]

Quality: `--per-family` held-out synthetic pairs of every family (editsearch.evaluation.retrieval's
synthetic_eval_set), embedded with the model and saved to a fresh index WITHOUT their instructions, so
every cluster is named from the shipped vocabulary (editsearch.vocabulary.EDIT_PHRASES). Then `build_map`:
- purity: the share of clustered edits whose family is their cluster's majority family;
- noise: the share of edits left as noise;
- names right: the share of clusters whose name is one of the phrases that describe their majority
  family (NAMES below: the phrase for the family's operation; for a compound family, a phrase for the
  whole or for either step).
Speed (`--speed N`): N vectors drawn around the families' centres (each family's mean pair vector plus
Gaussian noise of that family's own spread), saved through the catalog (no image forward), then one
timed `build_map` (fit on `--fit-sample`, the rest placed in its layout), wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from editsearch.data.synth import FAMILIES

from editsearch.atlas import build_map
from editsearch.atlas.clusters import NOISE
from editsearch.encoder import load_model
from editsearch.evaluation.retrieval import synthetic_eval_set
from editsearch.index.store import EditIndex
from editsearch.vocabulary import EDIT_PHRASES

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


def fill(directory: Path, model, vectors: np.ndarray, chunk: int = 10_000) -> None:
    """A fresh index of these vectors (made-up locators, no instructions), through the catalog."""
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
                }
                for i in range(start, start + len(part))
            ]
            index.catalog.save_edits(rows, [v.astype(np.float32).tobytes() for v in part], fp)


def scores(atlas, families: list[str]) -> dict:
    """Purity, noise share and the share of clusters named right (edit ids are 1..n in family order)."""
    fam = np.array(families)[atlas.ids - 1]
    right_names, pure, clustered, rows = 0, 0, 0, []
    for info in atlas.clusters():
        members = fam[atlas.cluster == info.cluster]
        names, counts = np.unique(members, return_counts=True)
        major = str(names[np.argmax(counts)])
        ok = info.label in NAMES[major]
        right_names += ok
        pure += int(counts.max())
        clustered += len(members)
        rows.append({"cluster": info.cluster, "size": info.size, "family": major, "label": info.label, "named": ok})
    n_clusters = len(rows)
    return {
        "edits": len(atlas),
        "families": len(set(families)),
        "clusters": n_clusters,
        "purity": round(pure / clustered, 4) if clustered else 0.0,
        "noise_share": round(float((atlas.cluster == NOISE).mean()), 4),
        "names_right": round(right_names / n_clusters, 4) if n_clusters else 0.0,
        "families_found": len({r["family"] for r in rows}),
        "clusters_detail": rows,
    }


def quality(model, per_family: int, work: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The quality figures, and the pair vectors of each family (for the speed collection)."""
    es = synthetic_eval_set(per_family=per_family)
    vectors = model.embed_pairs(es.befores, es.afters).numpy()
    fill(work / "quality", model, vectors)
    with EditIndex.open(work / "quality", writable=True) as index:
        atlas = build_map(index)
    by_family = {name: vectors[np.array(es.labels) == name] for name in sorted(set(es.labels))}
    return scores(atlas, list(es.labels)), by_family


def speed(model, by_family: dict[str, np.ndarray], n: int, fit_sample: int, work: Path) -> dict:
    """Time one build_map of n vectors drawn around the family centres."""
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-family", type=int, default=40)
    ap.add_argument("--speed", type=int, default=0, help="also time a map of this many edits (0: skip)")
    ap.add_argument("--fit-sample", type=int, default=50_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    assert set(NAMES) == set(FAMILIES) and all(p in EDIT_PHRASES for ps in NAMES.values() for p in ps)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        result, by_family = quality(model, args.per_family, Path(tmp))
        if args.speed:
            result["speed"] = speed(model, by_family, args.speed, args.fit_sample, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(
        f"quality: {result['edits']} edits of {result['families']} families -> {result['clusters']} clusters "
        f"({result['families_found']} families found); purity {result['purity']:.3f}, "
        f"noise {result['noise_share']:.1%}, names right {result['names_right']:.1%}"
    )
    for row in result["clusters_detail"]:
        named = "ok " if row["named"] else "NO "
        print(f"  {row['cluster']:3d} {row['size']:5d}  {row['family']:16s} {named} {row['label']}")
    if "speed" in result:
        s = result["speed"]
        print(
            f"speed: {s['edits']} edits (fit on {s['fit_sample']}): {s['wall_s']} s wall, {s['cpu_s']} s CPU, "
            f"load {s['load'][0]:.1f}; purity {s['purity']:.3f}, noise {s['noise_share']:.1%}, {s['clusters']} clusters"
        )


if __name__ == "__main__":
    main()
