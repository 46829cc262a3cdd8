"""The units of an embed job: input shards planned as jobs, their results, and the run's report."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.core.errors import EditSearchError, UsageError, item_objects, items_exit_code
from editsearch.data.records import EditPair, ItemError
from editsearch.data.sources import expand_sources, source_files
from editsearch.pairs.loading import Planned, failure_reason
from editsearch.pairs.shards import SHARD_SUFFIX


class EngineError(EditSearchError):
    """An embedding engine that could not finish a job (a cluster that lost results); a rerun resumes it."""


@dataclass
class ShardJob:
    """One input shard and where its embeddings go."""

    input: Path
    output: Path
    signature: str
    columns: Mapping[str, str] | None = None  # a table's columns, where no preset fits (see data.layouts)


@dataclass
class ShardResult:
    """What embedding one shard produced: its rows and vectors, and the items that failed."""

    job: ShardJob
    rows: list[dict[str, Any]]
    vectors: np.ndarray
    errors: list[tuple[str, str]]


@dataclass
class EmbedReport:
    """What an embed run did: shards embedded and skipped, pairs embedded, items failed, time taken."""

    shards: int = 0
    embedded_shards: int = 0
    skipped_shards: int = 0
    pairs: int = 0
    failed: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0  # engine start (Ray), before the first shard
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (origin, item, reason)

    @property
    def exit_code(self) -> int:
        """0 when every item succeeded, EXIT_PARTIAL (3) when some failed."""
        return items_exit_code(self.failed)

    @property
    def rate(self) -> float:
        """Pairs embedded per second of the whole run."""
        return self.pairs / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line: shards embedded and skipped, pairs, failures, pairs/s."""
        return (
            f"embedded {self.embedded_shards} shard(s), skipped {self.skipped_shards} complete; "
            f"{self.pairs} pairs, failed {self.failed} ({self.seconds:.1f} s, {self.rate:.1f} pairs/s"
            + (f", engine start {self.startup_seconds:.1f} s)" if self.startup_seconds else ")")
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (errors as objects)."""
        return {
            "shards": self.shards,
            "embedded_shards": self.embedded_shards,
            "skipped_shards": self.skipped_shards,
            "pairs": self.pairs,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "startup_seconds": round(self.startup_seconds, 3),
            "pairs_per_second": round(self.rate, 2),
            "errors": item_objects(self.errors),
        }


def input_shards(sources: Sequence[str | Path]) -> list[Path]:
    """The input shards of these sources (glob patterns expanded), in order, each once: a folder of parquet,
    arrow or tar files gives one shard per file."""
    out: dict[Path, None] = {}
    for src in expand_sources(sources):
        out.update(dict.fromkeys(source_files(src.expanduser().resolve())))
    return list(out)


def shard_name(input_path: Path) -> str:
    """The embeddings file name of an input shard: its readable stem plus a hash of its absolute path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", input_path.stem)[:60] or "shard"
    return f"{stem}-{hashlib.sha256(str(input_path).encode()).hexdigest()[:12]}{SHARD_SUFFIX}"


def input_signature(path: Path) -> str:
    """Size and mtime of a file; for a folder, a hash of every file's relative path, size and mtime."""
    st = path.stat()
    if not path.is_dir():
        return f"{st.st_size}:{st.st_mtime_ns}"
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath) / name
            fst = file.stat()
            h.update(f"{file.relative_to(path)}\0{fst.st_size}\0{fst.st_mtime_ns}\n".encode())
    return h.hexdigest()


def plan_jobs(
    sources: Sequence[str | Path],
    out: Path,
    shard_index: int = 0,
    num_shards: int = 1,
    columns: Mapping[str, str] | None = None,
) -> list[ShardJob]:
    """This worker's share of the input shards: those at positions i with i % num_shards == shard_index."""
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise UsageError(f"--shard-index must be in 0..{num_shards - 1} (got {shard_index} of {num_shards})")
    shards = input_shards(sources)
    mine = [s for i, s in enumerate(shards) if i % num_shards == shard_index]
    return [ShardJob(s, out / shard_name(s), input_signature(s), columns) for s in mine]


def read_shard_items(job: ShardJob) -> tuple[list[EditPair], list[tuple[str, str]]]:
    """The pairs of an input shard (each key once, in source order) and its items that failed: (item, reason)."""
    from editsearch.data.sources import iter_source

    pairs: list[EditPair] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    try:
        for item in iter_source(job.input, columns=job.columns):
            if isinstance(item, ItemError):
                errors.append((item.item, item.reason))
            elif item.key not in seen:
                seen.add(item.key)
                pairs.append(item)
    except (OSError, ValueError) as e:
        errors.append((str(job.input), f"cannot read source: {failure_reason(e)}"))
    return pairs, errors


def plan_pair(pair: EditPair, origin: str) -> Planned | tuple[str, str]:
    """A pair with the (size, mtime) of its two files, ready for PairDataset; or (item, reason) if one is gone."""
    try:
        return Planned(pair, origin, None, (pair.before.stat(), pair.after.stat()))
    except OSError as e:
        return pair.key, failure_reason(e)
