"""The Ray Data engine of `embed`: read shards in tasks, decode in CPU tasks, embed in an actor pool.

    shards ──flat_map(read_rows)──► pair rows ──map_batches(decode_batch)──► uint8 pixels
           ──map_batches(EmbedActor, concurrency, num_gpus)──► vectors ──► driver: write_shard per shard

Each shard ends with an `end` row carrying its item count, so the driver writes a shard as soon as all
its rows are back, whatever order Ray returns them in. Decoding is build-index's PairDataset (editsearch.pairs.loading)
item by item; the forward is the model's `embed_pair_tensors`. Ray is imported only here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from editsearch.core.errors import MissingDependencyError, ModelMismatchError
from editsearch.data.records import EditPair, ImageRef
from editsearch.pairs.loading import PairDataset, Planned, edit_row
from editsearch.scale.jobs import EmbedReport, EngineError, ShardJob, ShardResult, plan_pair, read_shard_items

DECODE_BATCH = 64  # pairs per decoding task call


def read_rows(
    item: dict[str, Any], inputs: Sequence[str], columns: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One shard -> a row per pair or failed item, then an `end` row with the count (flat_map)."""
    shard = int(item["shard"])
    pairs, errors = read_shard_items(ShardJob(Path(inputs[shard]), Path(), "", columns))
    rows = [_row(shard, pos, "pair", pair=p) for pos, p in enumerate(pairs)]
    rows += [_row(shard, len(rows) + n, "error", item=i, reason=r) for n, (i, r) in enumerate(errors)]
    return [*rows, _row(shard, len(rows), "end", count=len(rows))]


def _row(
    shard: int, pos: int, kind: str, pair: EditPair | None = None, item: str = "", reason: str = "", count: int = 0
) -> dict[str, Any]:
    """A row of the pair stream; every row has every column, so blocks share one schema."""
    return {
        "shard": shard,
        "pos": pos,
        "kind": kind,
        "before": pair.before.locator if pair else "",
        "after": pair.after.locator if pair else "",
        "source": pair.source if pair else "",
        "has_instruction": bool(pair and pair.instruction is not None),
        "instruction": (pair.instruction or "") if pair else "",
        "metadata": json.dumps(pair.metadata if pair else {}, ensure_ascii=False),
        "item": pair.key if pair else item,
        "reason": reason,
        "count": count,
    }


def _pair(batch: dict[str, np.ndarray], j: int) -> EditPair:
    """Row j of a batch back as an EditPair."""
    return EditPair(
        ImageRef.from_locator(str(batch["before"][j])),
        ImageRef.from_locator(str(batch["after"][j])),
        str(batch["instruction"][j]) if batch["has_instruction"][j] else None,
        json.loads(str(batch["metadata"][j])),
        str(batch["source"][j]),
    )


def decode_batch(batch: dict[str, np.ndarray], transform: Any, size: int, inputs: Sequence[str]) -> dict[str, Any]:
    """Stat, hash, decode and resize the pairs of a batch (CPU tasks): adds `pixels`, `row` (JSON) and `ok`."""
    n = len(batch["kind"])
    pixels = np.zeros((n, 6, size, size), np.uint8)
    ok = np.zeros(n, bool)
    rows = [""] * n
    reasons = [str(r) for r in batch["reason"]]
    for j in range(n):
        if batch["kind"][j] != "pair":
            continue
        entry = plan_pair(_pair(batch, j), inputs[int(batch["shard"][j])])
        if not isinstance(entry, Planned):
            reasons[j] = entry[1]
            continue
        _, pix, hashes, err = PairDataset([entry], transform.pixels, size)[0]
        if err is not None or hashes is None:
            reasons[j] = err or "cannot hash"
            continue
        pixels[j], ok[j], rows[j] = pix.numpy(), True, json.dumps(edit_row(entry, hashes), ensure_ascii=False)
    out = {k: batch[k] for k in ("shard", "pos", "kind", "item", "count")}
    return {**out, "reason": np.asarray(reasons, object), "row": np.asarray(rows, object), "ok": ok, "pixels": pixels}


class EmbedActor:
    """One model replica (on a GPU when the actor has one): pixels -> vectors (map_batches callable class)."""

    def __init__(self, model: str, fingerprint: str, threads: int):
        import torch

        from editsearch.encoder import load_model

        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(model)
        if self.model.fingerprint != fingerprint:
            raise ModelMismatchError(
                f"model {model!r} on a Ray worker has fingerprint {self.model.fingerprint[:12]}, on the driver "
                f"{fingerprint[:12]}: give every node the same weights under that name"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        import torch

        ok = batch["ok"]
        vectors = np.zeros((len(ok), self.model.embed_dim), np.float32)
        if ok.any():
            vectors[ok] = self.model.embed_pair_tensors(torch.from_numpy(np.ascontiguousarray(batch["pixels"][ok])))
        return {k: v for k, v in batch.items() if k != "pixels"} | {"vector": vectors}


def embed_ray(
    jobs: Sequence[ShardJob], model: Any, batch_size: int, address: str | None, bar: Any, report: EmbedReport
) -> Iterator[ShardResult]:
    """Run the shards through Ray Data (joining the cluster at `address`, else a local Ray) and yield each."""
    import logging

    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            'the Ray engine needs Ray Data: pip install "editsearch[ray]" (or use --engine local)'
        ) from None

    start = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False  # ours show pairs and shards
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    actors = gpus or 1
    report.startup_seconds = time.perf_counter() - start
    inputs = [str(job.input) for job in jobs]
    ds = ray.data.from_items([{"shard": i} for i in range(len(jobs))], override_num_blocks=len(jobs))
    columns = dict(jobs[0].columns) if jobs and jobs[0].columns else None
    ds = ds.flat_map(read_rows, fn_kwargs={"inputs": inputs, "columns": columns})
    ds = ds.map_batches(
        decode_batch,
        fn_kwargs={"transform": model.pair_transform, "size": model.config.image_size, "inputs": inputs},
        batch_size=DECODE_BATCH,
        batch_format="numpy",
    )
    ds = ds.map_batches(
        EmbedActor,
        fn_constructor_kwargs={
            "model": _loadable_name(model),
            "fingerprint": model.fingerprint,
            "threads": 0 if gpus else max(1, cpus // actors),  # a CPU actor uses the cores, as build-index does
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
        num_gpus=1 if gpus else 0,
        # host memory to load a replica; as a resource the decoding tasks do not ask for, it also keeps Ray
        # from fusing the decoding into the actors, which would serialise it with the forward
        memory=2 * sum(p.numel() * p.element_size() for p in model.parameters()) + 2**30,
    )
    yield from _collect(ds, jobs, bar)


def _collect(ds: Any, jobs: Sequence[ShardJob], bar: Any) -> Iterator[ShardResult]:
    """Gather rows per shard and yield a shard once its `end` row and all its items are back."""
    found: dict[int, list[tuple[int, dict[str, Any], np.ndarray]]] = {i: [] for i in range(len(jobs))}
    failed: dict[int, list[tuple[int, str, str]]] = {i: [] for i in range(len(jobs))}
    expected: dict[int, int] = {}
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        touched = set()
        for j in range(len(batch["kind"])):
            shard, pos, kind = int(batch["shard"][j]), int(batch["pos"][j]), str(batch["kind"][j])
            touched.add(shard)
            if kind == "end":
                expected[shard] = int(batch["count"][j])
                continue
            bar.update(1)
            if batch["ok"][j]:
                found[shard].append((pos, json.loads(str(batch["row"][j])), batch["vector"][j]))
            else:
                failed[shard].append((pos, str(batch["item"][j]), str(batch["reason"][j])))
        for shard in touched:
            if expected.get(shard) == len(found[shard]) + len(failed[shard]):
                yield _result(jobs[shard], found.pop(shard), failed.pop(shard))
    if found:
        missing = ", ".join(str(jobs[s].input) for s in list(found)[:3])
        raise EngineError(
            f"Ray returned incomplete results for {len(found)} shard(s): {missing}; run the same command again "
            "to embed them (finished shards are kept)"
        )


def _result(
    job: ShardJob, found: list[tuple[int, dict[str, Any], np.ndarray]], failed: list[tuple[int, str, str]]
) -> ShardResult:
    """A shard's rows in source order, as the local engine yields them."""
    found.sort(key=lambda t: t[0])
    failed.sort(key=lambda t: t[0])
    vectors = np.stack([v for _, _, v in found]).astype(np.float32) if found else np.zeros((0, 0), np.float32)
    return ShardResult(job, [r for _, r, _ in found], vectors, [(i, r) for _, i, r in failed])


def _loadable_name(model: Any) -> str:
    """The name a worker loads the model by: a registry name, or a model folder's absolute path."""
    name = str(model.name)
    return str(Path(name).expanduser().resolve()) if Path(name).expanduser().exists() else name
