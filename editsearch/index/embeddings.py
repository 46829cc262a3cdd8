"""Fill an index's catalog from embeddings shards (`embed`'s output), with no image forward.

Incremental like a build: the catalog remembers, per shard file, the id of the write it applied
(setting `embeddings:<file name>`); a shard with the same id is skipped whole, a changed one is applied
row by row (an unchanged pair, same content hashes, sizes and mtimes, keeps its vector), and the edits
of a shard's input that the shard no longer lists are tombstoned, as are all the edits of a shard that
is gone. It streams: one parquet batch of one shard is in memory at a time. It works on the catalog
alone; `EditIndex.sync_embeddings` drives it, then, as a build does, embeds the instructions that have no
vector yet with the index model's text tower (editsearch.index.instructions) and refreshes FAISS.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from editsearch.core.errors import ModelMismatchError
from editsearch.index.build import BuildReport, removed_reason
from editsearch.index.errors import EditIndexError
from editsearch.index.unit_vectors import row_problems
from editsearch.pairs.shards import ShardError, ShardMeta, iter_shard, read_meta, shard_files, vector_dim

if TYPE_CHECKING:
    from editsearch.index.catalog import Catalog

APPLIED_PREFIX = "embeddings:"  # settings key prefix: shard file name -> {"id", "origin", "refused"} it applied

Refusal = tuple[str, str, str]  # (origin, item, reason), as a BuildReport error


def check_shards(catalog: Catalog, directory: Path) -> tuple[list[tuple[Path, ShardMeta]], list[Refusal]]:
    """The shards of `directory` to apply, and those refused whole: vectors of another dimension than the index's.

    Shards of another model are refused (ModelMismatchError) before anything changes.
    """
    if not directory.is_dir():
        raise EditIndexError(f"no embeddings directory at {directory}")
    try:
        shards = [(path, read_meta(path), vector_dim(path)) for path in shard_files(directory)]
    except ShardError as e:
        raise EditIndexError(str(e)) from None
    info = catalog.model()
    expected = (info["fingerprint"], info["name"], "this index") if info else None
    for path, meta, _ in shards:
        if expected is None:
            expected = (meta.fingerprint, meta.model, path.name)
        elif meta.fingerprint != expected[0]:
            raise ModelMismatchError(
                f"embeddings shard {path.name} was made with model '{meta.model}' (fingerprint "
                f"{meta.fingerprint[:12]}), but {expected[2]} holds vectors of '{expected[1]}' (fingerprint "
                f"{expected[0][:12]}): they are not comparable. Re-embed it with that model, or build a new index."
            )
    agreeing = Counter(m.dim for _, m, width in shards if width == m.dim)  # an empty index takes the usual one
    dim = info["dim"] if info else agreeing.most_common(1)[0][0] if agreeing else None
    good, refused = [], []
    for path, meta, width in shards:
        if width == meta.dim == dim:
            good.append((path, meta))
            continue
        holder = "this index holds" if info else "the other shards hold"
        why = f"its metadata says {meta.dim}" if width != meta.dim else f"{holder} {dim}-d vectors"
        reason = f"its vectors have {width} values but {why}: refused whole, nothing from it is stored; embed it again"
        refused.append((meta.input, str(path), reason))
    return good, refused


def apply_shards(catalog: Catalog, directory: str | Path, progress: bool = False) -> BuildReport:
    """Apply the shards of `directory` to a writable catalog (binding it to their model if it has none).

    A shard of another dimension is refused whole and a row that is not a finite unit vector is refused
    alone (editsearch.index.unit_vectors), each a failed item; the rest is applied.
    """
    from tqdm import tqdm

    directory = Path(directory)
    shards, refused = check_shards(catalog, directory)
    report = BuildReport(errors=list(refused))
    if shards and catalog.model() is None:
        meta = shards[0][1]
        catalog.bind_model(meta.model, meta.fingerprint, meta.dim, meta.trained, meta.config)
    applied = {key[len(APPLIED_PREFIX) :]: json.loads(value) for key, value in catalog.settings(APPLIED_PREFIX)}
    names = {path.name for path in shard_files(directory)}
    for name, record in applied.items():
        if name not in names:  # the shard is gone: so are its edits
            report.removed += catalog.tombstone(
                list(catalog.live_ids_for_origin(record["origin"]).values()), "vanished"
            )
            catalog.delete_setting(APPLIED_PREFIX + name)
    total = sum(meta.pairs for _, meta in shards)
    with tqdm(total=total, desc="loading shards", unit="pair", file=sys.stderr, disable=not progress) as bar:
        for path, meta in shards:
            report.errors.extend((meta.input, item, reason) for item, reason in meta.errors)
            record = applied.get(path.name, {})
            if record.get("id") == meta.shard_id:
                report.skipped += meta.pairs - len(record.get("refused", []))
                report.errors.extend((meta.input, str(item), str(reason)) for item, reason in record.get("refused", []))
                bar.update(meta.pairs)
            else:
                rows = _apply(catalog, path, meta, report, bar)
                record = {"id": meta.shard_id, "origin": meta.input, "refused": rows}
                catalog.set_setting(APPLIED_PREFIX + path.name, json.dumps(record))
    report.failed = len(report.errors)
    catalog.replace_errors(report.errors)
    return report


def _apply(catalog: Catalog, path: Path, meta: ShardMeta, report: BuildReport, bar: Any) -> list[tuple[str, str]]:
    """Apply one shard: save new or changed pairs with their vectors, skip unchanged ones, sweep vanished.

    Returns the rows refused for their vector, as (item, reason), also added to the report's errors.
    """
    keys: set[str] = set()
    updates: list[tuple[int, str | None, dict[str, Any], str]] = []
    refused: list[tuple[str, str]] = []
    start = 0
    for rows, vectors in iter_shard(path):
        bad = row_problems(vectors)
        refused += [(f"{path} row {start + n} ({rows[n]['key']})", reason) for n, reason in sorted(bad.items())]
        existing = catalog.rows_by_keys([r["key"] for r in rows], meta.fingerprint)
        save, blobs = [], []
        for n, (row, vector) in enumerate(zip(rows, vectors, strict=True)):
            if n in bad:
                continue
            keys.add(row["key"])
            old = existing.get(row["key"])
            if old is not None and old["deleted"] and old["deleted_reason"] == "removed":
                report.skip(meta.input, f"{path} row {start + n} ({row['key']})", removed_reason(old["id"]))
            elif old is not None and not old["deleted"] and old["vector_id"] is not None and _unchanged(old, row):
                report.skipped += 1
                text = (row["instruction"], row["metadata"], row["origin"])
                if (old["instruction"], old["metadata"], old["origin"]) != text:
                    updates.append((old["id"], *text))
            else:
                save.append(row)
                blobs.append(vector.tobytes())
                if old is not None and not old["deleted"]:
                    report.updated += 1
                else:
                    report.added += 1
        catalog.save_edits(save, blobs, meta.fingerprint)
        report.reused += len(save)
        bar.update(len(rows))
        start += len(rows)
    catalog.update_texts(updates)
    vanished = [i for key, i in catalog.live_ids_for_origin(meta.input).items() if key not in keys]
    report.removed += catalog.tombstone(vanished, "vanished")  # a refused row's edit goes too: its vector is bad
    report.errors.extend((meta.input, item, reason) for item, reason in refused)
    return refused


def _unchanged(old: dict[str, Any], row: dict[str, Any]) -> bool:
    """Same image bytes (content hashes) and the same file sizes and mtimes as the catalog's row."""
    fields = ("before_hash", "after_hash", "before_size", "before_mtime", "after_size", "after_mtime")
    return all(old[f] == row[f] for f in fields)
