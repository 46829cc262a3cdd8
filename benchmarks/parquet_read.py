"""Pairs read from a Hugging Face parquet file against the same pairs read from image files, side by side in one run.

    python benchmarks/parquet_read.py                 # 500 synthetic 256-px JPEG pairs, default model
    python benchmarks/parquet_read.py --pairs 100000  # the at-scale run

`editsearch data synth` writes N pairs as files with a manifest; the same bytes are then written into one
parquet file in MagicBrush's layout (`datasets` Image cells, 100-row row groups as `datasets` writes image
tables). Each source is indexed by build-index (`EditIndex.sync`) into a fresh index, then indexed again
with nothing changed. Reported per source: the first build's pairs/s, the re-run's seconds as a share of the
first build's, and the peak RSS of the building process and of its data-loader workers; and the ratio of the
parquet's pairs/s to the files'. Each build runs in a process of its own, so each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROW_GROUP = 100  # rows per row group, as `datasets` writes tables of images


def write_parquet(manifest: Path, out: Path) -> int:
    """The manifest's pairs, images embedded, in MagicBrush's columns; returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema(
        [("img_id", pa.string()), ("turn_index", pa.int32()), ("source_img", image), ("mask_img", image),
         ("instruction", pa.string()), ("target_img", image)]
    )  # fmt: skip
    lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    with pq.ParquetWriter(out, schema) as writer:
        for start in range(0, len(lines), ROW_GROUP):
            chunk = lines[start : start + ROW_GROUP]
            cells = {
                key: [{"bytes": (manifest.parent / line[key]).read_bytes(), "path": None} for line in chunk]
                for key in ("before", "after")
            }
            writer.write_table(
                pa.table(
                    {
                        "img_id": [str(start + i) for i in range(len(chunk))],
                        "turn_index": pa.array([1] * len(chunk), pa.int32()),
                        "source_img": pa.array(cells["before"], image),
                        "mask_img": pa.array([None] * len(chunk), image),
                        "instruction": [line.get("instruction") for line in chunk],
                        "target_img": pa.array(cells["after"], image),
                    },
                    schema=schema,
                )
            )
    return len(lines)


def build(source: str, index_dir: str, model_name: str | None, batch_size: int, workers: int | None) -> dict:
    """Index `source` into a fresh index, then again with nothing changed (run in a process of its own)."""
    from editsearch.index.store import EditIndex

    with EditIndex.open(index_dir, create=True) as index:
        model = index.embedder(model_name)
        model.model  # noqa: B018 - load the weights before the clock starts: both sources pay the same
        start = time.perf_counter()
        first = index.sync([source], model, batch_size=batch_size, workers=workers)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = index.sync([source], model, batch_size=batch_size, workers=workers)
        again_s = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert first.failed == 0 and again.skipped == first.added, (first.summary(), again.summary())
    return {
        "pairs": first.added,
        "first_s": first_s,
        "pairs_per_s": first.added / first_s,
        "rerun_s": again_s,
        "rerun_share": again_s / first_s,
        "peak_rss_mb": own,
        "worker_peak_rss_mb": workers_rss,
    }


def _child(queue: mp.Queue, *args: object) -> None:
    queue.put(build(*args))  # type: ignore[arg-type]


def measure(source: Path, index_dir: Path, args: argparse.Namespace) -> dict:
    """build() in a fresh spawned process, so its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_child, args=(queue, str(source), str(index_dir), args.model, args.batch_size, args.workers)
    )
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--model", default=None, help="model name or folder (default: the registry default)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="data-loader workers (default: build-index's)")
    parser.add_argument("--synth-workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    from editsearch.data.synthetic.generator import write_synth

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        write_synth(root / "files", args.pairs, seed=0, size=args.size, image_format="jpg", workers=args.synth_workers)
        manifest = root / "files" / "manifest.jsonl"
        table = root / "table" / "train-00000-of-00001.parquet"
        table.parent.mkdir()
        write_parquet(manifest, table)
        setup_s = time.perf_counter() - start
        results = {
            "files": measure(manifest, root / "idx-files", args),
            "parquet": measure(table, root / "idx-parquet", args),
        }
        results["parquet_over_files"] = results["parquet"]["pairs_per_s"] / results["files"]["pairs_per_s"]
        results["parquet_bytes"] = table.stat().st_size
        results["setup_s"] = setup_s
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.pairs} pairs, {args.size} px JPEG; parquet file {results['parquet_bytes'] / 2**20:.1f} MiB")
    print(f"{'source':<9}{'pairs/s':>9}{'first s':>9}{'re-run s':>10}{'share':>8}{'RSS MB':>8}{'workers MB':>12}")
    for name in ("files", "parquet"):
        r = results[name]
        print(
            f"{name:<9}{r['pairs_per_s']:>9.1f}{r['first_s']:>9.1f}{r['rerun_s']:>10.2f}{r['rerun_share']:>8.1%}"
            f"{r['peak_rss_mb']:>8.0f}{r['worker_peak_rss_mb']:>12.0f}"
        )
    print(f"parquet / files pairs/s: {results['parquet_over_files']:.2f}")


if __name__ == "__main__":
    main()
