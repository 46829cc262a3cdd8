"""Plant the audit's problems on an evaluation set: no-ops, mismatches, reversals, duplicates, hard negatives.

A synthetic set (the project's generator, the held-out one) is planted in place: SHARE of its pairs each become
a no-op (the after is the before re-encoded as JPEG, maybe resized, maybe with faint noise), a mismatch (another
family's instruction) or a reversal (before and after swapped; pairs with a direction only), SHARE of the clean
ones are copied as duplicates (resized, re-encoded, listed in a second manifest), and about 2 x SHARE of the
clean ones get a hard negative (the same edit on another window of the same photo: no duplicate). A small real
set is planted on copies, so that every original stays a correct pair: `count` originals each get a no-op, a
mismatched, a reversed (if directional) and a duplicate copy.

Each planter writes `out/main.jsonl` and `out/leak.jsonl` (the duplicates) and returns the truth: one dict per
pair, with its `key` (the before's path relative to `out`), `kind`, `family`, the `forward` (before, after) of
the set's own pairs, and `of` (the original's key) for a copy.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.edit_sets import SetPair

SHARE = 0.05
SIZE, FULL = 224, 320  # pair side; the source crop it is cut from (a hard negative is another window of it)
# the project's generator: families whose reverse is the same family (no reversal planted on them)
DIRECTIONLESS = {"invert", "flip_horizontal", "flip_vertical", "rotate_90", "tilt", "hue_shift", "mirror_brighter"}

Images = tuple[Image.Image, Image.Image]
HardNegatives = Callable[[], list[Images]]  # the same edit on other windows of the same photo
Maker = Callable[[int], tuple[SetPair, HardNegatives | None]]
Mismatch = Callable[[str, np.random.Generator], str]  # an instruction of another family than this one


def jpeg(img: Image.Image, rng: np.random.Generator, scale: tuple[float, float]) -> Image.Image:
    """Resize by a random factor (keeping the aspect), then re-encode as JPEG of random quality."""
    side = int(img.width * rng.uniform(*scale))
    size = (side, max(1, round(img.height * side / img.width)))
    img = img.resize(size, Image.BICUBIC) if side != img.width else img
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(80, 96)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def noop(before: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The before, re-encoded (maybe resized), maybe with faint noise: an edit that changed nothing visible."""
    after = jpeg(before, rng, (0.8, 1.0)).resize(before.size, Image.BICUBIC)
    if rng.random() < 0.5:
        arr = np.asarray(after, np.float32) + rng.normal(0, 1.5, (after.height, after.width, 3))
        after = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return after


def save(out: Path, stem: str, images: Images, instruction: str, family: str, fmt: str = "png") -> dict:
    """Write a pair's images under out/images; its manifest row."""
    row = {"instruction": instruction, "family": family}
    for half, img in zip(("before", "after"), images, strict=True):
        rel = f"images/{stem}_{half}.{fmt}"
        img.save(out / rel, quality=95) if fmt == "jpg" else img.save(out / rel)
        row[half] = rel
    return row


def plant_in_place(out: Path, plan: Sequence[tuple[str, bool]], make: Maker, mismatch: Mismatch, seed: int) -> list:
    """Plant SHARE of each problem on the pairs `make(i)` returns (`plan`: each one's family and direction)."""
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    pairs = len(plan)
    kinds = np.array(["clean"] * pairs, dtype=object)
    k = max(1, int(SHARE * pairs))
    order = rng.permutation(pairs)
    kinds[order[:k]], kinds[order[k : 2 * k]] = "noop", "mismatch"
    directional = [i for i in order[2 * k :] if plan[i][1]]
    kinds[directional[:k]] = "reversed"
    truth, rows = [], []
    for i in range(pairs):
        pair, hard = make(i)
        kind, before, after, instruction = kinds[i], pair.before, pair.after, pair.instruction
        if kind == "noop":
            after = noop(before, rng)
        elif kind == "mismatch":
            instruction = mismatch(pair.group, rng)
        images = (after, before) if kind == "reversed" else (before, after)
        rows.append(save(out, f"{i:05d}", images, instruction, pair.group))
        truth.append({"key": rows[-1]["before"], "kind": kind, "family": pair.group, "forward": (before, after)})
        if kind == "clean" and rng.random() < 2 * SHARE and hard is not None:
            for n, negative in enumerate(hard()):
                rows.append(save(out, f"{i:05d}h{n or ''}", negative, instruction, pair.group))
                truth.append({"key": rows[-1]["before"], "kind": "hardneg", "family": pair.group, "forward": None})
    clean = [t for t in truth if t["kind"] == "clean"]
    picked = [clean[t] for t in rng.permutation(len(clean))[:k]]
    _write(out, rows, truth, _duplicates(out, picked, rows, seed, truth))
    return truth


def plant_copies(out: Path, pairs: Sequence[SetPair], count: int, mismatch: Mismatch, seed: int) -> list:
    """Keep every pair as a correct one and plant each problem on copies of `count` of them (chosen at random)."""
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, truth = [], []
    for i, pair in enumerate(pairs):
        rows.append(save(out, f"{i:05d}", (pair.before, pair.after), pair.instruction, pair.group))
        truth.append({"key": rows[-1]["before"], "kind": "clean", "family": pair.group})
        truth[-1]["forward"] = (pair.before, pair.after)
    chosen = sorted(rng.choice(len(pairs), size=min(count, len(pairs)), replace=False).tolist())
    for i in chosen:
        pair, of = pairs[i], truth[i]["key"]
        copies = [("noop", (pair.before, noop(pair.before, rng)), pair.instruction)]
        copies.append(("mismatch", (pair.before, pair.after), mismatch(pair.group, rng)))
        if pair.directional:
            copies.append(("reversed", (pair.after, pair.before), pair.instruction))
        for kind, images, instruction in copies:
            rows.append(save(out, f"{i:05d}{kind}", images, instruction, pair.group))
            forward = (pair.before, images[1]) if kind == "noop" else (pair.before, pair.after)
            truth.append({"key": rows[-1]["before"], "kind": kind, "family": pair.group, "forward": forward, "of": of})
    _write(out, rows, truth, _duplicates(out, [truth[i] for i in chosen], rows, seed, truth))
    return truth


def _duplicates(out: Path, originals: list[dict], rows: list[dict], seed: int, truth: list[dict]) -> list[dict]:
    """A resized, re-encoded copy of each original (rows of the leak manifest); their truth appended to `truth`."""
    leak = []
    for n, original in enumerate(originals):
        before, after = (jpeg(img, np.random.default_rng(seed + n), (0.5, 0.9)) for img in original["forward"])
        row = next(r for r in rows if r["before"] == original["key"])
        leak.append(save(out, f"dup{n:05d}", (before, after), row["instruction"], original["family"], "jpg"))
        truth.append({"key": leak[-1]["before"], "kind": "duplicate", "of": original["key"], "forward": None})
    return leak


def _write(out: Path, rows: list[dict], truth: list[dict], leak: list[dict]) -> None:
    """The two manifests: the collection and its leaked copies."""
    for name, lines in (("main.jsonl", rows), ("leak.jsonl", leak)):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in lines))


def other_group(texts: Mapping[str, Sequence[str]]) -> Mismatch:
    """A mismatch drawn from `texts` (group -> its instructions): another group at random, then one of its texts."""
    names = sorted(texts)

    def draw(group: str, rng: np.random.Generator) -> str:
        others = [g for g in names if g != group]
        chosen = texts[others[int(rng.integers(len(others)))]]
        return str(chosen[int(rng.integers(len(chosen)))])

    return draw


def generator_set(pairs: int, seed: int) -> tuple[list[tuple[str, bool]], Maker, Mismatch]:
    """The project's generator (every family, train and test photos): plan, pair maker and mismatch."""
    from editsearch.data.synthetic.families import FAMILIES
    from editsearch.data.synthetic.generator import mean_change, pair_plan, pair_rng
    from editsearch.data.synthetic.photos import sample_source

    plan = pair_plan(pairs, seed, "both")

    def make(i: int) -> tuple[SetPair, HardNegatives]:
        family, split = plan[i]
        prng = pair_rng(seed, i)
        for _ in range(4):
            full, _photo = sample_source(prng, split, FULL)
            before = full.crop((0, 0, SIZE, SIZE))
            after, params = _generator_edit(family, before, seed * 100_003 + i)
            if mean_change(before, after) >= 4.0:
                break
        instruction = FAMILIES[family].instruction(split, params, prng)

        def hard() -> list[Images]:
            window = full.crop((FULL - SIZE, FULL - SIZE, FULL, FULL))
            return [(window, _generator_edit(family, window, seed * 100_003 + i)[0])]

        return SetPair(before, after, instruction, family, family not in DIRECTIONLESS), hard

    def mismatch(family: str, rng: np.random.Generator) -> str:
        other = sorted(set(FAMILIES) - {family})[int(rng.integers(len(FAMILIES) - 1))]
        fam = FAMILIES[other]
        _, params = fam.apply(Image.new("RGB", (64, 64), (128, 128, 128)), rng)
        return fam.instruction("train", params, rng)

    return [(family, family not in DIRECTIONLESS) for family, _ in plan], make, mismatch


def _generator_edit(family: str, before: Image.Image, seed: int) -> tuple[Image.Image, dict]:
    from editsearch.data.synthetic.families import FAMILIES

    after, params = FAMILIES[family].apply(before, np.random.default_rng(seed))
    return (after.resize(before.size, Image.BICUBIC) if after.size != before.size else after), params


def heldout_set(pairs: Sequence[SetPair], seed: int) -> tuple[list[tuple[str, bool]], Maker, Mismatch]:
    """The held-out set's pairs (as written): plan, pair maker (with held-out hard negatives) and mismatch."""
    from benchmarks.heldout.wordings import wordings

    def make(i: int) -> tuple[SetPair, HardNegatives]:
        return pairs[i], lambda: _heldout_windows(pairs[i].group, seed, i)

    return [(p.group, p.directional) for p in pairs], make, other_group(wordings())


def _heldout_windows(family: str, seed: int, index: int) -> list[Images]:
    """The held-out edit of `family` on two overlapping windows of one test photo (each other's hard negative)."""
    from benchmarks.heldout.families import FAMILIES
    from benchmarks.heldout.generate import TRIES, visibly_changed
    from editsearch.data.synthetic.photos import sample_source

    rng = np.random.default_rng([seed, index, 1])
    for _ in range(TRIES):
        full, _source = sample_source(rng, "test", FULL)
        windows = (full.crop((0, 0, SIZE, SIZE)), full.crop((FULL - SIZE, FULL - SIZE, FULL, FULL)))
        edit_seed = int(rng.integers(2**32))  # the same draws on both windows: the same edit, as far as it can be
        made = [(w, FAMILIES[family].edit(w, np.random.default_rng(edit_seed))) for w in windows]
        if all(visibly_changed(b, a) for b, a in made):
            return made
    return []
