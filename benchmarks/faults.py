"""Fault injection: damage each file of an index in turn and check that no wrong answer comes back.

Builds one index (2,000 edits of random unit vectors, d = 64: no model or images needed), then for each
file (catalog.db, vectors.faiss, vectors.json, write.lock) and each damage (truncate to a random length,
overwrite a random 4 KB page with random bytes, delete) runs TRIALS trials on a fresh copy:

- a reader searches 8 fixed query vectors (top 10) and reads each hit's catalog row, as `query` does;
- `verify` runs on the same copy.

Each trial is one of: `repaired` (the right answer, with a one-line notice that the cache was rebuilt),
`refused` (one clear error line: a damaged catalog, no index), `unharmed` (the right answer and nothing
to notice: the bytes hit were not data, e.g. the lock file's pid), `WRONG` (a different answer and no
error) or `crash` (a traceback in the CLI, or an error message of more than one line). `detected`
counts trials where the reader refused or noticed, or `verify` reported a problem. Run twice: with the
catalog's quick_check on open (as for catalogs up to 32 MB), and without it (as for larger ones, where
damage shows mid-query).

    python benchmarks/faults.py [--trials 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

import editsearch.index.catalog as catalog_module
from editsearch.core.errors import EditSearchError
from editsearch.index.catalog import CATALOG_FILE
from editsearch.index.lock import LOCK_FILE
from editsearch.index.store import EditIndex
from editsearch.index.vectors import FAISS_FILE, META_FILE

EDITS, DIM, K, QUERIES = 2000, 64, 10, 8
FILES = (CATALOG_FILE, FAISS_FILE, META_FILE, LOCK_FILE)
DAMAGES = ("truncate", "overwrite page", "delete")
PAGE = 4096


class Notices(logging.Handler):
    """Collects the store's one-line notices (a rebuilt FAISS cache)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def build(directory: Path, rng: np.random.Generator) -> None:
    """An index of EDITS random unit vectors with instructions, and its saved FAISS cache."""
    with EditIndex.open(directory, create=True) as index:
        index.catalog.bind_model("random", "fp-random", DIM, False, {})
        vectors = rng.standard_normal((EDITS, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [
            {"key": f"k{i}", "origin": "bench", "source": "files", "before": f"/b/{i}.png", "after": f"/a/{i}.png"}
            | {"instruction": f"edit number {i}", "metadata": {"n": i}}
            for i in range(EDITS)
        ]
        for start in range(0, EDITS, 500):
            index.catalog.save_edits(
                rows[start : start + 500], [v.tobytes() for v in vectors[start : start + 500]], "fp-random"
            )
        index.rebuild()


def answer(directory: Path, queries: np.ndarray) -> list[list[tuple[int, float, str, str]]]:
    """What a reader returns: per query, (id, score, instruction, before) of the top K."""
    with EditIndex.open(directory) as index:
        hits = index.search(queries, K)
    return [[(h.edit["id"], round(h.score, 5), h.edit["instruction"], h.edit["before"]) for h in q] for q in hits]


def damage(path: Path, kind: str, rng: np.random.Generator) -> None:
    """Truncate to a random length, overwrite a random 4 KB page (or the whole of a smaller file), or delete."""
    if kind == "delete":
        path.unlink()
        return
    size = path.stat().st_size
    if kind == "truncate":
        with open(path, "r+b") as f:
            f.truncate(int(rng.integers(0, max(size, 1))))
        return
    pages = max(1, -(-size // PAGE))
    offset = int(rng.integers(0, pages)) * PAGE
    length = max(1, min(PAGE, size - offset))
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(rng.integers(0, 256, length, dtype=np.uint8).tobytes())


def trial(
    pristine: Path, work: Path, file: str, kind: str, rng, queries, expected, notices: Notices
) -> tuple[str, bool]:
    """(outcome, detected) of one damaged copy."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, work)
    damage(work / file, kind, rng)
    notices.messages.clear()
    try:
        got = answer(work, queries)
        if got != expected:
            outcome = "WRONG"
        else:
            outcome = "repaired" if notices.messages else "unharmed"
    except (EditSearchError, OSError, sqlite3.DatabaseError) as e:  # the CLI prints each as one `Error:` line
        outcome = "refused" if "\n" not in str(e) else "crash"
    except Exception:  # noqa: BLE001 - what the fault run is looking for
        outcome = "crash"
    try:
        flagged = not EditIndex.verify_at(work).ok
    except (EditSearchError, OSError, sqlite3.DatabaseError):
        flagged = True
    return outcome, outcome in ("refused", "repaired") or flagged


def run(trials: int, seed: int, quick_check: bool) -> list[tuple[str, str, Counter]]:
    """Every file x damage, `trials` times each; rows of (file, damage, counts)."""
    rng = np.random.default_rng(seed)
    catalog_module.QUICK_CHECK_MAX_BYTES = (32 << 20) if quick_check else 0
    notices = Notices()
    logging.getLogger("editsearch.index.cache").addHandler(notices)
    logging.getLogger("editsearch.index.cache").propagate = False
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pristine, work = Path(tmp) / "pristine", Path(tmp) / "work"
        build(pristine, rng)
        queries = rng.standard_normal((QUERIES, DIM)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        expected = answer(pristine, queries)
        for file in FILES:
            for kind in DAMAGES:
                counts: Counter = Counter()
                for _ in range(trials):
                    outcome, detected = trial(pristine, work, file, kind, rng, queries, expected, notices)
                    counts[outcome] += 1
                    counts["detected"] += detected
                rows.append((file, kind, counts))
    return rows


def table(rows: list[tuple[str, str, Counter]], trials: int) -> str:
    """A markdown table of the outcomes."""
    cols = ("detected", "repaired", "refused", "unharmed", "WRONG", "crash")
    lines = ["| file | damage | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for file, kind, counts in rows:
        lines.append(f"| {file} | {kind} | " + " | ".join(f"{counts[c]}/{trials}" for c in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for quick_check in (True, False):
        start = time.perf_counter()
        rows = run(args.trials, args.seed, quick_check)
        label = "quick_check on open" if quick_check else "no quick_check on open (catalogs over 32 MB)"
        print(f"\n### {label} ({time.perf_counter() - start:.0f} s)\n")
        print(table(rows, args.trials))
        wrong = sum(c["WRONG"] + c["crash"] for _, _, c in rows)
        print(f"\nwrong answers or tracebacks: {wrong}")


if __name__ == "__main__":
    main()
