"""What the audit's copies pass costs (editsearch/audit/copies.py): 16 JPEG pairs copied as the audit copies a
collection's pairs, for photos of a common size and of a large camera's, side by side in one run.

    python benchmarks/audit_copies.py [--sizes 1024x768,4000x3000] [--pairs 16] [--side 112]

The photos are smooth random colour fields saved as JPEG (quality 90); each pair's after is its before turned by
one degree. Wall seconds of `make_copies` alone (the audit's pair transform at the model's side `--side`, 112 for
editclip-mini), after one warm-up pair; the ratio is each size's time over the first size's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from editsearch.audit.copies import make_copies
from editsearch.data.records import ImageRef
from editsearch.encoder.preprocess import PairTransform

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def photos(folder: Path, width: int, height: int, pairs: int) -> list[tuple[ImageRef, ImageRef]]:
    """`pairs` JPEG pairs of this size in `folder`."""
    rng = np.random.default_rng(0)
    refs = []
    for i in range(pairs):
        before = Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
        paths = folder / f"{width}x{height}-{i}-before.jpg", folder / f"{width}x{height}-{i}-after.jpg"
        before.save(paths[0], quality=90)
        before.rotate(1).save(paths[1], quality=90)
        refs.append((ImageRef(str(paths[0])), ImageRef(str(paths[1]))))
    return refs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1024x768,4000x3000")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--side", type=int, default=112)
    args = ap.parse_args()
    pixels = PairTransform(args.side, MEAN, STD).pixels
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            refs = photos(Path(tmp), width, height, args.pairs)
            make_copies(refs[:1], pixels, args.side, np.random.default_rng(0))  # warm-up
            start = time.perf_counter()
            make_copies(refs, pixels, args.side, np.random.default_rng(0))
            out[size] = {"seconds": round(time.perf_counter() - start, 2)}
    first = next(iter(out.values()))["seconds"]
    for figures in out.values():
        figures["ratio"] = round(figures["seconds"] / first, 2)
    print(json.dumps({"pairs": args.pairs, "side": args.side, "sizes": out}))


if __name__ == "__main__":
    main()
