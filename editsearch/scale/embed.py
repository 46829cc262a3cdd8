"""`embed`: turn input shards into embeddings shards, on the local engine (a DataLoader) or on Ray Data.

Both engines read pairs with the sources' readers, hash, decode and resize them with the PairDataset
build-index uses (editsearch.pairs.loading; the model's own `pair_transform.pixels`), run
`embed_pair_tensors` in batches, and write through `write_shard` (editsearch.pairs.shards): the vectors
are the ones build-index would store. A finished shard is skipped
by a rerun (same model fingerprint, same input signature), so a killed job resumes where it stopped.
`shard_index` / `num_shards` split the shards between independent workers (a Slurm array job).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.core.errors import UsageError
from editsearch.pairs.loading import PairDataset, Planned, collate_loaded, default_workers, edit_row
from editsearch.pairs.shards import ShardMeta, is_complete, read_meta, remove_stale_temps, write_shard
from editsearch.scale.jobs import EmbedReport, ShardJob, ShardResult, plan_jobs, plan_pair, read_shard_items

ENGINES = ("local", "ray")
CPU_BATCH = 32  # pairs per forward on a CPU (build-index's default)
GPU_BATCH = 256  # pairs per forward on a GPU


def shard_meta(model: Any, job: ShardJob, errors: list[tuple[str, str]]) -> ShardMeta:
    """The metadata of a shard embedded by `model`."""
    name = model.name
    if Path(name).expanduser().exists():  # a model folder: recorded absolutely, as build-index does
        name = str(Path(name).expanduser().resolve())
    return ShardMeta(
        model=name,
        fingerprint=model.fingerprint,
        dim=model.embed_dim,
        trained=bool(model.trained),
        config=model.config_dict(),
        input=str(job.input),
        signature=job.signature,
        errors=errors,
    )


def embed_local(
    jobs: Sequence[ShardJob], model: Any, batch_size: int, workers: int | None, bar: Any
) -> Iterator[ShardResult]:
    """Embed each shard in this process: a pipelined DataLoader per shard, as build-index runs it."""
    from torch.utils.data import DataLoader

    for job in jobs:
        pairs, errors = read_shard_items(job)
        not_loaded = len(errors)  # items that never reach the loader, for the progress bar
        planned: list[Planned] = []
        for pair in pairs:
            entry = plan_pair(pair, str(job.input))
            if isinstance(entry, Planned):
                planned.append(entry)
            else:
                errors.append(entry)
        n_workers = default_workers(model.device.type) if workers is None else workers
        n_workers = n_workers if len(planned) > batch_size else 0
        loader = DataLoader(
            PairDataset(planned, model.pair_transform.pixels, model.config.image_size),
            batch_size=batch_size,
            num_workers=n_workers,
            collate_fn=collate_loaded,
            prefetch_factor=4 if n_workers else None,
        )
        rows, vectors = [], []
        for batch in loader:
            errors.extend((planned[i].pair.key, reason) for i, reason in batch.failed)
            if batch.pixels is not None:
                vectors.append(model.embed_pair_tensors(batch.pixels).numpy())
                rows.extend(edit_row(planned[i], h) for i, h in zip(batch.ok, batch.hashes, strict=True))
            bar.update(len(batch))
        bar.update(not_loaded + len(pairs) - len(planned))
        mat = np.concatenate(vectors) if vectors else np.zeros((0, model.embed_dim), np.float32)
        yield ShardResult(job, rows, mat, errors)


def embed_sources(
    sources: Sequence[str | Path],
    out: str | Path,
    model: Any,
    *,
    engine: str = "local",
    batch_size: int | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
    progress: bool = False,
    columns: Mapping[str, str] | None = None,
) -> EmbedReport:
    """Embed every input shard of `sources` (this worker's share) into `out`; finished shards are skipped.

    `columns` names the columns of tables no preset fits ({role: column}, see editsearch.data.layouts).
    """
    from tqdm import tqdm

    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    jobs = plan_jobs(sources, out, shard_index, num_shards, columns)
    report = EmbedReport(shards=len(jobs))
    todo = []
    for job in jobs:
        if is_complete(job.output, model.fingerprint, job.signature):
            report.skipped_shards += 1
            report.errors.extend((str(job.input), item, reason) for item, reason in read_meta(job.output).errors)
        else:
            todo.append(job)
    batch = batch_size or (GPU_BATCH if model.device.type == "cuda" else CPU_BATCH)
    total = sum(_count(job.input, columns) for job in todo)
    with (
        tqdm(
            total=len(jobs),
            initial=report.skipped_shards,
            desc="shards",
            unit="shard",
            file=sys.stderr,
            disable=not progress,
            position=0,
        ) as shard_bar,
        tqdm(total=total, desc="pairs", unit="pair", file=sys.stderr, disable=not progress, position=1) as pair_bar,
    ):
        if engine == "ray" and todo:
            from editsearch.scale.ray_engine import embed_ray

            results = embed_ray(todo, model, batch, ray_address, pair_bar, report)
        else:
            results = embed_local(todo, model, batch, workers, pair_bar)
        for result in results:
            write_shard(result.job.output, shard_meta(model, result.job, result.errors), result.rows, result.vectors)
            report.embedded_shards += 1
            report.pairs += len(result.rows)
            report.errors.extend((str(result.job.input), item, reason) for item, reason in result.errors)
            shard_bar.set_postfix_str(
                f"{result.job.output.name}: {len(result.rows)} pairs, {len(result.errors)} failed"
            )
            shard_bar.update(1)
    report.failed = len(report.errors)
    report.seconds = time.perf_counter() - start
    return report


def _count(path: Path, columns: Mapping[str, str] | None) -> int:
    """Items of an input shard, for the progress bar (0 if unknown)."""
    from editsearch.data.sources import count_source

    return count_source(path, columns) or 0
