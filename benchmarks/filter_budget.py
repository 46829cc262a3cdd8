"""What checking a filter's time budget costs: the same `where` scan with SQLite's progress handler every
N instructions (the catalog checks every 10) against none, side by side.

    python benchmarks/filter_budget.py [--rows 300000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

from editsearch.index.catalog import PROGRESS_STEPS

WHERE = "json_extract(metadata, '$.family') = 'f3' AND length(instruction) > 10"


def scan(db: sqlite3.Connection, steps: int | None, repeats: int) -> float:
    """Best-of-`repeats` seconds of one filtered scan, the progress handler set every `steps` instructions."""
    db.set_progress_handler((lambda: 0) if steps else None, steps or 0)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        db.execute(f"SELECT count(*) FROM edits WHERE {WHERE}").fetchone()
        best = min(best, time.perf_counter() - start)
    db.set_progress_handler(None, 0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE edits (id INTEGER PRIMARY KEY, instruction TEXT, metadata TEXT)")
    db.executemany(
        "INSERT INTO edits (instruction, metadata) VALUES (?, ?)",
        ((f"make it look like style {i % 97}", json.dumps({"family": f"f{i % 31}", "n": i})) for i in range(args.rows)),
    )
    none = scan(db, None, args.repeats)
    print(f"{args.rows:,} rows, where {WHERE!r}")
    print(f"no progress handler      {none * 1000:8.1f} ms")
    for steps in (1000, 100, PROGRESS_STEPS):
        took = scan(db, steps, args.repeats)
        print(f"handler every {steps:>4} ops  {took * 1000:8.1f} ms  ({took / none:.3f}x)")


if __name__ == "__main__":
    main()
